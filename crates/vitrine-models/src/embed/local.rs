//! all-MiniLM-L6-v2 in-process: Vitrine's packed BERT forward pass ([`super::bert`]) on the safetensors
//! weights, the model's own tokenizer.json, mean pooling over real tokens, L2 normalisation. Matches sentence-transformers (cosine ≥ 0.999 on the
//! fixture in `tests/fixtures/minilm_reference.json`).

use super::bert::{Bert, BertConfig};
use super::{check_inputs, Embedder};
use crate::{fetch, manifest::Manifest, ModelError};
use async_trait::async_trait;
use sha2::Digest;
use std::{
    path::Path,
    sync::{atomic::AtomicU64, atomic::Ordering, Arc},
};
use tokenizers::{Tokenizer, TruncationParams};

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
    /// The model's name, with the weights' hash when they are not the installed ones.
    name: String,
    model: Bert,
    /// The forward pass runs inside this pool so the calling thread works instead of waiting.
    threads: rayon::ThreadPool,
    /// A one-thread pool for [`Embedder::embed_on_one_core`].
    one_thread: rayon::ThreadPool,
    tokenizer: Tokenizer,
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
        Self::load_with_weights(models_dir, None)
    }

    /// Loads the installed model's tokenizer and configuration with other weights of the same
    /// architecture: a checkpoint fine-tuned on the store's own queries ([`super::tune`]). `None` is the
    /// installed weights.
    pub fn load_with_weights(
        models_dir: &Path,
        weights: Option<&Path>,
    ) -> Result<Self, ModelError> {
        let manifest = Manifest::builtin();
        let spec = manifest
            .model(MODEL_NAME)
            .ok_or_else(|| ModelError::Runtime("manifest lacks the embedder".into()))?;
        let dir = fetch::verify(models_dir, spec)?;
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).map_err(|source| ModelError::Io { path: p, source })
        };
        let config: BertConfig = serde_json::from_str(&read("config.json")?)
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
        // Sequences are packed, never padded.
        tokenizer.with_padding(None);
        let (weights, name) = match weights {
            None => (dir.join("model.safetensors"), MODEL_NAME.to_string()),
            Some(w) => {
                let bytes = std::fs::read(w).map_err(|source| ModelError::Io {
                    path: w.to_path_buf(),
                    source,
                })?;
                let digest = sha2::Sha256::digest(&bytes);
                let tag: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
                (w.to_path_buf(), format!("{MODEL_NAME}+tuned-{tag}"))
            }
        };
        let model = Bert::load(&weights, config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                name,
                model,
                threads: rayon::ThreadPoolBuilder::new()
                    .thread_name(|i| format!("vitrine-embed-{i}"))
                    .build()
                    .map_err(|e| ModelError::Runtime(format!("starting embedding threads: {e}")))?,
                one_thread: rayon::ThreadPoolBuilder::new()
                    .num_threads(1)
                    .thread_name(|_| "vitrine-embed-one".to_string())
                    .build()
                    .map_err(|e| ModelError::Runtime(format!("starting embedding threads: {e}")))?,
                tokenizer,
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

    /// Embeds on the calling thread (the matrix work is spread over all cores). Texts are sorted by length
    /// and batched; results come back in input order.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        self.embed_in(texts, &self.inner.threads)
    }

    /// [`Self::embed_blocking`] with the matrix work in `pool`.
    fn embed_in(
        &self,
        texts: &[String],
        pool: &rayon::ThreadPool,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
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
            let vectors = self.forward(&encodings, pool)?;
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

    fn forward(
        &self,
        encodings: &[tokenizers::Encoding],
        pool: &rayon::ThreadPool,
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        pool.install(|| self.inner.model.embed(&ids))
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn model_name(&self) -> &str {
        &self.inner.name
    }
    fn dimension(&self) -> usize {
        384
    }
    fn language_words(&self) -> Vec<String> {
        let mut words: Vec<String> = self
            .inner
            .tokenizer
            .get_vocab(false)
            .into_keys()
            .filter(|w| w.chars().count() >= 4 && w.chars().all(|c| c.is_lowercase()))
            .collect();
        words.sort_unstable();
        words
    }
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError> {
        check_inputs(&texts)?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.embed_blocking(&texts))
            .await
            .map_err(|e| ModelError::Runtime(format!("embedding task failed: {e}")))?
    }
    async fn embed_on_one_core(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError> {
        check_inputs(&texts)?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.embed_in(&texts, &me.inner.one_thread))
            .await
            .map_err(|e| ModelError::Runtime(format!("embedding task failed: {e}")))?
    }
}
