//! A flat, contiguous copy of the quantized vectors, one row per product, for the two exact paths of a
//! search: ranking a selectively filtered set and the ranker's cosine feature for every candidate.
//!
//! Why a copy: fetching rows one by one from the graph index costs a hash lookup and a copy across the
//! C++ bridge each (a quarter of an uncached search's vector time, by profile). Here a row is one
//! `FxHashMap` probe and a slice; 100,000 products × 384 dimensions is 38 MB.

use rustc_hash::FxHashMap;

/// Rows of int8 vectors addressed by product key, with their norms precomputed.
pub(crate) struct FlatVectors {
    dimensions: usize,
    slot_of: FxHashMap<u64, u32>,
    data: Vec<i8>,
    norms: Vec<f32>,
    free: Vec<u32>,
}

/// The integer dot product: 32 products per instruction with AVX-512 (`vpmaddwd` on sign-extended
/// halves) where the CPU has it, else the portable loop the compiler vectorises for AVX2. Integer sums
/// are exact, so both give the same answer.
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        // SAFETY: the CPU features were detected just above.
        return unsafe { avx512::dot(a, b) };
    }
    dot_i8_portable(a, b)
}

/// Asks the cache for the `len` bytes at `row` (a hint: no effect off x86-64, never a fault).
fn prefetch_row(row: *const i8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    for offset in (0..len).step_by(64) {
        // SAFETY: prefetching is a hint that never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                row.wrapping_add(offset),
                std::arch::x86_64::_MM_HINT_T0,
            )
        };
    }
}

/// The portable dot product (widening multiply-add).
fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| i32::from(x) * i32::from(y))
        .sum()
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    /// Whether this CPU has AVX-512 F and BW (checked once).
    pub(super) fn available() -> bool {
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bw")
        })
    }

    /// `Σ a[i]·b[i]` over the common length, 32 components a step.
    ///
    /// # Safety
    /// The CPU supports `avx512f` and `avx512bw`.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn dot(a: &[i8], b: &[i8]) -> i32 {
        let n = a.len().min(b.len());
        let whole = n / 32 * 32;
        let mut acc = _mm512_setzero_si512();
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        for i in (0..whole).step_by(32) {
            let x = _mm512_cvtepi8_epi16(_mm256_loadu_si256(pa.add(i) as *const __m256i));
            let y = _mm512_cvtepi8_epi16(_mm256_loadu_si256(pb.add(i) as *const __m256i));
            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(x, y));
        }
        _mm512_reduce_add_epi32(acc) + super::dot_i8_portable(&a[whole..n], &b[whole..n])
    }
}

impl FlatVectors {
    /// An empty store for vectors of `dimensions` components.
    pub(crate) fn new(dimensions: usize) -> Self {
        Self {
            dimensions,
            slot_of: FxHashMap::default(),
            data: Vec::new(),
            norms: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Adds or replaces a product's row (`v` must have `dimensions` components).
    pub(crate) fn insert(&mut self, key: u64, v: &[i8]) {
        debug_assert_eq!(v.len(), self.dimensions);
        let norm = (dot_i8(v, v) as f32).sqrt();
        let slot = match self.slot_of.get(&key).copied().or_else(|| self.free.pop()) {
            Some(s) => s,
            None => {
                self.data.resize(self.data.len() + self.dimensions, 0);
                self.norms.push(0.0);
                (self.norms.len() - 1) as u32
            }
        };
        let at = slot as usize * self.dimensions;
        self.data[at..at + self.dimensions].copy_from_slice(v);
        self.norms[slot as usize] = norm;
        self.slot_of.insert(key, slot);
    }

    /// Forgets a product's row (its slot is reused).
    pub(crate) fn remove(&mut self, key: u64) {
        if let Some(slot) = self.slot_of.remove(&key) {
            self.free.push(slot);
        }
    }

    /// Drops every row.
    pub(crate) fn clear(&mut self) {
        *self = Self::new(self.dimensions);
    }

    fn row(&self, key: u64) -> Option<(&[i8], f32)> {
        let slot = *self.slot_of.get(&key)? as usize;
        let norm = self.norms[slot];
        (norm > 0.0).then(|| {
            let at = slot * self.dimensions;
            (&self.data[at..at + self.dimensions], norm)
        })
    }

    /// The rows of `keys` (those with a vector, in order), found in one tight loop: the map probes are
    /// independent cache misses the processor overlaps, where probing inside the scoring loop waits for
    /// each in turn.
    pub(crate) fn locate(&self, keys: &[u64]) -> Vec<(u64, u32)> {
        keys.iter()
            .filter_map(|&k| {
                let slot = *self.slot_of.get(&k)?;
                (self.norms[slot as usize] > 0.0).then_some((k, slot))
            })
            .collect()
    }

    /// Cosine of an int8 query (with its norm) and a row found by [`Self::locate`].
    pub(crate) fn cosine_i8_at(&self, query: &[i8], query_norm: f32, slot: u32) -> f32 {
        let at = slot as usize * self.dimensions;
        let dot = dot_i8(query, &self.data[at..at + self.dimensions]) as f32;
        dot / (query_norm * self.norms[slot as usize])
    }

    /// Cosines of an int8 query (with its norm) and rows found by [`Self::locate`], in their order.
    /// Rows are scattered over the whole store (38 MB for 100,000 products, more than the L3), so each
    /// is asked for a few rows ahead of its turn and its lines arrive while earlier rows are scored.
    pub(crate) fn cosines_i8(
        &self,
        query: &[i8],
        query_norm: f32,
        located: &[(u64, u32)],
    ) -> Vec<(u64, f32)> {
        const AHEAD: usize = 6;
        let row_ptr = |slot: u32| {
            self.data
                .as_ptr()
                .wrapping_add(slot as usize * self.dimensions)
        };
        located
            .iter()
            .enumerate()
            .map(|(i, &(key, slot))| {
                if let Some(&(_, later)) = located.get(i + AHEAD) {
                    prefetch_row(row_ptr(later), self.dimensions);
                }
                (key, self.cosine_i8_at(query, query_norm, slot))
            })
            .collect()
    }

    /// Cosine of a float query and a stored row (the row's scale cancels out).
    pub(crate) fn cosine_f32(&self, query: &[f32], query_norm: f32, key: u64) -> Option<f32> {
        let (row, norm) = self.row(key)?;
        let dot: f32 = query.iter().zip(row).map(|(&q, &r)| q * f32::from(r)).sum();
        (query_norm > 0.0).then(|| dot / (query_norm * norm))
    }

    /// Bytes held.
    pub(crate) fn memory_bytes(&self) -> usize {
        self.data.capacity() + self.norms.capacity() * 4 + self.slot_of.capacity() * 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl FlatVectors {
        /// One product's cosine through the serving path (`None` without a vector).
        fn cosine_i8(&self, query: &[i8], query_norm: f32, key: u64) -> Option<f32> {
            let (_, slot) = self.locate(&[key]).pop()?;
            Some(self.cosine_i8_at(query, query_norm, slot))
        }
    }

    #[test]
    fn the_vector_dot_product_equals_the_portable_one() {
        let mut seed = 11u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8 as i8
        };
        for len in [0, 1, 31, 32, 33, 384, 397] {
            let a: Vec<i8> = (0..len).map(|_| next()).collect();
            let b: Vec<i8> = (0..len).map(|_| next()).collect();
            assert_eq!(dot_i8(&a, &b), dot_i8_portable(&a, &b), "length {len}");
        }
        // The extremes: -128 · -128 summed over a whole row must not wrap.
        let low = vec![-128i8; 384];
        assert_eq!(dot_i8(&low, &low), 384 * 16_384);
    }

    #[test]
    fn rows_are_replaced_removed_and_their_slots_reused() {
        let mut f = FlatVectors::new(3);
        f.insert(7, &[3, 4, 0]);
        f.insert(9, &[0, 0, 5]);
        let q = [3i8, 4, 0];
        assert!((f.cosine_i8(&q, 5.0, 7).unwrap() - 1.0).abs() < 1e-6);
        let found = f.locate(&[9, 8, 7]);
        assert_eq!(found.iter().map(|x| x.0).collect::<Vec<_>>(), [9, 7]);
        assert!((f.cosine_i8_at(&q, 5.0, found[1].1) - 1.0).abs() < 1e-6);
        assert_eq!(f.cosine_i8(&q, 5.0, 9), Some(0.0));
        f.insert(7, &[0, 0, 2]);
        assert_eq!(f.cosine_i8(&q, 5.0, 7), Some(0.0));
        f.remove(9);
        assert_eq!(f.cosine_i8(&q, 5.0, 9), None);
        f.insert(11, &[4, 3, 0]);
        assert_eq!(f.norms.len(), 2, "the removed slot is reused");
        let c = f.cosine_f32(&[0.6, 0.8, 0.0], 1.0, 11).unwrap();
        assert!((c - 0.96).abs() < 1e-6);
    }
}
