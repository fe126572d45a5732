//! Matrix products with f16-stored weights, computed in f32.
//!
//! Why: a search query is about a dozen token rows, and its cost was streaming the encoder's 42 MB of
//! f32 weights, more than the 32 MB L3, from memory for every query (p99 6.2 ms against a 5 ms goal).
//! Stored as f16 the weights are 21 MB: half the bytes to move, and they stay in L3 between queries.
//! Products and sums stay f32; rounding weights to 11 significant bits moves a sentence vector by far
//! less than the fixture's tolerance (cosine ≥ 0.999 to sentence-transformers, checked in
//! `tests/local_models.rs`).
//!
//! Layout: the output columns are cut into panels of [`PANEL`]; a panel's weights are `inputs × PANEL`
//! contiguous halves, so the kernel reads them front to back and converts 16 at a time to f32
//! (`vcvtph2ps`). A register tile of up to [`TILE_ROWS`] rows × 16 columns accumulates over all inputs
//! before touching the output. On CPUs with AVX-512 BF16 the same panels hold bf16 pairs instead and
//! a wider tile runs on `vdpbf16ps` ([`super::bf16_kernel`], about twice the multiply-adds per cycle).

use rayon::prelude::*;

/// Output columns per packed panel (two 8-lane f32 registers).
pub(crate) const PANEL: usize = 16;
/// Rows of the register tile: 6 rows × 2 registers = 12 accumulators of the 16 AVX2 registers.
const TILE_ROWS: usize = 6;
/// Rows per cache block in large batches: this block of the input stays in L2 while every panel passes.
const BLOCK_ROWS: usize = 48;

/// 16-bit bit patterns of a `[in][out]` weight, panel-major (see the module doc): f16, or bf16 pairs
/// where the CPU has AVX-512 BF16 ([`super::bf16_kernel`]).
pub(crate) struct HalfWeights {
    halves: Vec<u16>,
    inputs: usize,
    outputs: usize,
    format: HalfFormat,
}

/// Which 16-bit format and kernel a packed weight uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HalfFormat {
    /// f16 weights, f32 activations: the AVX2/F16C tile (x86-64-v3) or its portable twin.
    F16,
    /// bf16 pairs for weights and activations: `vdpbf16ps` on AVX-512 BF16.
    Bf16,
}

impl HalfFormat {
    /// The fastest format this CPU runs; `EMBED_KERNEL=f16` (not a `VITRINE_` config variable: it is read
    /// where weights are packed) forces the f16 path (to compare
    /// the two, or to reproduce figures from a machine without AVX-512 BF16).
    pub(crate) fn best() -> Self {
        let forced_f16 = std::env::var("EMBED_KERNEL").is_ok_and(|v| v == "f16");
        if !forced_f16 && super::bf16_kernel::available() {
            Self::Bf16
        } else {
            Self::F16
        }
    }
}

impl HalfWeights {
    /// Packs PyTorch-layout rows (`rows[out][in]`) in the best format for this CPU.
    pub(crate) fn pack(rows: &[Vec<f32>], inputs: usize) -> Self {
        Self::pack_as(rows, inputs, HalfFormat::best())
    }

    /// Packs in the given format; a last partial panel is padded with zeros.
    pub(crate) fn pack_as(rows: &[Vec<f32>], inputs: usize, format: HalfFormat) -> Self {
        let outputs = rows.len();
        if format == HalfFormat::Bf16 {
            return Self {
                halves: super::bf16_kernel::pack(rows, inputs),
                inputs,
                outputs,
                format,
            };
        }
        let panels = outputs.div_ceil(PANEL);
        let mut halves = crate::memory::huge_page_vec::<u16>(panels * inputs * PANEL);
        halves.resize(panels * inputs * PANEL, 0);
        for (o, row) in rows.iter().enumerate() {
            let (panel, lane) = (o / PANEL, o % PANEL);
            let base = panel * inputs * PANEL + lane;
            for (k, v) in row.iter().enumerate().take(inputs) {
                halves[base + k * PANEL] = half::f16::from_f32(*v).to_bits();
            }
        }
        Self {
            halves,
            inputs,
            outputs,
            format: HalfFormat::F16,
        }
    }

    /// Input width.
    pub(crate) fn inputs(&self) -> usize {
        self.inputs
    }

    /// Output width.
    pub(crate) fn outputs(&self) -> usize {
        self.outputs
    }

    /// `out += x · W` for row-major `x` (`rows × inputs`) and `out` (`rows × outputs`), on the current
    /// rayon pool: large batches split by row blocks, small ones (a query) by panels.
    pub(crate) fn matmul_acc(&self, x: &[f32], out: &mut [f32]) {
        let rows = x.len() / self.inputs;
        assert!(
            x.len() == rows * self.inputs && out.len() == rows * self.outputs,
            "matmul shapes"
        );
        let panels = self.outputs.div_ceil(PANEL);
        let threads = rayon::current_num_threads().max(1);
        let blocks = rows.div_ceil(BLOCK_ROWS);
        // Work items: (row block, panel range). Enough items to keep every thread busy.
        let panel_groups = if blocks >= 2 * threads {
            1
        } else {
            threads.min(panels)
        };
        let per_group = panels.div_ceil(panel_groups);
        let out_addr = out.as_mut_ptr() as usize;
        let out_len = out.len();
        let bf16_rows = (self.format == HalfFormat::Bf16)
            .then(|| super::bf16_kernel::convert_rows(x, self.inputs));
        (0..blocks * panel_groups).into_par_iter().for_each(|item| {
            let (block, group) = (item / panel_groups, item % panel_groups);
            let row_from = block * BLOCK_ROWS;
            let row_to = (row_from + BLOCK_ROWS).min(rows);
            let panel_from = group * per_group;
            let panel_to = (panel_from + per_group).min(panels);
            // SAFETY: items own disjoint (row block × panel range) rectangles of `out`, which outlives
            // the parallel loop; the kernel writes only inside its rectangle.
            let out = unsafe { std::slice::from_raw_parts_mut(out_addr as *mut f32, out_len) };
            match &bf16_rows {
                Some(x) => self.rectangle_bf16(x, out, row_from..row_to, panel_from..panel_to),
                None => self.rectangle(x, out, row_from..row_to, panel_from..panel_to),
            }
        });
    }

    fn rectangle(
        &self,
        x: &[f32],
        out: &mut [f32],
        rows: std::ops::Range<usize>,
        panels: std::ops::Range<usize>,
    ) {
        let inputs = self.inputs;
        self.for_each_tile(
            out,
            rows,
            panels,
            inputs,
            TILE_ROWS,
            |r, n, weights, dst| tile(n, &x[r * inputs..(r + n) * inputs], inputs, weights, dst),
        );
    }

    /// [`Self::rectangle`] for bf16 activations and weights.
    fn rectangle_bf16(
        &self,
        x: &[u16],
        out: &mut [f32],
        rows: std::ops::Range<usize>,
        panels: std::ops::Range<usize>,
    ) {
        use super::bf16_kernel::{padded_inputs, tile, TILE_ROWS};
        let padded = padded_inputs(self.inputs);
        self.for_each_tile(
            out,
            rows,
            panels,
            padded,
            TILE_ROWS,
            |r, n, weights, dst| tile(n, &x[r * padded..(r + n) * padded], padded, weights, dst),
        );
    }

    /// Walks a rectangle of `out` panel by panel and tile by tile, handing each tile's first row, row
    /// count, packed weights (`width` values per input line) and destination to `kernel`.
    fn for_each_tile(
        &self,
        out: &mut [f32],
        rows: std::ops::Range<usize>,
        panels: std::ops::Range<usize>,
        width: usize,
        tile_rows: usize,
        mut kernel: impl FnMut(usize, usize, &[u16], TileOut<'_>),
    ) {
        for panel in panels {
            let weights = &self.halves[panel * width * PANEL..][..width * PANEL];
            let col = panel * PANEL;
            let cols = PANEL.min(self.outputs - col);
            for (r, n) in even_tiles(rows.clone(), tile_rows) {
                let dst = TileOut {
                    out: &mut out[r * self.outputs..(r + n) * self.outputs],
                    stride: self.outputs,
                    col,
                    cols,
                };
                kernel(r, n, weights, dst);
            }
        }
    }
}

/// `(first row, rows)` of each tile when `rows` is cut into tiles of at most `tile_rows`, evenly
/// (14 rows by 6 → 4, 5, 5, not 6, 6, 2): a thin tile spends its time loading weights.
fn even_tiles(
    rows: std::ops::Range<usize>,
    tile_rows: usize,
) -> impl Iterator<Item = (usize, usize)> {
    let tiles = rows.len().div_ceil(tile_rows);
    let mut r = rows.start;
    (0..tiles).map(move |t| {
        let n = (rows.end - r) / (tiles - t);
        let first = r;
        r += n;
        (first, n)
    })
}

/// Where a register tile's sums go: `n` rows of `out`, `stride` apart, columns `col..col + cols`.
pub(crate) struct TileOut<'a> {
    pub(crate) out: &'a mut [f32],
    pub(crate) stride: usize,
    pub(crate) col: usize,
    pub(crate) cols: usize,
}

/// A tile that fills the whole of `out` (rows of one panel): what the tests compare kernels on.
#[cfg(test)]
pub(crate) fn whole_panel(out: &mut [f32]) -> TileOut<'_> {
    TileOut {
        out,
        stride: PANEL,
        col: 0,
        cols: PANEL,
    }
}

impl TileOut<'_> {
    /// Adds a tile's sums (`n` rows) into its place.
    pub(crate) fn add(&mut self, acc: &[[f32; PANEL]], n: usize) {
        for (i, a) in acc.iter().enumerate().take(n) {
            for (o, v) in self.out[i * self.stride + self.col..][..self.cols]
                .iter_mut()
                .zip(a)
            {
                *o += v;
            }
        }
    }
}

/// One register tile: `out[i][col..col + cols] += Σ_k x[i][k] · weights[k][..cols]` for the `n` rows.
fn tile(n: usize, x: &[f32], inputs: usize, weights: &[u16], mut dst: TileOut<'_>) {
    debug_assert!(n <= TILE_ROWS && x.len() == n * inputs && weights.len() == inputs * PANEL);
    #[cfg(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    ))]
    {
        let mut acc = [[0f32; PANEL]; TILE_ROWS];
        // SAFETY: the slices' lengths are checked above; the CPU features are compile-time enabled.
        unsafe {
            match n {
                1 => x86::tile::<1>(x, inputs, weights, &mut acc),
                2 => x86::tile::<2>(x, inputs, weights, &mut acc),
                3 => x86::tile::<3>(x, inputs, weights, &mut acc),
                4 => x86::tile::<4>(x, inputs, weights, &mut acc),
                5 => x86::tile::<5>(x, inputs, weights, &mut acc),
                _ => x86::tile::<6>(x, inputs, weights, &mut acc),
            }
        }
        dst.add(&acc, n);
    }
    #[cfg(not(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma",
        target_feature = "f16c"
    )))]
    tile_portable(n, x, inputs, weights, dst);
}

/// The same tile in plain Rust: the fallback off x86-64-v3 and the tests' reference.
#[allow(dead_code)]
fn tile_portable(n: usize, x: &[f32], inputs: usize, weights: &[u16], mut dst: TileOut<'_>) {
    let mut acc = [[0f32; PANEL]; TILE_ROWS];
    for (i, row) in acc.iter_mut().enumerate().take(n) {
        for k in 0..inputs {
            let a = x[i * inputs + k];
            for (c, w) in row.iter_mut().zip(&weights[k * PANEL..(k + 1) * PANEL]) {
                *c += a * half::f16::from_bits(*w).to_f32();
            }
        }
    }
    dst.add(&acc, n);
}

#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma",
    target_feature = "f16c"
))]
mod x86 {
    use super::{PANEL, TILE_ROWS};
    use std::arch::x86_64::*;

    /// How many input rows (32 bytes each) ahead the kernel prefetches weights.
    const PREFETCH_STEPS: usize = 16;

    /// `acc[i] = Σ_k x[i][k] · w[k]` for `N` rows, 16 columns, in registers.
    ///
    /// # Safety
    /// `x` holds `N × inputs` values and `weights` `inputs × 16` halves.
    #[inline(always)]
    pub(super) unsafe fn tile<const N: usize>(
        x: &[f32],
        inputs: usize,
        weights: &[u16],
        acc: &mut [[f32; PANEL]; TILE_ROWS],
    ) {
        let mut lo = [_mm256_setzero_ps(); N];
        let mut hi = [_mm256_setzero_ps(); N];
        let xp = x.as_ptr();
        let mut wp = weights.as_ptr();
        for k in 0..inputs {
            // The weights come from L3 or memory once per query; asking PREFETCH_STEPS rows ahead hides
            // that latency (the hardware prefetcher alone left the conversion waiting on loads).
            _mm_prefetch(
                wp.wrapping_add(PREFETCH_STEPS * PANEL) as *const i8,
                _MM_HINT_T0,
            );
            let w0 = _mm256_cvtph_ps(_mm_loadu_si128(wp as *const __m128i));
            let w1 = _mm256_cvtph_ps(_mm_loadu_si128(wp.add(8) as *const __m128i));
            for i in 0..N {
                let a = _mm256_broadcast_ss(&*xp.add(i * inputs + k));
                lo[i] = _mm256_fmadd_ps(a, w0, lo[i]);
                hi[i] = _mm256_fmadd_ps(a, w1, hi[i]);
            }
            wp = wp.add(PANEL);
        }
        for i in 0..N {
            _mm256_storeu_ps(acc[i].as_mut_ptr(), lo[i]);
            _mm256_storeu_ps(acc[i].as_mut_ptr().add(8), hi[i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    #[test]
    fn packed_product_equals_the_plain_product_of_the_rounded_operands() {
        let cases = [
            (1, 8, 16),
            (7, 33, 40),
            (13, 64, 48),
            (15, 31, 16),
            (100, 20, 17),
        ];
        for format in [HalfFormat::F16, HalfFormat::Bf16] {
            // What each format keeps of a weight and of an activation.
            type Round = fn(f32) -> f32;
            let (round_w, round_x): (Round, Round) = match format {
                HalfFormat::F16 => (|v| half::f16::from_f32(v).to_f32(), |v| v),
                HalfFormat::Bf16 => (
                    |v| half::bf16::from_f32(v).to_f32(),
                    |v| half::bf16::from_f32(v).to_f32(),
                ),
            };
            for (rows, inputs, outputs) in cases {
                let w = random(inputs * outputs, 1);
                let w_rows: Vec<Vec<f32>> = w.chunks(inputs).map(<[f32]>::to_vec).collect();
                let packed = HalfWeights::pack_as(&w_rows, inputs, format);
                let x = random(rows * inputs, 2);
                let mut out = random(rows * outputs, 3);
                let mut want = out.clone();
                for r in 0..rows {
                    for o in 0..outputs {
                        let dot: f32 = (0..inputs)
                            .map(|k| round_x(x[r * inputs + k]) * round_w(w_rows[o][k]))
                            .sum();
                        want[r * outputs + o] += dot;
                    }
                }
                packed.matmul_acc(&x, &mut out);
                for (i, (a, b)) in out.iter().zip(&want).enumerate() {
                    assert!(
                        (a - b).abs() < 1e-4,
                        "{format:?} {rows}x{inputs}x{outputs} element {i}: {a} vs {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn portable_tile_matches_the_kernel() {
        let (inputs, n) = (24, 5);
        let w_rows: Vec<Vec<f32>> = random(PANEL * inputs, 4)
            .chunks(inputs)
            .map(<[f32]>::to_vec)
            .collect();
        let packed = HalfWeights::pack(&w_rows, inputs);
        let x = random(n * inputs, 5);
        let mut a = vec![0f32; n * PANEL];
        let mut b = a.clone();
        tile(n, &x, inputs, &packed.halves, whole_panel(&mut a));
        tile_portable(n, &x, inputs, &packed.halves, whole_panel(&mut b));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5);
        }
    }
}
