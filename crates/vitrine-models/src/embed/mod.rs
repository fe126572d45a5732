//! Text embeddings: the [`Embedder`] trait, the local all-MiniLM-L6-v2 implementation, an embedding cache
//! and int8 scalar quantization for stored vectors.

mod batching;
mod bert;
mod bf16_kernel;
mod cache;
mod half_matmul;
mod local;
pub mod quantize;
pub mod tune;

pub use batching::BatchingEmbedder;
pub use cache::CachedEmbedder;
pub use local::{EmbedderStats, LocalEmbedder};

use crate::ModelError;
use async_trait::async_trait;

/// Largest input accepted per text, in bytes; longer texts are refused rather than silently cut in a way
/// the caller cannot see (the tokenizer still truncates at the model's token limit and counts it).
pub const MAX_TEXT_BYTES: usize = 200_000;
/// Most texts in one call.
pub const MAX_BATCH_TEXTS: usize = 2_048;

/// Turns texts into L2-normalised vectors (cosine similarity = dot product).
#[async_trait]
pub trait Embedder: Send + Sync {
    /// Model name, for responses and logs.
    fn model_name(&self) -> &str;
    /// Vector length.
    fn dimension(&self) -> usize;
    /// One vector per text, in input order.
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError>;
    /// [`Self::embed`] for a server under load. A backend that spreads one call over every core should
    /// run it on one: concurrent requests already keep the other cores busy, and a fork-join across busy
    /// cores waits for whichever of its threads the scheduler parked (a small gain in the search bench,
    /// see `docs/search.md`, session 21). Other backends just embed.
    async fn embed_on_one_core(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError> {
        self.embed(texts).await
    }
    /// The lower-case words of four or more letters the model reads as one whole token: ordinary
    /// language it learned ("filing", "bushes"), as opposed to misspellings, which it breaks into
    /// pieces. The search speller leaves such a word alone unless the catalog's titles back the
    /// change. Empty when the backend cannot tell (a remote model).
    fn language_words(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Validation shared by every backend, so bad input gets the same answer locally and remotely.
pub fn check_inputs(texts: &[String]) -> Result<(), ModelError> {
    if texts.is_empty() {
        return Err(ModelError::InvalidInput("no texts to embed".into()));
    }
    if texts.len() > MAX_BATCH_TEXTS {
        return Err(ModelError::InvalidInput(format!(
            "at most {MAX_BATCH_TEXTS} texts per call, got {}",
            texts.len()
        )));
    }
    for (i, t) in texts.iter().enumerate() {
        if t.trim().is_empty() {
            return Err(ModelError::InvalidInput(format!("text {i} is empty")));
        }
        if t.len() > MAX_TEXT_BYTES {
            return Err(ModelError::InvalidInput(format!(
                "text {i} is {} bytes; the limit is {MAX_TEXT_BYTES}",
                t.len()
            )));
        }
    }
    Ok(())
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
