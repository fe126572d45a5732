//! Storage for governed copy: versions, the audit trail, generation jobs and the webhook outbox. Workflow
//! rules live in `vitrine-content`; this layer applies each decided change atomically and refuses it when
//! the state it was decided on has moved (optimistic concurrency), so no edit or approval is lost silently.

use crate::Result;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One stored version of a product's copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentVersion {
    /// Product.
    pub product_id: String,
    /// 1, 2, … per product.
    pub version: i64,
    /// Workflow state.
    pub state: String,
    /// The copy (engine-defined JSON).
    pub copy: serde_json::Value,
    /// Its validation report.
    pub report: serde_json::Value,
    /// Overall confidence from the report.
    pub confidence: f64,
    /// Who/what made it.
    pub attribution: serde_json::Value,
    /// Job that generated it.
    pub job_id: Option<String>,
    /// Version a human edit started from.
    pub based_on: Option<i64>,
    /// `job:<id>`, a user name, …
    pub created_by: String,
    /// When it was stored.
    pub created_at: DateTime<Utc>,
    /// Who approved or rejected it.
    pub reviewed_by: Option<String>,
    /// Why.
    pub review_reason: Option<String>,
}

/// A version to insert (its number is assigned by the store).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewContentVersion {
    /// Product.
    pub product_id: String,
    /// Initial state.
    pub state: String,
    /// The copy.
    pub copy: serde_json::Value,
    /// Its validation report.
    pub report: serde_json::Value,
    /// Overall confidence.
    pub confidence: f64,
    /// Who/what made it.
    pub attribution: serde_json::Value,
    /// Job that generated it.
    pub job_id: Option<String>,
    /// Version an edit started from.
    pub based_on: Option<i64>,
    /// Creator.
    pub created_by: String,
}

/// One state change of an existing version; refused unless the version is still in `from`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Product.
    pub product_id: String,
    /// Version.
    pub version: i64,
    /// State it must be in now.
    pub from: String,
    /// State it moves to.
    pub to: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: Option<String>,
    /// Record `actor`/`reason` as the version's review.
    pub review: bool,
}

/// Everything one workflow step writes, applied in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentChange {
    /// A new version, if any (its audit row is written too).
    pub insert: Option<NewContentVersion>,
    /// Refuse the insert unless the product's latest version is this (`Some(None)`: no version yet).
    pub expected_latest: Option<Option<i64>>,
    /// State changes of existing versions.
    pub transitions: Vec<Transition>,
    /// Marks this job item done with the inserted version.
    pub job_item: Option<(String, String)>,
    /// Webhook payloads to enqueue.
    pub webhooks: Vec<serde_json::Value>,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Product.
    pub product_id: String,
    /// Version.
    pub version: i64,
    /// Previous state (`None` when created).
    pub from_state: Option<String>,
    /// New state.
    pub to_state: String,
    /// Who.
    pub actor: String,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A generation job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentJob {
    /// Id.
    pub id: String,
    /// How it was specified.
    pub spec: serde_json::Value,
    /// `queued`, `running`, `done`, `failed`.
    pub status: String,
    /// Products in the job.
    pub total: i64,
    /// Products done.
    pub done: i64,
    /// Products given up on.
    pub failed: i64,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Why it failed.
    pub error: Option<String>,
}

/// One product of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobItem {
    /// Job.
    pub job_id: String,
    /// Product.
    pub product_id: String,
    /// `pending`, `done`, `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Version made.
    pub version: Option<i64>,
    /// Last error.
    pub error: Option<String>,
}

/// A due webhook event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// Outbox sequence.
    pub seq: i64,
    /// JSON body.
    pub payload: serde_json::Value,
    /// Attempts so far.
    pub attempts: i64,
}

/// Recent funnel counts of one product, for review priority and the long-tail test.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductFunnel {
    /// Views.
    pub views: i64,
    /// Add-to-carts.
    pub carts: i64,
    /// Purchases.
    pub purchases: i64,
}

/// Storage of the content workflow.
#[async_trait]
pub trait ContentStore: Send + Sync {
    /// Applies a workflow step atomically; `Conflict` when a transition's `from` or `expected_latest` no
    /// longer holds. Returns the inserted version, if any.
    async fn apply_content_change(&self, change: ContentChange) -> Result<Option<ContentVersion>>;
    /// Every version of a product, oldest first.
    async fn content_versions(&self, product_id: &str) -> Result<Vec<ContentVersion>>;
    /// Versions in a state, oldest first, at most `limit`.
    async fn content_in_state(&self, state: &str, limit: u32) -> Result<Vec<ContentVersion>>;
    /// The audit trail of a product, oldest first.
    async fn content_audit(&self, product_id: &str) -> Result<Vec<AuditEntry>>;
    /// Creates a job with one pending item per product.
    async fn create_content_job(
        &self,
        id: &str,
        spec: &serde_json::Value,
        product_ids: &[String],
    ) -> Result<ContentJob>;
    /// One job with its counts.
    async fn content_job(&self, id: &str) -> Result<Option<ContentJob>>;
    /// Jobs not done or failed, oldest first.
    async fn unfinished_content_jobs(&self) -> Result<Vec<ContentJob>>;
    /// Sets a job's status (and error).
    async fn set_content_job_status(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<()>;
    /// Pending items of a job, at most `limit`.
    async fn pending_job_items(&self, job_id: &str, limit: u32) -> Result<Vec<JobItem>>;
    /// Records a failed attempt; `give_up` marks the item failed, otherwise it stays pending.
    async fn job_item_failed(
        &self,
        job_id: &str,
        product_id: &str,
        error: &str,
        give_up: bool,
    ) -> Result<()>;
    /// Webhook events due at `now`, oldest first.
    async fn due_webhooks(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<WebhookDelivery>>;
    /// Records a delivery attempt: delivered, retry at `retry_at`, or given up (`retry_at` = `None`).
    async fn webhook_attempted(
        &self,
        seq: i64,
        delivered: bool,
        error: Option<&str>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// Funnel counts per product since `since`.
    async fn product_funnels(
        &self,
        product_ids: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, ProductFunnel)>>;
}
