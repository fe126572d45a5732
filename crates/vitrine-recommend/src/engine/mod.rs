//! The recommendation engine: live signals + the serving model bundle + rules, answering the five surfaces
//! and closing the loop (impression log, attribution, reward ledger).
//!
//! Concurrency: the item table, signals and rules sit behind `RwLock`s that requests only read; events take
//! the signals write lock for microseconds per event. The model bundle is an `Arc` swapped whole, so
//! promotion and rollback are instant and a request always ranks with one consistent version.

mod attribution;
mod candidates;
mod serve;
mod snapshot;

pub use attribution::ImpressionInfo;
pub use serve::fnv as request_hash;
pub use snapshot::{SnapshotError, SnapshotInfo};

use crate::catalog::{ItemMeta, ItemTable};
use crate::config::RecommendConfig;
use crate::registry::ModelBundle;
use crate::rules::RecRules;
use crate::signals::Signals;
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::mpsc;
use vitrine_core::{Event, Product};
use vitrine_store::{RecImpression, RecStore, Store};

/// Product-embedding neighbours, supplied by the search engine's vector index (content similarity and
/// cold start for new products). Returns `(product id, cosine)`, best first, without `sku` itself.
pub trait ContentNeighbours: Send + Sync {
    /// Nearest products to `sku` by embedding.
    fn similar(&self, sku: &str, k: usize) -> Vec<(String, f32)>;
}

/// Why a request could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum RecError {
    /// Malformed request (count, price range …): the message names the field.
    #[error("{field}: {reason}")]
    BadRequest {
        /// Offending field.
        field: String,
        /// Why.
        reason: String,
    },
    /// The context product does not exist.
    #[error("unknown product {0:?}")]
    UnknownProduct(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] vitrine_store::StoreError),
    /// A model version could not be loaded.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// No such model version.
    #[error("model version {0} does not exist")]
    UnknownVersion(i64),
}

/// Counters for /metrics.
#[derive(Debug, Default)]
pub struct RecCounters {
    /// Answers served.
    pub requests: AtomicU64,
    /// Answers that used a fallback.
    pub fallbacks: AtomicU64,
    /// Answers with an exploration slot.
    pub explored: AtomicU64,
    /// Impressions dropped because the log queue was full.
    pub impressions_dropped: AtomicU64,
    /// Ledger lines written.
    pub rewards: AtomicU64,
    /// Events applied to signals.
    pub events: AtomicU64,
}

/// Recommendation engine.
pub struct RecommendEngine {
    config: RecommendConfig,
    items: RwLock<ItemTable>,
    signals: RwLock<Signals>,
    rules: RwLock<Arc<RecRules>>,
    bundle: RwLock<Arc<ModelBundle>>,
    content: RwLock<Option<Arc<dyn ContentNeighbours>>>,
    recent: Mutex<attribution::RecentImpressions>,
    log_tx: mpsc::Sender<(RecImpression, serve::ImpressionDetail)>,
    /// Serving counters.
    pub counters: RecCounters,
    store: Arc<dyn RecStore>,
    models_dir: PathBuf,
    catalog_position: AtomicU64,
    tops: candidates::TopLists,
    snapshot_path: std::sync::OnceLock<PathBuf>,
}

/// What [`RecommendEngine::load_from`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    /// Products read from the catalog.
    pub products: usize,
    /// Events applied to the signals (all of them without a snapshot; those after it with one).
    pub events_applied: u64,
    /// The event sequence the snapshot covered, when one was used.
    pub snapshot_seq: Option<i64>,
}

/// Impressions queued for the background writer before new ones are dropped (and counted).
const LOG_QUEUE: usize = 50_000;

impl RecommendEngine {
    /// An empty engine (no products, no events) that logs to `store`; call [`Self::load`] to fill it from
    /// the store. Must be called inside a tokio runtime (it spawns the impression writer).
    pub fn new(
        config: RecommendConfig,
        store: Arc<dyn RecStore>,
        models_dir: PathBuf,
    ) -> Arc<Self> {
        let (log_tx, log_rx) = mpsc::channel(LOG_QUEUE);
        let engine = Arc::new(Self {
            signals: RwLock::new(Signals::new(config.signals.clone())),
            config,
            items: RwLock::new(ItemTable::default()),
            rules: RwLock::new(Arc::new(RecRules::default())),
            bundle: RwLock::new(Arc::new(ModelBundle::default())),
            content: RwLock::new(None),
            recent: Mutex::new(attribution::RecentImpressions::default()),
            log_tx,
            counters: RecCounters::default(),
            store,
            models_dir,
            catalog_position: AtomicU64::new(0),
            tops: candidates::TopLists::default(),
            snapshot_path: std::sync::OnceLock::new(),
        });
        tokio::spawn(attribution::impression_writer(
            Arc::downgrade(&engine),
            log_rx,
        ));
        engine
    }

    /// The configuration.
    pub fn config(&self) -> &RecommendConfig {
        &self.config
    }

    /// Where model versions live.
    pub fn models_dir(&self) -> &std::path::Path {
        &self.models_dir
    }

    /// Supplies product-embedding neighbours (the search engine's vector index).
    pub fn set_content(&self, content: Arc<dyn ContentNeighbours>) {
        if let Ok(mut c) = self.content.write() {
            *c = Some(content);
        }
    }

    /// Replaces the rules (already validated).
    pub fn set_rules(&self, rules: RecRules) {
        if let Ok(mut r) = self.rules.write() {
            *r = Arc::new(rules);
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<RecRules> {
        self.rules.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Fills the item table from the catalog, replays the event log into the signals and loads the
    /// active model version. Returns (products, events).
    pub async fn load(&self, store: &dyn Store) -> Result<(usize, u64), RecError> {
        let report = self.load_from(store).await?;
        Ok((report.products, report.events_applied))
    }

    /// Like [`Self::load`], starting from the signals snapshot (see [`Self::set_snapshot_path`]) when it
    /// is usable, so only the events stored after it are applied.
    pub async fn load_from(&self, store: &dyn Store) -> Result<LoadReport, RecError> {
        use futures::StreamExt;
        let restored = match self.snapshot_path.get() {
            Some(path) => {
                let (path, config) = (path.to_path_buf(), self.config.signals.clone());
                tokio::task::spawn_blocking(move || snapshot::read(&path, &config))
                    .await
                    .ok()
                    .flatten()
            }
            None => None,
        };
        let mut after = 0;
        if let Some(r) = restored {
            after = r.event_seq;
            if let (Ok(mut items), Ok(mut signals)) = (self.items.write(), self.signals.write()) {
                *items = r.items;
                *signals = r.signals;
            }
        }
        let position = store.latest_product_change().await?;
        let mut products = store.stream_products();
        let mut count = 0;
        while let Some(p) = products.next().await {
            self.upsert_products(std::slice::from_ref(&p?));
            count += 1;
        }
        self.catalog_position
            .store(position.max(0) as u64, Ordering::Relaxed);
        let mut events = store.stream_events_after(after);
        let mut batch = Vec::with_capacity(4096);
        let mut seen = 0u64;
        while let Some(e) = events.next().await {
            batch.push(e?.event);
            if batch.len() == 4096 {
                seen += batch.len() as u64;
                self.apply_signals(&batch);
                batch.clear();
            }
        }
        seen += batch.len() as u64;
        self.apply_signals(&batch);
        self.load_active_model().await?;
        Ok(LoadReport {
            products: count,
            events_applied: seen,
            snapshot_seq: (after > 0).then_some(after),
        })
    }

    /// Loads whichever version the registry marks active (no-op when none is).
    pub async fn load_active_model(&self) -> Result<Option<i64>, RecError> {
        let Some(active) = self.store.active_model().await? else {
            return Ok(None);
        };
        self.serve_version(active.version).await?;
        Ok(Some(active.version))
    }

    /// Loads `version` from disk and makes it serve. Does not touch the registry's active pointer.
    pub async fn serve_version(&self, version: i64) -> Result<(), RecError> {
        let versions = self.store.model_versions().await?;
        let Some(v) = versions.iter().find(|v| v.version == version) else {
            return Err(RecError::UnknownVersion(version));
        };
        let path = PathBuf::from(&v.path);
        let bundle = {
            let items = self.items.read().map(|i| i.clone()).unwrap_or_default();
            tokio::task::spawn_blocking(move || ModelBundle::load(&path, version, &items))
                .await
                .map_err(|e| RecError::BadRequest {
                    field: "version".into(),
                    reason: e.to_string(),
                })??
        };
        self.set_bundle(bundle);
        Ok(())
    }

    /// Makes `bundle` serve from the next request on.
    pub fn set_bundle(&self, bundle: ModelBundle) {
        if let Ok(mut b) = self.bundle.write() {
            *b = Arc::new(bundle);
        }
    }

    /// The version serving now (`None`: heuristic).
    pub fn serving_version(&self) -> Option<i64> {
        self.bundle.read().ok().and_then(|b| b.version)
    }

    /// Promotes `version` (registry + serving) at once; returns the version it replaced.
    pub async fn promote(&self, version: i64) -> Result<Option<i64>, RecError> {
        self.serve_version(version).await?;
        let active = self
            .store
            .activate_model(version)
            .await?
            .ok_or(RecError::UnknownVersion(version))?;
        Ok(active.previous)
    }

    /// Rolls back to the version that served before the current one.
    pub async fn rollback(&self) -> Result<i64, RecError> {
        let active = self.store.active_model().await?;
        let previous = active
            .and_then(|a| a.previous)
            .ok_or_else(|| RecError::BadRequest {
                field: "version".into(),
                reason: "there is no earlier promoted version to roll back to".into(),
            })?;
        self.promote(previous).await?;
        Ok(previous)
    }

    /// Adds or updates products (catalog follower and tests).
    pub fn upsert_products(&self, products: &[Product]) {
        if let Ok(mut items) = self.items.write() {
            for p in products {
                items.upsert(ItemMeta::from_product(p));
            }
        }
    }

    /// Catalog feed position applied so far.
    pub fn catalog_position(&self) -> i64 {
        self.catalog_position.load(Ordering::Relaxed) as i64
    }

    /// Applies catalog changes after the recorded position; returns how many were applied.
    pub async fn follow_catalog(&self, store: &dyn Store) -> Result<usize, RecError> {
        let mut applied = 0;
        loop {
            let after = self.catalog_position();
            let changes = store.product_changes_since(after, 1000).await?;
            if changes.is_empty() {
                return Ok(applied);
            }
            let products: Vec<Product> = changes.iter().map(|c| c.product.clone()).collect();
            self.upsert_products(&products);
            if let Some(last) = changes.last() {
                self.catalog_position
                    .store(last.seq.max(0) as u64, Ordering::Relaxed);
            }
            applied += changes.len();
        }
    }

    /// Follows the catalog in the background: woken by `changed` (catalog writes), polling every
    /// `period` as a backstop. Stops when the engine is dropped.
    pub fn spawn_catalog_follower(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        changed: Arc<tokio::sync::Notify>,
        period: std::time::Duration,
    ) {
        let weak = Arc::downgrade(&self);
        drop(self);
        tokio::spawn(async move {
            loop {
                let _ = tokio::time::timeout(period, changed.notified()).await;
                let Some(engine) = weak.upgrade() else { return };
                if let Err(err) = engine.follow_catalog(store.as_ref()).await {
                    tracing::warn!(error = %err, "recommendations could not follow the catalog");
                }
            }
        });
    }

    fn apply_signals(&self, events: &[Event]) {
        let Ok(items) = self.items.read() else { return };
        if let Ok(mut signals) = self.signals.write() {
            for e in events {
                signals.observe(&items, e);
            }
        }
        self.counters
            .events
            .fetch_add(events.len() as u64, Ordering::Relaxed);
    }

    /// Applies accepted events: signals first (the next answer for that shopper already reflects them),
    /// then attribution of outcomes to the answers that caused them, written to the reward ledger.
    pub async fn observe(&self, events: &[Event]) -> Result<u64, RecError> {
        self.apply_signals(events);
        let entries = self.attribute(events).await?;
        if entries.is_empty() {
            return Ok(0);
        }
        let written = self.store.append_rewards(&entries).await?;
        self.counters.rewards.fetch_add(written, Ordering::Relaxed);
        Ok(written)
    }

    /// Products known, active products, shoppers and sessions tracked, events applied.
    pub fn stats(&self) -> HashMap<&'static str, u64> {
        let mut out = HashMap::new();
        if let Ok(items) = self.items.read() {
            out.insert("products", items.len() as u64);
            out.insert("active_products", items.active_count() as u64);
        }
        if let Ok(s) = self.signals.read() {
            let (users, sessions) = s.tracked();
            out.insert("shoppers", users as u64);
            out.insert("sessions", sessions as u64);
            out.insert("covis_items", s.covis.items_with_neighbours() as u64);
        }
        out.insert("events", self.counters.events.load(Ordering::Relaxed));
        out
    }

    /// A snapshot of the signals (training reads item statistics from it).
    pub fn signals_snapshot(&self) -> Option<Signals> {
        self.signals.read().ok().map(|s| s.clone())
    }

    /// A snapshot of the item table.
    pub fn items_snapshot(&self) -> ItemTable {
        self.items.read().map(|i| i.clone()).unwrap_or_default()
    }

    /// Recent impressions kept for attribution (bounded).
    pub fn recent_impressions(&self) -> usize {
        self.recent.lock().map(|r| r.len()).unwrap_or(0)
    }

    pub(crate) fn queue_impression(
        &self,
        imp: RecImpression,
        detail: serve::ImpressionDetail,
        info: ImpressionInfo,
    ) {
        if let Ok(mut r) = self.recent.lock() {
            r.insert(imp.request_id.clone(), info);
        }
        if self.log_tx.try_send((imp, detail)).is_err() {
            self.counters
                .impressions_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Keeps only the newest `cap` keys of a map (oldest evicted first).
#[derive(Debug, Default)]
pub(crate) struct BoundedOrder {
    order: VecDeque<String>,
}

impl BoundedOrder {
    pub(crate) fn push(&mut self, key: String, cap: usize) -> Option<String> {
        self.order.push_back(key);
        if self.order.len() > cap {
            self.order.pop_front()
        } else {
            None
        }
    }
}
