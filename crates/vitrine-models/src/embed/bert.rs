//! A BERT encoder forward pass (all-MiniLM-L6-v2) over packed sequences.
//!
//! Why our own instead of candle's `BertModel`: a batch of titles is mostly tiny matrices. candle pads every
//! sequence to the longest, runs attention as hundreds of small batched matmuls per layer and allocates a
//! tensor per operation; it reached 0.37× ONNX Runtime. Here the tokens of all sequences are packed into
//! one matrix (no padding), the four projections per layer are single large GEMMs (the `gemm` crate, the
//! same kernels candle uses), and attention, LayerNorm and GELU are plain loops over each sequence, run in
//! parallel. Checked against sentence-transformers (cosine ≥ 0.999) by the fixture test in
//! `tests/local_models.rs`.

use crate::ModelError;
use candle_core::{safetensors, Device, Tensor};
use rayon::prelude::*;
use std::{collections::HashMap, path::Path, sync::Arc};

/// The architecture numbers of a BERT checkpoint (`config.json`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct BertConfig {
    /// Residual width.
    pub hidden_size: usize,
    /// Attention heads.
    pub num_attention_heads: usize,
    /// Encoder layers.
    pub num_hidden_layers: usize,
    /// Feed-forward width.
    pub intermediate_size: usize,
    /// Longest input the position table covers.
    pub max_position_embeddings: usize,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// Vocabulary size.
    pub vocab_size: usize,
}

/// Below this many token rows a matrix product is split by output columns over the threads.
const SMALL_BATCH_ROWS: usize = 64;

/// A linear layer with its weight stored input-major (`[in][out]`), the layout the GEMM reads fastest.
struct Linear {
    /// All linear weights of the model live in one huge-page buffer; this layer's are at `offset`.
    arena: Arc<Vec<f32>>,
    offset: usize,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

impl Linear {
    fn weight(&self) -> &[f32] {
        &self.arena[self.offset..self.offset + self.inputs * self.outputs]
    }

    /// Builds from PyTorch `[out][in]` weights (several are concatenated along `out`: fused Q, K, V),
    /// transposed into `arena` (the layer's `arena` field is set once every layer is placed).
    fn from_parts(parts: &[(&Tensor, &Tensor)], arena: &mut Vec<f32>) -> Result<Self, ModelError> {
        let mut rows: Vec<Vec<f32>> = Vec::new();
        let mut bias = Vec::new();
        for (w, b) in parts {
            rows.extend(w.to_vec2::<f32>()?);
            bias.extend(b.to_vec1::<f32>()?);
        }
        let outputs = rows.len();
        let inputs = rows.first().map_or(0, Vec::len);
        if bias.len() != outputs || rows.iter().any(|r| r.len() != inputs) {
            return Err(ModelError::Runtime(
                "a linear layer has inconsistent shapes".into(),
            ));
        }
        let offset = arena.len();
        arena.resize(offset + inputs * outputs, 0.0);
        let weight = &mut arena[offset..];
        for (o, row) in rows.iter().enumerate() {
            for (i, v) in row.iter().enumerate() {
                weight[i * outputs + o] = *v;
            }
        }
        Ok(Self {
            arena: Arc::new(Vec::new()),
            offset,
            bias,
            inputs,
            outputs,
        })
    }

    /// `out[t] = x[t] · W + b` for every row `t` of `x`.
    fn forward(&self, x: &[f32], out: &mut [f32]) {
        let rows = x.len() / self.inputs;
        debug_assert_eq!(out.len(), rows * self.outputs);
        for row in out.chunks_exact_mut(self.outputs) {
            row.copy_from_slice(&self.bias);
        }
        let threads = rayon::current_num_threads();
        if rows >= SMALL_BATCH_ROWS || threads == 1 {
            // SAFETY: see `gemm_columns`; the whole width.
            unsafe {
                self.gemm_columns(
                    x,
                    out,
                    0,
                    self.outputs,
                    rows,
                    gemm::Parallelism::Rayon(threads),
                )
            };
            return;
        }
        // A single query is a few rows: gemm would run it on one thread, so split the columns instead.
        let chunk = self.outputs.div_ceil(threads).next_multiple_of(16);
        let out_addr = out.as_mut_ptr() as usize;
        (0..self.outputs.div_ceil(chunk))
            .into_par_iter()
            .for_each(|i| {
                let from = i * chunk;
                let to = (from + chunk).min(self.outputs);
                // SAFETY: each task writes only columns from..to of `out` (disjoint across tasks); the
                // buffer outlives the parallel loop.
                unsafe {
                    let out =
                        std::slice::from_raw_parts_mut(out_addr as *mut f32, rows * self.outputs);
                    self.gemm_columns(x, out, from, to, rows, gemm::Parallelism::None);
                }
            });
    }

    /// `out[:, from..to] += x · W[:, from..to]`.
    ///
    /// # Safety
    /// `x` must be `rows × inputs` and `out` `rows × outputs` (row-major); no other thread may touch
    /// columns `from..to` of `out` meanwhile.
    unsafe fn gemm_columns(
        &self,
        x: &[f32],
        out: &mut [f32],
        from: usize,
        to: usize,
        rows: usize,
        parallelism: gemm::Parallelism,
    ) {
        debug_assert!(x.len() >= rows * self.inputs && out.len() >= rows * self.outputs);
        gemm::gemm(
            rows,
            to - from,
            self.inputs,
            out.as_mut_ptr().add(from),
            1,
            self.outputs as isize,
            true,
            x.as_ptr(),
            1,
            self.inputs as isize,
            self.weight().as_ptr().add(from),
            1,
            self.outputs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn apply(&self, x: &mut [f32]) {
        x.par_chunks_mut(self.weight.len()).for_each(|row| {
            let n = row.len() as f32;
            let mean = row.iter().sum::<f32>() / n;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
            let inv = 1.0 / (var + self.eps).sqrt();
            for ((v, w), b) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
                *v = (*v - mean) * inv * w + b;
            }
        });
    }
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

/// BERT weights, shared read-only by every call.
pub struct Bert {
    config: BertConfig,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

/// erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit): BERT's GELU is the exact, erf one.
fn erf(x: f32) -> f32 {
    let z = f64::from(x.abs());
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    let e = (1.0 - r) as f32;
    if x >= 0.0 {
        e
    } else {
        -e
    }
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

impl Bert {
    /// Loads a BERT checkpoint (safetensors, f32) with its `config.json`.
    pub fn load(weights: &Path, config: BertConfig) -> Result<Self, ModelError> {
        let tensors: HashMap<String, Tensor> = safetensors::load(weights, &Device::Cpu)?;
        let get = |name: &str| {
            tensors
                .get(name)
                .or_else(|| tensors.get(&format!("bert.{name}")))
                .ok_or_else(|| ModelError::Runtime(format!("model.safetensors lacks {name}")))
        };
        let flat = |name: &str| -> Result<Vec<f32>, ModelError> {
            Ok(get(name)?.flatten_all()?.to_vec1::<f32>()?)
        };
        let eps = config.layer_norm_eps as f32;
        let norm = |prefix: &str| -> Result<LayerNorm, ModelError> {
            Ok(LayerNorm {
                weight: flat(&format!("{prefix}.weight"))?,
                bias: flat(&format!("{prefix}.bias"))?,
                eps,
            })
        };
        let h = config.hidden_size;
        let per_layer = 4 * h * h + 2 * h * config.intermediate_size;
        let mut arena = crate::memory::huge_page_vec::<f32>(per_layer * config.num_hidden_layers);
        let mut linear = |names: &[&str]| -> Result<Linear, ModelError> {
            let parts: Vec<(&Tensor, &Tensor)> = names
                .iter()
                .map(|n| Ok((get(&format!("{n}.weight"))?, get(&format!("{n}.bias"))?)))
                .collect::<Result<_, ModelError>>()?;
            Linear::from_parts(&parts, &mut arena)
        };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for i in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{i}");
            layers.push(Layer {
                qkv: linear(&[
                    &format!("{p}.attention.self.query"),
                    &format!("{p}.attention.self.key"),
                    &format!("{p}.attention.self.value"),
                ])?,
                attention_out: linear(&[&format!("{p}.attention.output.dense")])?,
                attention_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                intermediate: linear(&[&format!("{p}.intermediate.dense")])?,
                output: linear(&[&format!("{p}.output.dense")])?,
                output_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        let arena = Arc::new(arena);
        for l in &mut layers {
            for linear in [
                &mut l.qkv,
                &mut l.attention_out,
                &mut l.intermediate,
                &mut l.output,
            ] {
                linear.arena = Arc::clone(&arena);
            }
        }
        let bert = Self {
            word: flat("embeddings.word_embeddings.weight")?,
            position: flat("embeddings.position_embeddings.weight")?,
            token_type: flat("embeddings.token_type_embeddings.weight")?,
            embedding_norm: norm("embeddings.LayerNorm")?,
            layers,
            config,
        };
        let c = &bert.config;
        let shapes_ok = h.is_multiple_of(c.num_attention_heads)
            && bert.word.len() == c.vocab_size * h
            && bert.position.len() == c.max_position_embeddings * h
            && bert.token_type.len() >= h
            && bert.layers.iter().all(|l| {
                l.qkv.inputs == h
                    && l.qkv.outputs == 3 * h
                    && l.attention_out.outputs == h
                    && l.intermediate.outputs == c.intermediate_size
                    && l.output.inputs == c.intermediate_size
                    && l.output.outputs == h
            });
        if !shapes_ok {
            return Err(ModelError::Runtime(
                "model.safetensors does not match config.json".into(),
            ));
        }
        Ok(bert)
    }

    /// Mean-pooled, L2-normalised sentence vectors for tokenized sequences (ids including [CLS]/[SEP],
    /// no padding).
    pub fn embed(&self, sequences: &[&[u32]]) -> Result<Vec<Vec<f32>>, ModelError> {
        let c = &self.config;
        let h = c.hidden_size;
        let mut spans = Vec::with_capacity(sequences.len());
        let mut total = 0usize;
        for (i, s) in sequences.iter().enumerate() {
            if s.is_empty() || s.len() > c.max_position_embeddings {
                return Err(ModelError::InvalidInput(format!(
                    "sequence {i} has {} tokens; 1 to {} are supported",
                    s.len(),
                    c.max_position_embeddings
                )));
            }
            spans.push((total, s.len()));
            total += s.len();
        }
        let mut x = vec![0f32; total * h];
        for (s, &(start, _)) in sequences.iter().zip(&spans) {
            for (p, &id) in s.iter().enumerate() {
                let id = id as usize;
                if id >= c.vocab_size {
                    return Err(ModelError::InvalidInput(format!(
                        "token id {id} is outside the vocabulary"
                    )));
                }
                let row = &mut x[(start + p) * h..(start + p + 1) * h];
                let word = &self.word[id * h..(id + 1) * h];
                let pos = &self.position[p * h..(p + 1) * h];
                for (((v, w), q), t) in row.iter_mut().zip(word).zip(pos).zip(&self.token_type) {
                    *v = w + q + t;
                }
            }
        }
        self.embedding_norm.apply(&mut x);
        let mut qkv = vec![0f32; total * 3 * h];
        let mut context = vec![0f32; total * h];
        let mut projected = vec![0f32; total * h];
        let mut hidden = vec![0f32; total * c.intermediate_size];
        for layer in &self.layers {
            layer.qkv.forward(&x, &mut qkv);
            self.attention(&qkv, &spans, &mut context);
            layer.attention_out.forward(&context, &mut projected);
            for (v, p) in x.iter_mut().zip(&projected) {
                *v += p;
            }
            layer.attention_norm.apply(&mut x);
            layer.intermediate.forward(&x, &mut hidden);
            hidden.par_chunks_mut(c.intermediate_size).for_each(|row| {
                for v in row {
                    *v = gelu(*v);
                }
            });
            layer.output.forward(&hidden, &mut projected);
            for (v, p) in x.iter_mut().zip(&projected) {
                *v += p;
            }
            layer.output_norm.apply(&mut x);
        }
        Ok(spans
            .iter()
            .map(|&(start, len)| {
                let mut mean = vec![0f32; h];
                for row in x[start * h..(start + len) * h].chunks_exact(h) {
                    for (m, v) in mean.iter_mut().zip(row) {
                        *m += v;
                    }
                }
                // Normalising the sum is normalising the mean.
                let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                let scale = 1.0 / norm;
                for m in &mut mean {
                    *m *= scale;
                }
                mean
            })
            .collect())
    }

    /// Full (bidirectional) attention within each sequence; `qkv` rows are `[q | k | v]`.
    fn attention(&self, qkv: &[f32], spans: &[(usize, usize)], out: &mut [f32]) {
        let c = &self.config;
        let h = c.hidden_size;
        let heads = c.num_attention_heads;
        let d = h / heads;
        let scale = 1.0 / (d as f32).sqrt();
        // Split the output by sequence so each task owns its rows.
        let mut parts: Vec<(&(usize, usize), &mut [f32])> = Vec::with_capacity(spans.len());
        let mut rest = out;
        for span in spans {
            let (mine, tail) = rest.split_at_mut(span.1 * h);
            parts.push((span, mine));
            rest = tail;
        }
        parts.into_par_iter().for_each(|(&(start, len), out)| {
            let mut scores = vec![0f32; len];
            for head in 0..heads {
                for i in 0..len {
                    let q = &qkv[(start + i) * 3 * h + head * d..][..d];
                    let mut max = f32::NEG_INFINITY;
                    for (j, s) in scores.iter_mut().enumerate() {
                        let k = &qkv[(start + j) * 3 * h + h + head * d..][..d];
                        *s = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * scale;
                        max = max.max(*s);
                    }
                    let mut sum = 0f32;
                    for s in scores.iter_mut() {
                        *s = (*s - max).exp();
                        sum += *s;
                    }
                    let o = &mut out[i * h + head * d..][..d];
                    o.fill(0.0);
                    for (j, s) in scores.iter().enumerate() {
                        let w = s / sum;
                        let v = &qkv[(start + j) * 3 * h + 2 * h + head * d..][..d];
                        for (ov, vv) in o.iter_mut().zip(v) {
                            *ov += w * vv;
                        }
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_is_accurate() {
        // Reference values of erf.
        for (x, want) in [
            (0.0f32, 0.0f32),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (-1.5, -0.966_105_1),
            (3.0, 0.999_977_9),
        ] {
            assert!((erf(x) - want).abs() < 1e-6, "erf({x}) = {}", erf(x));
        }
    }
}
