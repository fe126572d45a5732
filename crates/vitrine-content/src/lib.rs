//! # vitrine-content — governed product copy
//!
//! Writes product copy with a language model and keeps it honest. The pieces, in the order a job uses them:
//!
//! - [`prompt`] builds the messages from the product's data (instructions hidden in that data are stripped);
//! - [`writer`] generates N candidates through the model runtime's `Generator` trait, [`copy`] assembles
//!   each into sections, and [`validate`] checks it: [`facts`] (claims against the product's data),
//!   [`checks`] (brand voice, readability, SEO, prompt injection), folded into one
//!   [`report::ValidationReport`] with an overall confidence; the best candidate is kept;
//! - [`evalset`] measures the fact checker itself on altered and faithful copies of real descriptions.
//!
//! [`text`] and [`lexicon`] are shared by every check. This crate knows nothing of HTTP.

pub mod checks;
pub mod config;
pub mod copy;
mod error;
pub mod evalset;
pub mod facts;
pub mod jobs;
pub mod lexicon;
pub mod prompt;
pub mod report;
pub mod text;
pub mod validate;
pub mod workflow;
pub mod writer;

pub use config::{BrandVoice, ContentConfig};
pub use copy::ProductCopy;
pub use error::ContentError;
pub use report::ValidationReport;
pub use writer::{Attribution, CopyWriter, Written};
