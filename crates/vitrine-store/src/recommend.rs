//! Storage for the recommendation loop: impressions (what was shown, with how it was ranked), the reward
//! ledger (what it earned) and the model registry. Kept apart from [`Store`](crate::Store) so the core
//! system of record does not grow with every learning feature.

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One logged recommendation answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecImpression {
    /// The answer's id; outcome events carry it back.
    pub request_id: String,
    /// `similar`, `for_you` …
    pub surface: String,
    /// Logged-in shopper.
    pub user_id: Option<String>,
    /// Anonymous session.
    pub session_id: Option<String>,
    /// Product ids in shown order.
    pub items: Vec<String>,
    /// Per-item propensities, sources and features, the model version and context (engine-defined JSON).
    pub detail: serde_json::Value,
    /// Model version that ranked it (`None`: the untrained heuristic).
    pub model_version: Option<i64>,
    /// When it was served.
    pub at: DateTime<Utc>,
}

/// One line of the reward ledger: an outcome attributed to a shown product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RewardEntry {
    /// The outcome event.
    pub event_id: String,
    /// The answer credited.
    pub request_id: String,
    /// The product acted on.
    pub product_id: String,
    /// Its 0-based position in that answer.
    pub position: Option<u32>,
    /// `click`, `add_to_cart`, `purchase`, `return`, `review`.
    pub outcome: String,
    /// Reward value from the configured table (negative for returns).
    pub value: f64,
    /// `request_id` when the event named the answer, `window` when matched by shopper and time.
    pub attribution: String,
    /// When the outcome happened.
    pub at: DateTime<Utc>,
}

/// Totals of the ledger, for /metrics and reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RewardTotals {
    /// Impressions logged.
    pub impressions: i64,
    /// Ledger lines.
    pub outcomes: i64,
    /// Sum of reward values.
    pub reward: f64,
}

/// A trained model version in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    /// Increasing version number.
    pub version: i64,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Training window, feature schema, offline metrics, files (engine-defined JSON).
    pub manifest: serde_json::Value,
    /// Directory holding its files.
    pub path: String,
}

/// Which version serves, and which served before (for one-call rollback).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveModel {
    /// Serving version.
    pub version: i64,
    /// The version it replaced.
    pub previous: Option<i64>,
    /// When it was switched.
    pub changed_at: DateTime<Utc>,
}

/// Storage boundary of the recommendation loop.
#[async_trait]
pub trait RecStore: Send + Sync {
    /// Logs an answer durably (idempotent on `request_id`).
    async fn log_impressions(&self, impressions: &[RecImpression]) -> Result<()>;
    /// One logged answer.
    async fn impression(&self, request_id: &str) -> Result<Option<RecImpression>>;
    /// Answers served in `[from, to)`, oldest first, after rowid `after` (keyset paging): `(rowid, row)`.
    async fn impressions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, RecImpression)>>;
    /// Appends ledger lines; an (event, product) pair already credited is skipped. Returns lines written.
    async fn append_rewards(&self, entries: &[RewardEntry]) -> Result<u64>;
    /// Ledger lines of the answers served in `[from, to)`.
    async fn rewards_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RewardEntry>>;
    /// Ledger totals.
    async fn reward_totals(&self) -> Result<RewardTotals>;
    /// Registers a trained version and returns its number.
    async fn register_model(&self, manifest: &serde_json::Value, path: &str) -> Result<i64>;
    /// Every registered version, newest first.
    async fn model_versions(&self) -> Result<Vec<ModelVersion>>;
    /// Makes `version` the serving one; `Ok(None)` when no such version exists.
    async fn activate_model(&self, version: i64) -> Result<Option<ActiveModel>>;
    /// The serving version, if any was ever promoted.
    async fn active_model(&self) -> Result<Option<ActiveModel>>;
}
