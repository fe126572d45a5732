//! all-MiniLM-L6-v2 in-process: candle's BERT on the safetensors weights, the model's own tokenizer.json,
//! mean pooling over real tokens, L2 normalisation. Matches sentence-transformers (cosine ≥ 0.999 on the
//! fixture in `tests/fixtures/minilm_reference.json`).

use super::{check_inputs, Embedder};
use crate::{fetch, manifest::Manifest, ModelError};
use async_trait::async_trait;
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::{
    path::Path,
    sync::{atomic::AtomicU64, atomic::Ordering, Arc},
};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Name of the model in the manifest.
pub const MODEL_NAME: &str = "all-minilm-l6-v2";

/// Counters exported to `/metrics`.
#[derive(Debug, Default)]
pub struct EmbedderStats {
    /// Texts embedded.
    pub texts: AtomicU64,
    /// Texts cut at the model's token limit.
    pub truncated: AtomicU64,
    /// Forward passes.
    pub batches: AtomicU64,
}

struct Inner {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    max_tokens: usize,
    batch_size: usize,
}

/// The local sentence encoder. Cheap to clone (shared weights).
#[derive(Clone)]
pub struct LocalEmbedder {
    inner: Arc<Inner>,
    /// Usage counters.
    pub stats: Arc<EmbedderStats>,
}

#[derive(serde::Deserialize)]
struct SentenceBertConfig {
    max_seq_length: usize,
}

impl LocalEmbedder {
    /// Loads (after verifying every file's sha256) from the models directory.
    pub fn load(models_dir: &Path) -> Result<Self, ModelError> {
        let manifest = Manifest::builtin();
        let spec = manifest
            .model(MODEL_NAME)
            .ok_or_else(|| ModelError::Runtime("manifest lacks the embedder".into()))?;
        let dir = fetch::verify(models_dir, spec)?;
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).map_err(|source| ModelError::Io { path: p, source })
        };
        let config: Config = serde_json::from_str(&read("config.json")?)
            .map_err(|e| ModelError::Runtime(format!("config.json: {e}")))?;
        let sbert: SentenceBertConfig =
            serde_json::from_str(&read("sentence_bert_config.json")?)
                .map_err(|e| ModelError::Runtime(format!("sentence_bert_config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| ModelError::Runtime(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: sbert.max_seq_length,
                ..Default::default()
            }))
            .map_err(|e| ModelError::Runtime(format!("tokenizer truncation: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        let device = Device::Cpu;
        // SAFETY: the file was verified above and is not modified while mapped (models are read-only).
        let vb = unsafe {
            VarBuilder::from_mmaped_safetensors(
                &[dir.join("model.safetensors")],
                DType::F32,
                &device,
            )?
        };
        let model = BertModel::load(vb, &config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                model,
                tokenizer,
                device,
                max_tokens: sbert.max_seq_length,
                batch_size: 64,
            }),
            stats: Arc::new(EmbedderStats::default()),
        })
    }

    /// Token limit (longer texts are truncated and counted in `stats.truncated`).
    pub fn max_tokens(&self) -> usize {
        self.inner.max_tokens
    }

    /// Embeds on the calling thread (candle parallelises the matrix work over all cores). Texts are sorted by
    /// length and batched so padding stays small; results come back in input order.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        check_inputs(texts)?;
        let inner = &self.inner;
        let tok = |t: &str| {
            inner
                .tokenizer
                .encode(t, true)
                .map_err(|e| ModelError::Runtime(format!("tokenizer: {e}")))
        };
        let mut lengths: Vec<(usize, usize)> = Vec::with_capacity(texts.len());
        for (i, t) in texts.iter().enumerate() {
            // Byte length is a cheap proxy for token count when ordering.
            lengths.push((t.len(), i));
        }
        lengths.sort_unstable();
        let mut out = vec![Vec::new(); texts.len()];
        for chunk in lengths.chunks(inner.batch_size) {
            let batch: Vec<&str> = chunk.iter().map(|&(_, i)| texts[i].as_str()).collect();
            let encodings = if batch.len() == 1 {
                vec![tok(batch[0])?]
            } else {
                inner
                    .tokenizer
                    .encode_batch(batch, true)
                    .map_err(|e| ModelError::Runtime(format!("tokenizer: {e}")))?
            };
            let truncated = encodings
                .iter()
                .filter(|e| !e.get_overflowing().is_empty())
                .count();
            self.stats
                .truncated
                .fetch_add(truncated as u64, Ordering::Relaxed);
            let vectors = self.forward(&encodings)?;
            for (&(_, i), v) in chunk.iter().zip(vectors) {
                out[i] = v;
            }
            self.stats.batches.fetch_add(1, Ordering::Relaxed);
        }
        self.stats
            .texts
            .fetch_add(texts.len() as u64, Ordering::Relaxed);
        Ok(out)
    }

    fn forward(&self, encodings: &[tokenizers::Encoding]) -> Result<Vec<Vec<f32>>, ModelError> {
        let inner = &self.inner;
        let n = encodings.len();
        let len = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0);
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in encodings {
            // Single encodings are not padded by the tokenizer; pad here.
            ids.extend(
                e.get_ids()
                    .iter()
                    .copied()
                    .chain(std::iter::repeat(0))
                    .take(len),
            );
            mask.extend(
                e.get_attention_mask()
                    .iter()
                    .copied()
                    .chain(std::iter::repeat(0))
                    .take(len),
            );
        }
        let ids = Tensor::from_vec(ids, (n, len), &inner.device)?;
        let mask = Tensor::from_vec(mask, (n, len), &inner.device)?;
        let types = ids.zeros_like()?;
        let hidden = inner.model.forward(&ids, &types, Some(&mask))?; // (n, len, 384)
        let mask_f = mask.to_dtype(DType::F32)?.unsqueeze(2)?; // (n, len, 1)
        let summed = hidden.broadcast_mul(&mask_f)?.sum(1)?; // (n, 384)
        let counts = mask_f.sum(1)?.clamp(1e-9, f64::MAX)?; // (n, 1)
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        let normalised = mean.broadcast_div(&norm)?;
        Ok(normalised.to_vec2::<f32>()?)
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn model_name(&self) -> &str {
        MODEL_NAME
    }
    fn dimension(&self) -> usize {
        384
    }
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError> {
        check_inputs(&texts)?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.embed_blocking(&texts))
            .await
            .map_err(|e| ModelError::Runtime(format!("embedding task failed: {e}")))?
    }
}
