//! Quantized weight matrices and their dot products with quantized activations.
//!
//! Why our own: decoding a 135M-parameter model is bound by how fast the weights stream from memory, so
//! the weights stay in the GGUF's own 4-bit blocks (Q4_1, 0.625 bytes per weight) instead of being widened,
//! and each weight row is read once per step however many sequences are decoded together. candle only has
//! a scalar Q4_1 kernel and streams the whole matrix once per sequence. The layouts below are ggml's, so
//! the file's bytes are used as they are.

use super::kernels;
use crate::ModelError;
use candle_core::{
    quantized::{GgmlDType, QTensor},
    Device,
};
use half::f16;
use std::sync::Arc;

/// Values per quantization block (ggml's QK for Q4_1 and Q8_0).
pub const BLOCK: usize = 32;

/// 32 weights as 4-bit codes with a scale and a minimum: `w = d·q + m`. Low nibbles of `qs[j]` hold
/// element `j`, high nibbles element `j + 16` (ggml's layout).
#[derive(Clone, Copy)]
#[repr(C)]
pub struct BlockQ4_1 {
    pub(crate) d: u16,
    pub(crate) m: u16,
    pub(crate) qs: [u8; 16],
}

/// 32 weights as signed bytes with one scale: `w = d·q`.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct BlockQ8_0 {
    pub(crate) d: u16,
    pub(crate) qs: [i8; 32],
}

/// 32 activations as signed bytes with their scale `d` and `s = d·Σq` (the term Q4_1's minimum needs).
#[derive(Clone, Copy)]
#[repr(C)]
pub struct ActBlock {
    pub(crate) d: f32,
    pub(crate) s: f32,
    pub(crate) qs: [i8; 32],
}

impl Default for ActBlock {
    fn default() -> Self {
        Self {
            d: 0.0,
            s: 0.0,
            qs: [0; 32],
        }
    }
}

pub(crate) fn half(bits: u16) -> f32 {
    f16::from_bits(bits).to_f32()
}

/// The stored blocks of a matrix: a range of a buffer that may hold other matrices too.
enum Blocks {
    Q4_1(Arc<Vec<BlockQ4_1>>, usize),
    Q8_0(Arc<Vec<BlockQ8_0>>, usize),
}

fn parse_q4_1(c: &[u8]) -> BlockQ4_1 {
    let mut qs = [0u8; 16];
    qs.copy_from_slice(&c[4..20]);
    BlockQ4_1 {
        d: u16::from_le_bytes([c[0], c[1]]),
        m: u16::from_le_bytes([c[2], c[3]]),
        qs,
    }
}

fn parse_q8_0(c: &[u8]) -> BlockQ8_0 {
    let mut qs = [0i8; 32];
    for (q, &b) in qs.iter_mut().zip(&c[2..34]) {
        *q = b as i8;
    }
    BlockQ8_0 {
        d: u16::from_le_bytes([c[0], c[1]]),
        qs,
    }
}

/// A `rows × cols` weight matrix in quantized blocks, rows contiguous.
pub struct QMatrix {
    rows: usize,
    cols: usize,
    blocks: Blocks,
}

fn runtime(what: &str, e: impl std::fmt::Display) -> ModelError {
    ModelError::Runtime(format!("{what}: {e}"))
}

impl QMatrix {
    /// Takes a 2-D GGUF tensor. Q4_1 and Q8_0 are kept as stored; any other type is dequantized and
    /// re-encoded as Q8_0 (nearly lossless for types of ≤ 8 bits).
    pub fn from_qtensor(t: &QTensor) -> Result<Self, ModelError> {
        Self::from_qtensors(std::slice::from_ref(t))?
            .pop()
            .ok_or_else(|| ModelError::Runtime("no weight matrix".into()))
    }

    /// Takes several 2-D GGUF tensors and stores them together, one huge-page buffer per block type.
    pub fn from_qtensors(tensors: &[QTensor]) -> Result<Vec<Self>, ModelError> {
        enum Source {
            Q4_1(Vec<u8>),
            Q8_0(Vec<BlockQ8_0>),
        }
        let mut sources = Vec::with_capacity(tensors.len());
        let (mut q4_blocks, mut q8_blocks) = (0usize, 0usize);
        for t in tensors {
            let (rows, cols) = t.shape().dims2().map_err(|e| runtime("weight shape", e))?;
            if cols % BLOCK != 0 {
                return Err(ModelError::Runtime(format!(
                    "weight rows of {cols} values are not a multiple of {BLOCK}"
                )));
            }
            let expected = rows * cols / BLOCK;
            let source = match t.dtype() {
                GgmlDType::Q4_1 => {
                    let data = t.data().map_err(|e| runtime("weight bytes", e))?;
                    q4_blocks += expected;
                    (data.len() == expected * 20).then(|| Source::Q4_1(data.into_owned()))
                }
                GgmlDType::Q8_0 => {
                    let data = t.data().map_err(|e| runtime("weight bytes", e))?;
                    q8_blocks += expected;
                    (data.len() == expected * 34)
                        .then(|| Source::Q8_0(data.chunks_exact(34).map(parse_q8_0).collect()))
                }
                _ => {
                    let dense = t
                        .dequantize(&Device::Cpu)
                        .and_then(|d| d.flatten_all())
                        .and_then(|d| d.to_vec1::<f32>())
                        .map_err(|e| runtime("dequantizing weights", e))?;
                    q8_blocks += expected;
                    (dense.len() == expected * BLOCK).then(|| {
                        Source::Q8_0(dense.chunks_exact(BLOCK).map(quantize_q8_0).collect())
                    })
                }
            };
            let source = source.ok_or_else(|| {
                ModelError::Runtime(format!(
                    "a {rows}×{cols} weight tensor does not hold {expected} blocks"
                ))
            })?;
            sources.push((rows, cols, source));
        }
        let mut q4 = crate::memory::huge_page_vec::<BlockQ4_1>(q4_blocks);
        let mut q8 = crate::memory::huge_page_vec::<BlockQ8_0>(q8_blocks);
        let mut placed = Vec::with_capacity(sources.len());
        for (rows, cols, source) in sources {
            placed.push(match source {
                Source::Q4_1(bytes) => {
                    let start = q4.len();
                    q4.extend(bytes.chunks_exact(20).map(parse_q4_1));
                    (rows, cols, true, start)
                }
                Source::Q8_0(blocks) => {
                    let start = q8.len();
                    q8.extend(blocks);
                    (rows, cols, false, start)
                }
            });
        }
        let (q4, q8) = (Arc::new(q4), Arc::new(q8));
        Ok(placed
            .into_iter()
            .map(|(rows, cols, is_q4, start)| Self {
                rows,
                cols,
                blocks: if is_q4 {
                    Blocks::Q4_1(Arc::clone(&q4), start)
                } else {
                    Blocks::Q8_0(Arc::clone(&q8), start)
                },
            })
            .collect())
    }

    /// Output dimension.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input dimension.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `r` as floats (the embedding lookup).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        let per = self.cols / BLOCK;
        match &self.blocks {
            Blocks::Q4_1(all, start) => {
                let b = &all[*start..];
                for (blk, chunk) in b[r * per..(r + 1) * per]
                    .iter()
                    .zip(out.chunks_exact_mut(BLOCK))
                {
                    let (d, m) = (half(blk.d), half(blk.m));
                    for j in 0..16 {
                        chunk[j] = f32::from(blk.qs[j] & 0x0F) * d + m;
                        chunk[j + 16] = f32::from(blk.qs[j] >> 4) * d + m;
                    }
                }
            }
            Blocks::Q8_0(all, start) => {
                let b = &all[*start..];
                for (blk, chunk) in b[r * per..(r + 1) * per]
                    .iter()
                    .zip(out.chunks_exact_mut(BLOCK))
                {
                    let d = half(blk.d);
                    for (o, &q) in chunk.iter_mut().zip(&blk.qs) {
                        *o = f32::from(q) * d;
                    }
                }
            }
        }
    }

    /// `out[t][r] = W[r] · x[t]` for every activation row `t` (each `cols / 32` blocks, concatenated in
    /// `acts`). Rows are split over the rayon pool; each weight block is loaded once for all `t`.
    pub fn matmul(&self, acts: &[ActBlock], out: &mut [f32]) {
        let per = self.cols / BLOCK;
        match &self.blocks {
            Blocks::Q4_1(all, start) => kernels::matmul(
                &all[*start..*start + self.rows * per],
                self.rows,
                per,
                acts,
                out,
            ),
            Blocks::Q8_0(all, start) => kernels::matmul(
                &all[*start..*start + self.rows * per],
                self.rows,
                per,
                acts,
                out,
            ),
        }
    }
}

/// Quantizes 32 floats to a Q8_0 block (round to nearest, scale = max |x| / 127).
fn quantize_q8_0(x: &[f32]) -> BlockQ8_0 {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
    let mut qs = [0i8; 32];
    for (q, v) in qs.iter_mut().zip(x) {
        *q = (v * inv).round() as i8;
    }
    BlockQ8_0 {
        d: f16::from_f32(d).to_bits(),
        qs,
    }
}

/// Quantizes activations (a multiple of 32 values) to blocks, appending to `out`.
pub fn quantize_activations(x: &[f32], out: &mut Vec<ActBlock>) {
    for chunk in x.chunks_exact(BLOCK) {
        let amax = chunk.iter().fold(0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let inv = if d > 0.0 { 1.0 / d } else { 0.0 };
        let mut qs = [0i8; 32];
        let mut sum = 0i32;
        for (q, v) in qs.iter_mut().zip(chunk) {
            *q = (v * inv).round() as i8;
            sum += i32::from(*q);
        }
        out.push(ActBlock {
            d,
            s: d * sum as f32,
            qs,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Tensor;

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    fn matrix(dtype: GgmlDType, rows: usize, cols: usize) -> (QMatrix, Vec<f32>) {
        let dense = pseudo_random(rows * cols, 7);
        let t = Tensor::from_vec(dense, (rows, cols), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, dtype).unwrap();
        let exact = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        (QMatrix::from_qtensor(&q).unwrap(), exact)
    }

    #[test]
    fn matmul_matches_dense_product_for_every_block_type() {
        let (rows, cols, batch) = (70, 96, 3);
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0, GgmlDType::Q4_0] {
            let (m, dense) = matrix(dtype, rows, cols);
            let x = pseudo_random(batch * cols, 3);
            let mut acts = Vec::new();
            quantize_activations(&x, &mut acts);
            let mut out = vec![0f32; batch * rows];
            m.matmul(&acts, &mut out);
            for t in 0..batch {
                for r in 0..rows {
                    let want: f32 = (0..cols)
                        .map(|c| dense[r * cols + c] * x[t * cols + c])
                        .sum();
                    let got = out[t * rows + r];
                    assert!(
                        (got - want).abs() < 0.05 + 0.02 * want.abs(),
                        "{dtype:?} row {r} batch {t}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn simd_tiles_agree_with_the_scalar_reference() {
        // 9 rows × 6 activation rows exercises every tile shape and the remainders.
        let (rows, cols, batch) = (9, 128, 6);
        let x = pseudo_random(batch * cols, 11);
        let mut acts = Vec::new();
        quantize_activations(&x, &mut acts);
        for dtype in [GgmlDType::Q4_1, GgmlDType::Q8_0] {
            let (m, _) = matrix(dtype, rows, cols);
            let mut fast = vec![0f32; batch * rows];
            m.matmul(&acts, &mut fast);
            let mut reference = vec![0f32; batch * rows];
            match &m.blocks {
                Blocks::Q4_1(b, _) => {
                    kernels::matmul_scalar(b, rows, cols / BLOCK, &acts, &mut reference)
                }
                Blocks::Q8_0(b, _) => {
                    kernels::matmul_scalar(b, rows, cols / BLOCK, &acts, &mut reference)
                }
            }
            for (a, b) in fast.iter().zip(&reference) {
                assert!(
                    (a - b).abs() < 1e-3 * (1.0 + b.abs()),
                    "{dtype:?}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn dequantized_rows_match_candle() {
        let (m, dense) = matrix(GgmlDType::Q4_1, 5, 64);
        let mut row = vec![0f32; 64];
        m.dequantize_row(3, &mut row);
        for (a, b) in row.iter().zip(&dense[3 * 64..4 * 64]) {
            assert!((a - b).abs() < 1e-3);
        }
    }
}
