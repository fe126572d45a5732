//! # vitrine-store — the system of record
//!
//! Everything Vitrine learns from is stored here first: the catalog (with a version per import or update and
//! point-in-time price and stock history) and the behavioural event log. The [`Store`] trait is the only way
//! the rest of the engine touches storage, so a PostgreSQL implementation can follow the SQLite one.
//!
//! ## Guarantees (invariants every implementation keeps)
//! - **Acknowledged means durable.** A write method returns `Ok` only after its transaction has committed
//!   with the database's durable setting (SQLite: WAL with `synchronous=FULL`, i.e. the WAL is fsynced at
//!   commit). The HTTP layer sends 2xx only after that `Ok`.
//! - **Events are idempotent.** `event_id` is unique; resending an event stores nothing new and is reported
//!   as a duplicate.
//! - **Nothing is dropped for naming an unknown product.** Such events are stored and flagged.
//! - **History is kept by the database itself** (triggers), so no write path can forget it.

pub mod content;
mod error;
pub mod recommend;
pub mod search_rules;
pub mod sqlite;
mod types;

pub use content::{
    AuditEntry, ContentChange, ContentJob, ContentStore, ContentVersion, JobItem,
    NewContentVersion, ProductFunnel, Transition, WebhookDelivery,
};
pub use error::StoreError;
pub use recommend::{
    ActiveModel, ModelVersion, RecImpression, RecStore, RewardEntry, RewardTotals,
};
pub use search_rules::{NewRulesVersion, RulesHistory, RulesRecorded, RulesVersion};
pub use sqlite::{SqliteStore, StoreOptions};
pub use types::*;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use vitrine_core::{Event, Product, ProductPatch};

/// Result alias for storage calls.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The storage boundary of the engine. Object-safe, so servers and tools hold an `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync {
    /// Opens a new catalog version for an import or API change; every product written under it carries it.
    async fn begin_catalog_version(&self, source: &str) -> Result<i64>;
    /// Records the final counts of a catalog version once its import ends.
    async fn finish_catalog_version(&self, version: i64, counts: VersionCounts) -> Result<()>;
    /// Inserts or replaces products durably; unchanged content is a no-op (no history row, no new version).
    async fn upsert_products(&self, version: i64, products: &[Product]) -> Result<UpsertOutcome>;
    /// Applies a partial update in its own catalog version; `Ok(None)` when the product does not exist.
    async fn patch_product(&self, id: &str, patch: &ProductPatch) -> Result<Option<PatchOutcome>>;
    /// One product by SKU.
    async fn get_product(&self, id: &str) -> Result<Option<Product>>;
    /// A filtered, keyset-paginated page of products.
    async fn list_products(&self, query: &ProductQuery) -> Result<ProductPage>;
    /// Price in force at `at` (point-in-time read), from the price history.
    async fn price_at(&self, id: &str, at: DateTime<Utc>) -> Result<Option<PricePoint>>;
    /// Stock in force at `at`, from the inventory history.
    async fn inventory_at(&self, id: &str, at: DateTime<Utc>) -> Result<Option<StockPoint>>;
    /// Full price and stock history of one product, oldest first.
    async fn product_history(&self, id: &str) -> Result<ProductHistory>;
    /// Appends events durably (group-committed with concurrent callers); duplicates are counted, not stored.
    async fn append_events(&self, events: Vec<Event>) -> Result<AppendOutcome>;
    /// One stored event by id.
    async fn get_event(&self, event_id: &str) -> Result<Option<StoredEvent>>;
    /// Events of one shopper, newest first.
    async fn events_for_user(&self, user_id: &str, limit: u32) -> Result<Vec<StoredEvent>>;
    /// Deletes a shopper's events (including anonymous sessions linked to them) and derived profile.
    async fn erase_user(&self, user_id: &str) -> Result<ErasureReport>;
    /// Counts for dashboards, readiness and tests.
    async fn stats(&self) -> Result<StoreStats>;
    /// Every product in SKU order, streamed (bounded memory), for export.
    fn stream_products(&self) -> BoxStream<'_, Result<Product>>;
    /// Every event in arrival order, streamed, for export and training.
    fn stream_events(&self) -> BoxStream<'_, Result<StoredEvent>> {
        self.stream_events_after(0)
    }
    /// Events with a sequence above `after_seq`, in arrival order: what a derived state saved at
    /// `after_seq` (the recommender's signals snapshot) still has to apply.
    fn stream_events_after(&self, after_seq: i64) -> BoxStream<'_, Result<StoredEvent>>;
    /// The newest event sequence (0 for an empty log).
    async fn latest_event_seq(&self) -> Result<i64>;
    /// Catalog changes after `after_seq`, oldest first, at most `limit`: the feed derived indexes follow.
    async fn product_changes_since(&self, after_seq: i64, limit: u32)
        -> Result<Vec<ProductChange>>;
    /// The newest change sequence (0 for an empty catalog), so a follower knows whether it is behind.
    async fn latest_product_change(&self) -> Result<i64>;
    /// The most recent search queries, newest first, for autocomplete and query analytics.
    async fn recent_search_queries(&self, limit: u32) -> Result<Vec<String>>;
    /// Cheap liveness check of the database.
    async fn ping(&self) -> Result<()>;
}
