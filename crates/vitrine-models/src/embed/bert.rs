//! A BERT encoder forward pass (all-MiniLM-L6-v2) over packed sequences.
//!
//! Why our own instead of candle's `BertModel`: a batch of titles is mostly tiny matrices. candle pads every
//! sequence to the longest, runs attention as hundreds of small batched matmuls per layer and allocates a
//! tensor per operation; it reached 0.37× ONNX Runtime. Here the tokens of all sequences are packed into
//! one matrix (no padding), the four projections per layer are single matrix products over f16-stored
//! weights (`half_matmul`: half the memory traffic, which is what a single query pays for), and
//! attention, LayerNorm and GELU are plain loops over each sequence, run in parallel. Checked against sentence-transformers (cosine ≥ 0.999) by the fixture test in
//! `tests/local_models.rs`.

use super::half_matmul::HalfWeights;
use crate::ModelError;
use candle_core::{safetensors, Device, Tensor};
use rayon::prelude::*;
use std::{collections::HashMap, path::Path};

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

/// A linear layer; its weight is stored in 16 bits (f16, or bf16 with AVX-512 BF16), panel-packed (see `half_matmul`).
struct Linear {
    weight: HalfWeights,
    bias: Vec<f32>,
}

impl Linear {
    /// Builds from PyTorch `[out][in]` weights (several are concatenated along `out`: fused Q, K, V).
    fn from_parts(parts: &[(&Tensor, &Tensor)]) -> Result<Self, ModelError> {
        let mut rows: Vec<Vec<f32>> = Vec::new();
        let mut bias = Vec::new();
        for (w, b) in parts {
            rows.extend(w.to_vec2::<f32>()?);
            bias.extend(b.to_vec1::<f32>()?);
        }
        let inputs = rows.first().map_or(0, Vec::len);
        if bias.len() != rows.len() || rows.iter().any(|r| r.len() != inputs) {
            return Err(ModelError::Runtime(
                "a linear layer has inconsistent shapes".into(),
            ));
        }
        Ok(Self {
            weight: HalfWeights::pack(&rows, inputs),
            bias,
        })
    }

    fn inputs(&self) -> usize {
        self.weight.inputs()
    }

    fn outputs(&self) -> usize {
        self.weight.outputs()
    }

    /// `out[t] = x[t] · W + b` for every row `t` of `x`.
    fn forward(&self, x: &[f32], out: &mut [f32]) {
        for row in out.chunks_exact_mut(self.bias.len()) {
            row.copy_from_slice(&self.bias);
        }
        self.weight.matmul_acc(x, out);
    }
}

struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    fn apply(&self, x: &mut [f32]) {
        // A query's dozen rows are not worth a fork-join.
        x.par_chunks_mut(self.weight.len())
            .with_min_len(32)
            .for_each(|row| {
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

/// erf in f32 as a rational function of x (odd numerator, even denominator over x²; the approximation
/// XLA and Eigen use, accurate to a few ulp): no exp and no branch, so the GELU loop vectorizes. BERT's
/// GELU is the exact, erf one; beyond |x| = 4 erf is ±1 in f32.
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2.mul_add(-2.726_142_3e-10, 2.770_681_4e-8);
    for c in [
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.954_6e-3,
        -1.609_603_3e-2,
    ] {
        p = x2.mul_add(p, c);
    }
    let mut q = x2.mul_add(-1.456_607_2e-5, -2.133_740_6e-4);
    for c in [-1.682_827e-3, -7.373_329_2e-3, -1.426_474e-2] {
        q = x2.mul_add(q, c);
    }
    x * p / q
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
        let linear = |names: &[&str]| -> Result<Linear, ModelError> {
            let parts: Vec<(&Tensor, &Tensor)> = names
                .iter()
                .map(|n| Ok((get(&format!("{n}.weight"))?, get(&format!("{n}.bias"))?)))
                .collect::<Result<_, ModelError>>()?;
            Linear::from_parts(&parts)
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
                l.qkv.inputs() == h
                    && l.qkv.outputs() == 3 * h
                    && l.attention_out.outputs() == h
                    && l.intermediate.outputs() == c.intermediate_size
                    && l.output.inputs() == c.intermediate_size
                    && l.output.outputs() == h
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
            hidden
                .par_chunks_mut(c.intermediate_size)
                .with_min_len(16)
                .for_each(|row| {
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
        let out_len = out.len();
        let out_addr = out.as_mut_ptr() as usize;
        // One task per (sequence, head): a lone query still uses every thread.
        (0..spans.len() * heads).into_par_iter().for_each(|item| {
            let ((start, len), head) = (spans[item / heads], item % heads);
            // SAFETY: this task writes only columns head·d..(head+1)·d of its own sequence's rows;
            // (sequence, head) pairs are disjoint, and `out` outlives the parallel loop.
            let out = unsafe { std::slice::from_raw_parts_mut(out_addr as *mut f32, out_len) };
            let mut scores = vec![0f32; len];
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
                let o = &mut out[(start + i) * h + head * d..][..d];
                o.fill(0.0);
                for (j, s) in scores.iter().enumerate() {
                    let w = s / sum;
                    let v = &qkv[(start + j) * 3 * h + 2 * h + head * d..][..d];
                    for (ov, vv) in o.iter_mut().zip(v) {
                        *ov += w * vv;
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
            (0.1, 0.112_462_92),
            (2.0, 0.995_322_3),
            (-0.3, -0.328_626_8),
            (5.0, 1.0),
            (-7.0, -1.0),
        ] {
            assert!((erf(x) - want).abs() < 1e-6, "erf({x}) = {}", erf(x));
        }
    }
}
