//! Dot products of quantized weight rows with quantized activation rows, computed in register tiles.
//!
//! A tile is R weight rows × T activation rows: each weight block is unpacked once for T activations and
//! each activation block loaded once for R rows, and the R·T accumulators are independent, so the fused
//! multiply-adds do not wait on each other. Decoding one sequence uses 4×1 tiles; prompts and several
//! sequences at once use 2×4. The SIMD path needs AVX2, FMA and F16C, which the build targets
//! (`.cargo/config.toml`); other builds use the portable loops, which are also the tests' reference.

use super::quant::{half, ActBlock, BlockQ4_1, BlockQ8_0};
use rayon::prelude::*;

/// A block of 32 quantized weights.
pub trait WeightBlock: Copy + Send + Sync {
    /// Exact integer dot product of the codes with an activation block's codes, times the scales, plus
    /// the minimum's term (what the portable path computes).
    #[allow(dead_code)] // SIMD builds use it only in tests
    fn dot(&self, a: &ActBlock) -> f32;
}

impl WeightBlock for BlockQ4_1 {
    fn dot(&self, a: &ActBlock) -> f32 {
        let mut sum = 0i32;
        for j in 0..16 {
            sum += i32::from(self.qs[j] & 0x0F) * i32::from(a.qs[j]);
            sum += i32::from(self.qs[j] >> 4) * i32::from(a.qs[j + 16]);
        }
        half(self.d) * a.d * sum as f32 + half(self.m) * a.s
    }
}

impl WeightBlock for BlockQ8_0 {
    fn dot(&self, a: &ActBlock) -> f32 {
        let sum: i32 = self
            .qs
            .iter()
            .zip(&a.qs)
            .map(|(&x, &y)| i32::from(x) * i32::from(y))
            .sum();
        half(self.d) * a.d * sum as f32
    }
}

/// Reference: `out[t·rows + r] = Σ_k W[r][k] · A[t][k]` with the portable dot product.
#[cfg(test)]
pub fn matmul_scalar<B: WeightBlock>(
    blocks: &[B],
    rows: usize,
    per: usize,
    acts: &[ActBlock],
    out: &mut [f32],
) {
    let batch = acts.len() / per;
    for t in 0..batch {
        let a = &acts[t * per..(t + 1) * per];
        for r in 0..rows {
            out[t * rows + r] = blocks[r * per..(r + 1) * per]
                .iter()
                .zip(a)
                .map(|(w, x)| w.dot(x))
                .sum();
        }
    }
}

/// `out[t·rows + r] = W[r] · A[t]`, rows split over the rayon pool.
pub fn matmul<B: Kernel>(
    blocks: &[B],
    rows: usize,
    per: usize,
    acts: &[ActBlock],
    out: &mut [f32],
) {
    let batch = acts.len() / per;
    debug_assert_eq!(out.len(), batch * rows);
    debug_assert_eq!(blocks.len(), rows * per);
    if batch == 0 {
        return;
    }
    // Work in [row][t] order so each task owns a contiguous slice, then transpose.
    let mut by_row = vec![0f32; rows * batch];
    let rows_per_task = rows
        .div_ceil(rayon::current_num_threads() * 4)
        .next_multiple_of(4)
        .max(16);
    by_row
        .par_chunks_mut(rows_per_task * batch)
        .enumerate()
        .for_each(|(task, chunk)| {
            let first = task * rows_per_task;
            let count = chunk.len() / batch;
            rows_into(
                &blocks[first * per..(first + count) * per],
                per,
                acts,
                chunk,
            );
        });
    for (r, row) in by_row.chunks_exact(batch).enumerate() {
        for (t, &v) in row.iter().enumerate() {
            out[t * rows + r] = v;
        }
    }
}

/// Every row of `blocks` × every activation row, into `out` in [row][t] order, tile by tile.
#[inline(always)]
fn rows_into_with<B: Kernel, D: Dot>(blocks: &[B], per: usize, acts: &[ActBlock], out: &mut [f32]) {
    let batch = acts.len() / per;
    let count = blocks.len() / per;
    let row = |r: usize| &blocks[r * per..(r + 1) * per];
    let act = |t: usize| &acts[t * per..(t + 1) * per];
    macro_rules! run {
        ($r:expr, $t:expr, $R:literal, $T:literal) => {{
            let tile = tile::<B, D, $R, $T>(
                std::array::from_fn(|i| row($r + i)),
                std::array::from_fn(|j| act($t + j)),
            );
            for (i, values) in tile.iter().enumerate() {
                let at = ($r + i) * batch + $t;
                out[at..at + $T].copy_from_slice(values);
            }
        }};
    }
    let mut r = 0;
    while r < count {
        let rows_here = if batch >= 4 {
            (count - r).min(2)
        } else if count - r >= 4 {
            4
        } else {
            1
        };
        let mut t = 0;
        while t < batch {
            let wide = batch - t >= 4;
            match (rows_here, wide) {
                (2, true) => run!(r, t, 2, 4),
                (1, true) => run!(r, t, 1, 4),
                (4, _) => run!(r, t, 4, 1),
                (2, false) => run!(r, t, 2, 1),
                _ => run!(r, t, 1, 1),
            }
            t += if wide { 4 } else { 1 };
        }
        r += rows_here;
    }
}

#[cfg(not(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma",
    target_feature = "f16c"
)))]
mod portable {
    use super::{rows_into_with, ActBlock, WeightBlock};

    /// What the tiled matmul needs of a block.
    pub trait Kernel: WeightBlock {}
    impl<B: WeightBlock> Kernel for B {}

    /// The portable path has one way to multiply.
    pub trait Dot {}
    /// The only [`Dot`] here.
    pub struct Plain;
    impl Dot for Plain {}

    /// Every row × every activation row.
    #[inline(never)]
    pub fn rows_into<B: Kernel>(blocks: &[B], per: usize, acts: &[ActBlock], out: &mut [f32]) {
        rows_into_with::<B, Plain>(blocks, per, acts, out)
    }

    /// R×T dot products with the portable loops.
    pub fn tile<B: Kernel, D: Dot, const R: usize, const T: usize>(
        w: [&[B]; R],
        a: [&[ActBlock]; T],
    ) -> [[f32; T]; R] {
        std::array::from_fn(|r| {
            std::array::from_fn(|t| w[r].iter().zip(a[t]).map(|(x, y)| x.dot(y)).sum())
        })
    }
}

#[cfg(not(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma",
    target_feature = "f16c"
)))]
use portable::{rows_into, tile, Dot, Kernel};

#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma",
    target_feature = "f16c"
))]
mod avx2 {
    use super::{half, rows_into_with, ActBlock, BlockQ4_1, BlockQ8_0, WeightBlock};
    use std::{arch::x86_64::*, sync::OnceLock};

    /// How eight i32 sums of unsigned-byte × signed-byte products are formed.
    pub trait Dot {
        /// Σ of 4 adjacent u8·i8 products per i32 lane.
        fn products(unsigned: __m256i, signed: __m256i) -> __m256i;
    }

    /// AVX2: `maddubs` (pairs to i16) then `madd` (pairs to i32).
    pub struct Maddubs;
    impl Dot for Maddubs {
        #[inline(always)]
        fn products(unsigned: __m256i, signed: __m256i) -> __m256i {
            // SAFETY: register-only avx2 operations (the build enables avx2).
            unsafe {
                _mm256_madd_epi16(_mm256_maddubs_epi16(unsigned, signed), _mm256_set1_epi16(1))
            }
        }
    }

    /// AVX-512 VNNI on 256-bit registers: one `vpdpbusd` does both steps.
    pub struct Vnni;
    impl Dot for Vnni {
        #[inline(always)]
        fn products(unsigned: __m256i, signed: __m256i) -> __m256i {
            // SAFETY: only reached through `rows_into_vnni`, entered after detecting the features.
            unsafe { _mm256_dpbusd_epi32(_mm256_setzero_si256(), unsigned, signed) }
        }
    }

    fn has_vnni() -> bool {
        static VNNI: OnceLock<bool> = OnceLock::new();
        *VNNI.get_or_init(|| {
            std::arch::is_x86_feature_detected!("avx512vnni")
                && std::arch::is_x86_feature_detected!("avx512vl")
        })
    }

    /// Every row × every activation row, with VNNI where the CPU has it.
    #[inline(never)]
    pub fn rows_into<B: Kernel>(blocks: &[B], per: usize, acts: &[ActBlock], out: &mut [f32]) {
        if has_vnni() {
            // SAFETY: the CPU has avx512vnni and avx512vl (checked above).
            unsafe { rows_into_vnni(blocks, per, acts, out) }
        } else {
            rows_into_with::<B, Maddubs>(blocks, per, acts, out)
        }
    }

    #[target_feature(enable = "avx512vnni,avx512vl")]
    unsafe fn rows_into_vnni<B: Kernel>(
        blocks: &[B],
        per: usize,
        acts: &[ActBlock],
        out: &mut [f32],
    ) {
        rows_into_with::<B, Vnni>(blocks, per, acts, out)
    }

    /// How far ahead of the block being multiplied its row is prefetched.
    const PREFETCH_BYTES: usize = 384;

    /// What the tiled matmul needs of a block: its codes unpacked into a register, and the products of
    /// those codes with activation codes as eight i32 partial sums.
    pub trait Kernel: WeightBlock {
        /// The codes, ready for `products`.
        type Unpacked: Copy;
        /// Loads and unpacks the codes.
        fn unpack(&self) -> Self::Unpacked;
        /// Σ code·activation code, in eight lanes.
        fn products<D: Dot>(w: Self::Unpacked, a: __m256i) -> __m256i;
        /// The block's scale.
        fn scale(&self) -> f32;
        /// The block's minimum (0 for symmetric blocks).
        fn minimum(&self) -> f32;
    }

    impl Kernel for BlockQ4_1 {
        type Unpacked = __m256i;
        #[inline(always)]
        fn unpack(&self) -> __m256i {
            // SAFETY: the build enables avx2; the load reads the block's 16 code bytes.
            unsafe {
                let bytes = _mm_loadu_si128(self.qs.as_ptr().cast());
                let low = _mm_set1_epi8(0x0F);
                let lo = _mm_and_si128(bytes, low);
                let hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low);
                _mm256_set_m128i(hi, lo)
            }
        }
        #[inline(always)]
        fn products<D: Dot>(w: __m256i, a: __m256i) -> __m256i {
            D::products(w, a)
        }
        #[inline(always)]
        fn scale(&self) -> f32 {
            half(self.d)
        }
        #[inline(always)]
        fn minimum(&self) -> f32 {
            half(self.m)
        }
    }

    impl Kernel for BlockQ8_0 {
        type Unpacked = (__m256i, __m256i);
        #[inline(always)]
        fn unpack(&self) -> (__m256i, __m256i) {
            // SAFETY: the build enables avx2; the load reads the block's 32 code bytes.
            unsafe {
                let w = _mm256_loadu_si256(self.qs.as_ptr().cast());
                (_mm256_sign_epi8(w, w), w)
            }
        }
        #[inline(always)]
        fn products<D: Dot>((abs, signs): (__m256i, __m256i), a: __m256i) -> __m256i {
            // The unsigned operand is |w|; a carries w's sign.
            // SAFETY: register-only avx2 operation.
            D::products(abs, unsafe { _mm256_sign_epi8(a, signs) })
        }
        #[inline(always)]
        fn scale(&self) -> f32 {
            half(self.d)
        }
        #[inline(always)]
        fn minimum(&self) -> f32 {
            0.0
        }
    }

    #[inline(always)]
    fn hsum(v: __m256) -> f32 {
        // SAFETY: register-only avx operations.
        unsafe {
            let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
            let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
            _mm_cvtss_f32(s)
        }
    }

    /// R×T dot products, every weight block unpacked once and every activation block loaded once.
    #[inline(always)]
    pub fn tile<B: Kernel, D: Dot, const R: usize, const T: usize>(
        w: [&[B]; R],
        a: [&[ActBlock]; T],
    ) -> [[f32; T]; R] {
        let blocks = a[0].len();
        assert!(w.iter().all(|r| r.len() == blocks) && a.iter().all(|x| x.len() == blocks));
        // SAFETY: register operations plus loads from blocks whose lengths were checked above.
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); T]; R];
            let mut mins = [[0f32; T]; R];
            for k in 0..blocks {
                let wb: [&B; R] = std::array::from_fn(|r| w[r].get_unchecked(k));
                for block in wb {
                    // Weights stream from memory once per step: ask for them well ahead (a prefetch of an
                    // address past the end is harmless).
                    let ahead = (block as *const B)
                        .cast::<i8>()
                        .wrapping_add(PREFETCH_BYTES);
                    _mm_prefetch::<_MM_HINT_T0>(ahead);
                }
                let unpacked: [B::Unpacked; R] = std::array::from_fn(|r| wb[r].unpack());
                for t in 0..T {
                    let ab = a[t].get_unchecked(k);
                    let codes = _mm256_loadu_si256(ab.qs.as_ptr().cast());
                    for r in 0..R {
                        let sums = _mm256_cvtepi32_ps(B::products::<D>(unpacked[r], codes));
                        let scale = _mm256_set1_ps(wb[r].scale() * ab.d);
                        acc[r][t] = _mm256_fmadd_ps(scale, sums, acc[r][t]);
                        mins[r][t] += wb[r].minimum() * ab.s;
                    }
                }
            }
            std::array::from_fn(|r| std::array::from_fn(|t| hsum(acc[r][t]) + mins[r][t]))
        }
    }
}

#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma",
    target_feature = "f16c"
))]
use avx2::{rows_into, tile, Dot, Kernel};
