//! Storage errors, split by what the caller can do about them.

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed the operation (disk full, locked too long, I/O error).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored row could not be read back into a domain value: a bug or outside tampering.
    #[error("stored data is corrupt ({what}): {detail}")]
    Corrupt {
        /// Which value.
        what: String,
        /// Why it could not be read.
        detail: String,
    },
    /// The requested change breaks a domain rule; nothing was written.
    #[error("invalid change: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<vitrine_core::FieldError>),
    /// The write was based on state that has changed since it was read (a concurrent edit, a stale
    /// transition); nothing was written.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store is shutting down and accepts no more writes.
    #[error("the store is shutting down")]
    Closed,
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>, detail: impl ToString) -> Self {
        Self::Corrupt {
            what: what.into(),
            detail: detail.to_string(),
        }
    }
}
