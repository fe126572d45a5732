//! A Llama-architecture forward pass over quantized GGUF weights, written for decoding several sequences
//! at once on a small CPU.
//!
//! Why not candle's `quantized_llama`: it keeps one KV cache per model instance (so N concurrent
//! sequences need N copies of the weights), concatenates the cache every step, and streams every weight
//! matrix once per sequence. Here the weights are shared and read once per step for every sequence in
//! the step; each sequence owns a preallocated [`KvCache`]; a prompt is processed as one batch; and a
//! cache can be cloned so best-of-N candidates share one prompt pass. Correctness is checked against
//! candle's implementation on the same file (`tests/local_models.rs`).

mod kernels;
mod quant;

use crate::ModelError;
use candle_core::quantized::gguf_file;
pub use quant::QMatrix;
use quant::{quantize_activations, ActBlock};
use rayon::prelude::*;
use std::io::{Read, Seek};

/// The architecture numbers read from the GGUF metadata.
#[derive(Debug, Clone)]
pub struct LlamaConfig {
    /// Residual width.
    pub dim: usize,
    /// Attention heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention).
    pub kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// RMSNorm epsilon.
    pub norm_eps: f32,
    /// RoPE base frequency.
    pub rope_base: f32,
    /// Longest context the model was trained for.
    pub context_length: usize,
    /// Vocabulary size (rows of the output head).
    pub vocab: usize,
}

struct Layer {
    attn_norm: Vec<f32>,
    wq: QMatrix,
    wk: QMatrix,
    wv: QMatrix,
    wo: QMatrix,
    ffn_norm: Vec<f32>,
    gate: QMatrix,
    up: QMatrix,
    down: QMatrix,
}

/// The weights of a Llama-family model, shared read-only by every sequence.
pub struct Llama {
    config: LlamaConfig,
    embeddings: QMatrix,
    layers: Vec<Layer>,
    norm: Vec<f32>,
    /// `None` when the output head is tied to the embeddings.
    output: Option<QMatrix>,
}

/// Keys and values of one sequence, preallocated for `capacity` positions:
/// `[layer][kv_head][position][head_dim]`.
#[derive(Clone)]
pub struct KvCache {
    keys: Vec<f32>,
    values: Vec<f32>,
    capacity: usize,
    len: usize,
}

fn meta_u32(content: &gguf_file::Content, key: &str) -> Result<usize, ModelError> {
    content
        .metadata
        .get(key)
        .and_then(|v| v.to_u32().ok())
        .map(|v| v as usize)
        .ok_or_else(|| ModelError::Runtime(format!("GGUF metadata lacks {key}")))
}

fn meta_f32(content: &gguf_file::Content, key: &str, default: f32) -> f32 {
    content
        .metadata
        .get(key)
        .and_then(|v| v.to_f32().ok())
        .unwrap_or(default)
}

fn rms_norm_into(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let mean_square = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let scale = 1.0 / (mean_square + eps).sqrt();
    for ((o, v), w) in out.iter_mut().zip(x).zip(weight) {
        *o = v * scale * w;
    }
}

/// Rotates consecutive pairs of every head by the position's angles (`cos_sin` holds `(cos, sin)` per
/// pair). GGUF stores Q/K permuted for this "interleaved" form.
fn rope(x: &mut [f32], head_dim: usize, cos_sin: &[(f32, f32)]) {
    for head in x.chunks_exact_mut(head_dim) {
        for (pair, &(cos, sin)) in head.chunks_exact_mut(2).zip(cos_sin) {
            let (a, b) = (pair[0], pair[1]);
            pair[0] = a * cos - b * sin;
            pair[1] = a * sin + b * cos;
        }
    }
}

/// One token to process: which cache (sequence) it belongs to and its id. Its position is the next free
/// position of that cache, in the order tokens of the same sequence are given.
#[derive(Debug, Clone, Copy)]
pub struct StepToken {
    /// Index into the `caches` passed to [`Llama::forward`].
    pub sequence: usize,
    /// Token id.
    pub token: u32,
}

impl Llama {
    /// Reads a Llama-architecture GGUF.
    pub fn from_gguf<R: Read + Seek>(
        content: &gguf_file::Content,
        reader: &mut R,
    ) -> Result<Self, ModelError> {
        let dim = meta_u32(content, "llama.embedding_length")?;
        let heads = meta_u32(content, "llama.attention.head_count")?;
        let kv_heads = meta_u32(content, "llama.attention.head_count_kv").unwrap_or(heads);
        let layers_n = meta_u32(content, "llama.block_count")?;
        if heads == 0 || kv_heads == 0 || dim % heads != 0 || heads % kv_heads != 0 {
            return Err(ModelError::Runtime(format!(
                "unsupported head layout: {heads} heads, {kv_heads} kv heads, width {dim}"
            )));
        }
        let read_vector = |reader: &mut R, name: &str| -> Result<Vec<f32>, ModelError> {
            content
                .tensor(reader, name, &candle_core::Device::Cpu)
                .and_then(|t| t.dequantize(&candle_core::Device::Cpu))
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| ModelError::Runtime(format!("GGUF tensor {name}: {e}")))
        };
        let read_matrix = |reader: &mut R, name: &str| -> Result<QMatrix, ModelError> {
            let t = content
                .tensor(reader, name, &candle_core::Device::Cpu)
                .map_err(|e| ModelError::Runtime(format!("GGUF tensor {name}: {e}")))?;
            QMatrix::from_qtensor(&t)
        };
        let embeddings = read_matrix(reader, "token_embd.weight")?;
        let norm = read_vector(reader, "output_norm.weight")?;
        let output = if content.tensor_infos.contains_key("output.weight") {
            Some(read_matrix(reader, "output.weight")?)
        } else {
            None
        };
        let mut layers = Vec::with_capacity(layers_n);
        for i in 0..layers_n {
            let p = format!("blk.{i}");
            layers.push(Layer {
                attn_norm: read_vector(reader, &format!("{p}.attn_norm.weight"))?,
                wq: read_matrix(reader, &format!("{p}.attn_q.weight"))?,
                wk: read_matrix(reader, &format!("{p}.attn_k.weight"))?,
                wv: read_matrix(reader, &format!("{p}.attn_v.weight"))?,
                wo: read_matrix(reader, &format!("{p}.attn_output.weight"))?,
                ffn_norm: read_vector(reader, &format!("{p}.ffn_norm.weight"))?,
                gate: read_matrix(reader, &format!("{p}.ffn_gate.weight"))?,
                up: read_matrix(reader, &format!("{p}.ffn_up.weight"))?,
                down: read_matrix(reader, &format!("{p}.ffn_down.weight"))?,
            });
        }
        let head_dim = dim / heads;
        let vocab = output.as_ref().unwrap_or(&embeddings).rows();
        let config = LlamaConfig {
            dim,
            heads,
            kv_heads,
            head_dim,
            layers: layers_n,
            norm_eps: meta_f32(content, "llama.attention.layer_norm_rms_epsilon", 1e-5),
            rope_base: meta_f32(content, "llama.rope.freq_base", 10_000.0),
            context_length: meta_u32(content, "llama.context_length").unwrap_or(2048),
            vocab,
        };
        let kv_width = kv_heads * head_dim;
        for (i, l) in layers.iter().enumerate() {
            let ok = l.wq.rows() == dim
                && l.wk.rows() == kv_width
                && l.wv.rows() == kv_width
                && l.wo.rows() == dim
                && l.gate.rows() == l.up.rows()
                && l.down.cols() == l.gate.rows()
                && l.attn_norm.len() == dim
                && l.ffn_norm.len() == dim;
            if !ok {
                return Err(ModelError::Runtime(format!(
                    "layer {i} has shapes that do not fit the metadata"
                )));
            }
        }
        Ok(Self {
            config,
            embeddings,
            layers,
            norm,
            output,
        })
    }

    /// The architecture.
    pub fn config(&self) -> &LlamaConfig {
        &self.config
    }

    /// An empty cache able to hold `capacity` positions.
    pub fn new_cache(&self, capacity: usize) -> KvCache {
        let c = &self.config;
        let size = c.layers * c.kv_heads * capacity * c.head_dim;
        KvCache {
            keys: vec![0.0; size],
            values: vec![0.0; size],
            capacity,
            len: 0,
        }
    }

    fn cache_offset(&self, cache: &KvCache, layer: usize, kv_head: usize, pos: usize) -> usize {
        let c = &self.config;
        ((layer * c.kv_heads + kv_head) * cache.capacity + pos) * c.head_dim
    }

    /// Runs `tokens` through the model, appending their keys and values to their sequences' caches, and
    /// returns the logits of each token listed in `logits_for` (indices into `tokens`), in that order.
    pub fn forward(
        &self,
        caches: &mut [KvCache],
        tokens: &[StepToken],
        logits_for: &[usize],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let c = &self.config;
        let n = tokens.len();
        let mut positions = Vec::with_capacity(n);
        let mut next: Vec<usize> = caches.iter().map(|k| k.len).collect();
        for t in tokens {
            let slot = next.get_mut(t.sequence).ok_or_else(|| {
                ModelError::Runtime(format!("no cache for sequence {}", t.sequence))
            })?;
            if *slot >= caches[t.sequence].capacity {
                return Err(ModelError::InvalidInput(format!(
                    "sequence {} is longer than its cache of {} positions",
                    t.sequence, caches[t.sequence].capacity
                )));
            }
            if t.token as usize >= c.vocab {
                return Err(ModelError::InvalidInput(format!(
                    "token id {} is outside the vocabulary of {}",
                    t.token, c.vocab
                )));
            }
            positions.push(*slot);
            *slot += 1;
        }
        let (dim, hd) = (c.dim, c.head_dim);
        let kv_width = c.kv_heads * hd;
        let angles: Vec<Vec<(f32, f32)>> = positions
            .iter()
            .map(|&p| {
                (0..hd / 2)
                    .map(|i| (p as f32 * c.rope_base.powf(-((2 * i) as f32) / hd as f32)).sin_cos())
                    .map(|(sin, cos)| (cos, sin))
                    .collect()
            })
            .collect();
        let mut x = vec![0f32; n * dim];
        for (t, row) in tokens.iter().zip(x.chunks_exact_mut(dim)) {
            self.embeddings.dequantize_row(t.token as usize, row);
        }
        let mut h = vec![0f32; n * dim];
        let mut acts: Vec<ActBlock> = Vec::new();
        let mut q = vec![0f32; n * dim];
        let mut k = vec![0f32; n * kv_width];
        let mut v = vec![0f32; n * kv_width];
        let mut attn = vec![0f32; n * dim];
        let mut proj = vec![0f32; n * dim];
        for (li, layer) in self.layers.iter().enumerate() {
            for (xr, hr) in x.chunks_exact(dim).zip(h.chunks_exact_mut(dim)) {
                rms_norm_into(xr, &layer.attn_norm, c.norm_eps, hr);
            }
            acts.clear();
            quantize_activations(&h, &mut acts);
            layer.wq.matmul(&acts, &mut q);
            layer.wk.matmul(&acts, &mut k);
            layer.wv.matmul(&acts, &mut v);
            for i in 0..n {
                rope(&mut q[i * dim..(i + 1) * dim], hd, &angles[i]);
                rope(&mut k[i * kv_width..(i + 1) * kv_width], hd, &angles[i]);
                let cache = &mut caches[tokens[i].sequence];
                for kh in 0..c.kv_heads {
                    let at = self.cache_offset(cache, li, kh, positions[i]);
                    let src = i * kv_width + kh * hd;
                    cache.keys[at..at + hd].copy_from_slice(&k[src..src + hd]);
                    cache.values[at..at + hd].copy_from_slice(&v[src..src + hd]);
                }
            }
            self.attention(caches, tokens, &positions, li, &q, &mut attn);
            acts.clear();
            quantize_activations(&attn, &mut acts);
            layer.wo.matmul(&acts, &mut proj);
            for (xv, p) in x.iter_mut().zip(&proj) {
                *xv += p;
            }
            for (xr, hr) in x.chunks_exact(dim).zip(h.chunks_exact_mut(dim)) {
                rms_norm_into(xr, &layer.ffn_norm, c.norm_eps, hr);
            }
            acts.clear();
            quantize_activations(&h, &mut acts);
            let hidden = layer.gate.rows();
            let mut gate = vec![0f32; n * hidden];
            let mut up = vec![0f32; n * hidden];
            layer.gate.matmul(&acts, &mut gate);
            layer.up.matmul(&acts, &mut up);
            for (g, u) in gate.iter_mut().zip(&up) {
                *g = *g / (1.0 + (-*g).exp()) * u;
            }
            acts.clear();
            quantize_activations(&gate, &mut acts);
            layer.down.matmul(&acts, &mut proj);
            for (xv, p) in x.iter_mut().zip(&proj) {
                *xv += p;
            }
        }
        for (cache, end) in caches.iter_mut().zip(next) {
            cache.len = end;
        }
        let head = self.output.as_ref().unwrap_or(&self.embeddings);
        acts.clear();
        let mut normed = vec![0f32; dim];
        for &i in logits_for {
            let row = x
                .get(i * dim..(i + 1) * dim)
                .ok_or_else(|| ModelError::Runtime(format!("no token {i} for logits")))?;
            rms_norm_into(row, &self.norm, c.norm_eps, &mut normed);
            quantize_activations(&normed, &mut acts);
        }
        let mut logits = vec![0f32; logits_for.len() * c.vocab];
        if !logits_for.is_empty() {
            head.matmul(&acts, &mut logits);
        }
        Ok(logits.chunks_exact(c.vocab).map(<[f32]>::to_vec).collect())
    }

    /// Causal attention of every token over its own sequence's cache (positions up to its own).
    fn attention(
        &self,
        caches: &[KvCache],
        tokens: &[StepToken],
        positions: &[usize],
        layer: usize,
        q: &[f32],
        out: &mut [f32],
    ) {
        let dim = self.config.dim;
        out.par_chunks_mut(dim)
            .enumerate()
            .for_each(|(i, out_row)| {
                self.attend(
                    &caches[tokens[i].sequence],
                    positions[i] + 1,
                    layer,
                    &q[i * dim..(i + 1) * dim],
                    out_row,
                )
            });
    }

    /// One token's attention over the first `upto` positions of its cache, all heads.
    #[inline(never)]
    fn attend(&self, cache: &KvCache, upto: usize, layer: usize, q: &[f32], out_row: &mut [f32]) {
        let c = &self.config;
        let hd = c.head_dim;
        let group = c.heads / c.kv_heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut scores = vec![0f32; upto];
        for head in 0..c.heads {
            let kh = head / group;
            let qh = &q[head * hd..(head + 1) * hd];
            let base = self.cache_offset(cache, layer, kh, 0);
            let mut max = f32::NEG_INFINITY;
            for (p, s) in scores.iter_mut().enumerate() {
                let key = &cache.keys[base + p * hd..base + (p + 1) * hd];
                *s = qh.iter().zip(key).map(|(a, b)| a * b).sum::<f32>() * scale;
                max = max.max(*s);
            }
            let mut total = 0f32;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                total += *s;
            }
            let o = &mut out_row[head * hd..(head + 1) * hd];
            o.fill(0.0);
            for (p, s) in scores.iter().enumerate() {
                let w = s / total;
                let value = &cache.values[base + p * hd..base + (p + 1) * hd];
                for (ov, vv) in o.iter_mut().zip(value) {
                    *ov += w * vv;
                }
            }
        }
    }
}
