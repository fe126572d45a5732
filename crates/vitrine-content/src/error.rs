//! Errors of the content engine.

/// What can go wrong writing, validating or moving copy through the workflow.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// Input that cannot be used, with the reason.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A product, version or job that does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A write based on a stale version, or a transition the state does not allow.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The generation backend failed (timeout, bad reply, missing model).
    #[error("generation failed: {0}")]
    Model(#[from] vitrine_models::ModelError),
    /// Storage failed.
    #[error("storage failed: {0}")]
    Store(#[from] vitrine_store::StoreError),
}
