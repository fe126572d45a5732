//! History of the search rules: every version that was put in force, with who did it and why.
//!
//! The rules file stays the one source of the rules in force (a restart reads it). This history is what
//! lets a merchandiser see who changed a boost last Tuesday and put the week before back in one call.
//! Kept apart from [`Store`](crate::Store) like the recommendation loop's storage.

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One version of the rules file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RulesVersion {
    /// Increasing from 1.
    pub version: i64,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// Who: the name given through the API, or `file` for an edit made on disk.
    pub actor: String,
    /// How: `api`, `rollback`, `file` (the watcher saw the file change) or `startup`.
    pub source: String,
    /// Free text, e.g. which version a rollback restored.
    pub note: Option<String>,
    /// The whole rules text.
    pub text: String,
}

/// What to record.
#[derive(Debug, Clone, Copy)]
pub struct NewRulesVersion<'a> {
    /// The whole rules text.
    pub text: &'a str,
    /// Who.
    pub actor: &'a str,
    /// How (`api`, `rollback`, `file`, `startup`).
    pub source: &'a str,
    /// Why.
    pub note: Option<&'a str>,
}

/// Outcome of [`RulesHistory::record_rules`].
#[derive(Debug, Clone, PartialEq)]
pub enum RulesRecorded {
    /// A new version was written.
    New(RulesVersion),
    /// The text equals the newest version's, so nothing was written (the file watcher seeing an API
    /// edit, or a restart with an unchanged file, must not add versions).
    Unchanged(RulesVersion),
}

impl RulesRecorded {
    /// The version now newest, whether or not this call wrote it.
    pub fn version(&self) -> &RulesVersion {
        match self {
            RulesRecorded::New(v) | RulesRecorded::Unchanged(v) => v,
        }
    }
}

/// Storage of the rules history.
#[async_trait]
pub trait RulesHistory: Send + Sync {
    /// Records `new` as the newest version unless its text equals the newest version's.
    async fn record_rules(&self, new: NewRulesVersion<'_>) -> Result<RulesRecorded>;
    /// Versions newest first, at most `limit`, older than `before` when given (keyset paging).
    async fn rules_versions(&self, before: Option<i64>, limit: u32) -> Result<Vec<RulesVersion>>;
    /// One version.
    async fn rules_version(&self, version: i64) -> Result<Option<RulesVersion>>;
    /// The newest version, if any was recorded.
    async fn latest_rules(&self) -> Result<Option<RulesVersion>> {
        Ok(self.rules_versions(None, 1).await?.into_iter().next())
    }
}
