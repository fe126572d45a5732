//! # vitrine-content — governed product copy
//!
//! Writes product copy with a language model and keeps it honest. The pieces, in the order a job uses them:
//!
//! - [`text`] and [`lexicon`]: words with spans, and the vocabularies claims are recognised by;
//! - [`facts`]: claims in the copy checked against the product's own data;
//! - [`checks`]: brand voice, readability, SEO and prompt-injection checks, and [`validate`] which runs them
//!   all into one [`report::ValidationReport`] with an overall confidence;
//! - [`evalset`]: the fact checker's own measurement (altered vs faithful copies of real descriptions).
//!
//! This crate knows nothing of HTTP: the server and CLI call it.

pub mod evalset;
pub mod facts;
pub mod lexicon;
pub mod report;
pub mod text;
