//! Relevance evaluation.
