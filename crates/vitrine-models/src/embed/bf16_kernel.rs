//! The AVX-512 BF16 path of [`super::half_matmul`]: weights and activations as bf16 pairs, products
//! summed in f32 by `vdpbf16ps`.
//!
//! Why: `vdpbf16ps` does two multiply-adds per f32 lane where an FMA does one, and needs no f16→f32
//! conversion, so a query's matrix products take about half the cycles of the AVX2/F16C tile. Rounding
//! both operands to bf16 (8 significant bits) moves sentence vectors by little: the fixture's lowest
//! cosine to sentence-transformers is 0.99996 with it (0.999999 with f16 weights), against a tolerance
//! of 0.999 (`tests/local_models.rs`). It is used only where the CPU reports `avx512bf16`.
//!
//! Layout: a panel of 16 output columns stores, for each pair of inputs `(2p, 2p + 1)`, 16 column
//! pairs `w[2p][c], w[2p + 1][c]` — one 64-byte line per input pair, the shape `vdpbf16ps` multiplies
//! against a broadcast pair of activations. An odd input width is padded with a zero input.

use super::half_matmul::{TileOut, PANEL};

/// Rows of the register tile: 14 accumulators of the 32 AVX-512 registers; a 10-word query (about 14
/// tokens) is then a single tile per panel, so each weight line is read once.
pub(crate) const TILE_ROWS: usize = 14;

/// Whether this CPU runs the bf16 path.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Inputs rounded up to whole pairs.
pub(crate) fn padded_inputs(inputs: usize) -> usize {
    inputs.next_multiple_of(2)
}

/// bf16 bits of `v`, rounded to nearest even (what `vcvtneps2bf16` does).
pub(crate) fn to_bits(v: f32) -> u16 {
    half::bf16::from_f32(v).to_bits()
}

/// Packs PyTorch-layout rows (`rows[out][in]`) into pair-interleaved panels (see the module doc).
pub(crate) fn pack(rows: &[Vec<f32>], inputs: usize) -> Vec<u16> {
    let padded = padded_inputs(inputs);
    let panels = rows.len().div_ceil(PANEL);
    let mut halves = crate::memory::huge_page_vec::<u16>(panels * padded * PANEL);
    halves.resize(panels * padded * PANEL, 0);
    for (o, row) in rows.iter().enumerate() {
        let (panel, lane) = (o / PANEL, o % PANEL);
        let base = panel * padded * PANEL + lane * 2;
        for (k, v) in row.iter().enumerate().take(inputs) {
            halves[base + (k / 2) * 2 * PANEL + k % 2] = to_bits(*v);
        }
    }
    halves
}

/// Row-major activations as bf16 rows of `padded_inputs(inputs)` (zero in the padding).
pub(crate) fn convert_rows(x: &[f32], inputs: usize) -> Vec<u16> {
    let padded = padded_inputs(inputs);
    let rows = x.len() / inputs;
    let mut out = vec![0u16; rows * padded];
    for (src, dst) in x.chunks_exact(inputs).zip(out.chunks_exact_mut(padded)) {
        #[cfg(target_arch = "x86_64")]
        if available() {
            // SAFETY: the features were just detected; `dst` is at least as long as `src`.
            unsafe { x86::convert(src, &mut dst[..inputs]) };
            continue;
        }
        for (d, s) in dst.iter_mut().zip(src) {
            *d = to_bits(*s);
        }
    }
    out
}

/// One register tile: `out[i][col..col + cols] += Σ_k x[i][k] · weights[k][..cols]` for `n` rows of
/// bf16 activations `x` (`n × padded` values) and one packed panel `weights`.
pub(crate) fn tile(n: usize, x: &[u16], padded: usize, weights: &[u16], mut dst: TileOut<'_>) {
    assert!(n <= TILE_ROWS && x.len() == n * padded && weights.len() == padded * PANEL);
    #[cfg(target_arch = "x86_64")]
    if available() {
        let mut acc = [[0f32; PANEL]; TILE_ROWS];
        // SAFETY: shapes are asserted above and the CPU features detected.
        unsafe { x86::tile_dispatch(n, x, padded, weights, &mut acc) };
        dst.add(&acc, n);
        return;
    }
    tile_portable(n, x, padded, weights, dst);
}

/// The same tile in plain Rust: the reference for the tests and the path on other CPUs.
pub(crate) fn tile_portable(
    n: usize,
    x: &[u16],
    padded: usize,
    weights: &[u16],
    mut dst: TileOut<'_>,
) {
    let f = |b: u16| half::bf16::from_bits(b).to_f32();
    let mut acc = [[0f32; PANEL]; TILE_ROWS];
    for (i, row) in acc.iter_mut().enumerate().take(n) {
        for p in 0..padded / 2 {
            let (a0, a1) = (f(x[i * padded + 2 * p]), f(x[i * padded + 2 * p + 1]));
            let line = &weights[p * 2 * PANEL..(p + 1) * 2 * PANEL];
            for (c, w) in row.iter_mut().zip(line.chunks_exact(2)) {
                *c += a0 * f(w[0]) + a1 * f(w[1]);
            }
        }
    }
    dst.add(&acc, n);
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{PANEL, TILE_ROWS};
    use std::arch::x86_64::*;

    /// How many input pairs (one 64-byte line each) ahead the kernel prefetches weights.
    const PREFETCH_PAIRS: usize = 8;

    /// Rounds `src` into bf16 bits, 16 at a time.
    ///
    /// # Safety
    /// The CPU supports `avx512f` and `avx512bf16`; `dst.len() == src.len()`.
    #[target_feature(enable = "avx512f,avx512bf16,avx512vl")]
    pub(super) unsafe fn convert(src: &[f32], dst: &mut [u16]) {
        let whole = src.len() / 16 * 16;
        for i in (0..whole).step_by(16) {
            let v = _mm512_cvtneps_pbh(_mm512_loadu_ps(src.as_ptr().add(i)));
            _mm256_storeu_si256(
                dst.as_mut_ptr().add(i) as *mut __m256i,
                std::mem::transmute::<__m256bh, __m256i>(v),
            );
        }
        for i in whole..src.len() {
            dst[i] = super::to_bits(src[i]);
        }
    }

    /// Picks the tile with `n` rows.
    ///
    /// # Safety
    /// As [`tile`].
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn tile_dispatch(
        n: usize,
        x: &[u16],
        padded: usize,
        weights: &[u16],
        acc: &mut [[f32; PANEL]; TILE_ROWS],
    ) {
        macro_rules! rows {
            ($($n:literal)*) => {
                match n {
                    $($n => tile::<$n>(x, padded, weights, acc),)*
                    _ => tile::<TILE_ROWS>(x, padded, weights, acc),
                }
            };
        }
        rows!(1 2 3 4 5 6 7 8 9 10 11 12 13)
    }

    /// `acc[i] = Σ_p x[i][2p..2p+2] · w[p]` for `N` rows and one panel, in registers.
    ///
    /// # Safety
    /// The CPU supports `avx512f` and `avx512bf16`; `x` holds `N × padded` values and `weights`
    /// `padded × 16`.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn tile<const N: usize>(
        x: &[u16],
        padded: usize,
        weights: &[u16],
        acc: &mut [[f32; PANEL]; TILE_ROWS],
    ) {
        let mut sums = [_mm512_setzero_ps(); N];
        let xp = x.as_ptr();
        let mut wp = weights.as_ptr();
        for p in 0..padded / 2 {
            // Weights stream from L3 once per query; ask for them a few lines ahead.
            _mm_prefetch(
                wp.wrapping_add(PREFETCH_PAIRS * 2 * PANEL) as *const i8,
                _MM_HINT_T0,
            );
            let w: __m512bh =
                std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_si512(wp as *const _));
            for (i, sum) in sums.iter_mut().enumerate() {
                let pair = (xp.add(i * padded + 2 * p) as *const i32).read_unaligned();
                let a: __m512bh = std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(pair));
                *sum = _mm512_dpbf16_ps(*sum, a, w);
            }
            wp = wp.add(2 * PANEL);
        }
        for (row, sum) in acc.iter_mut().zip(sums) {
            _mm512_storeu_ps(row.as_mut_ptr(), sum);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::half_matmul::whole_panel;

    #[test]
    fn kernel_matches_the_portable_tile_for_every_row_count() {
        let inputs = 38;
        let padded = padded_inputs(inputs);
        let w_rows: Vec<Vec<f32>> = (0..PANEL)
            .map(|o| {
                (0..inputs)
                    .map(|k| ((o * 7 + k * 3) % 11) as f32 / 5.0 - 1.0)
                    .collect()
            })
            .collect();
        let weights = pack(&w_rows, inputs);
        for n in 1..=TILE_ROWS {
            let x: Vec<f32> = (0..n * inputs)
                .map(|i| ((i * 5) % 13) as f32 / 6.0 - 1.0)
                .collect();
            let x = convert_rows(&x, inputs);
            let mut a = vec![0.5f32; n * PANEL];
            let mut b = a.clone();
            tile(n, &x, padded, &weights, whole_panel(&mut a));
            tile_portable(n, &x, padded, &weights, whole_panel(&mut b));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                assert!((x - y).abs() < 1e-4, "{n} rows, element {i}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn vector_conversion_rounds_like_the_scalar_one() {
        let x: Vec<f32> = (0..37)
            .map(|i| (i as f32 * 0.123_456_7).sin() * 1e3)
            .collect();
        let converted = convert_rows(&x, 37);
        for (v, bits) in x.iter().zip(&converted) {
            assert_eq!(*bits, to_bits(*v), "{v}");
        }
        assert_eq!(converted.len(), 38);
        assert_eq!(converted[37], 0, "padding is a zero input");
    }
}
