//! SQLite implementation of [`Store`](crate::Store): one file, WAL journal, `synchronous=FULL`.
//!
//! Writes go through a single-connection pool (SQLite has one writer at a time anyway), reads through a
//! separate pool so listing and exports never wait behind an import. Event appends from concurrent callers
//! are merged into one transaction by [`events::GroupCommitter`], so one fsync acknowledges many requests.

mod content;
mod events;
mod products;
mod recommend;
mod rows;
mod search_rules;

use crate::{
    AppendOutcome, ErasureReport, PatchOutcome, PricePoint, ProductChange, ProductHistory,
    ProductPage, ProductQuery, Result, StockPoint, Store, StoreError, StoreStats, StoredEvent,
    UpsertOutcome, VersionCounts,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{stream::BoxStream, StreamExt};
use sha2::{Digest, Sha256};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::{path::Path, str::FromStr, time::Duration};
use vitrine_core::{Event, Product, ProductPatch};

/// Rows per page when streaming exports.
const EXPORT_PAGE: i64 = 2_000;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Tuning of the SQLite store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections for reads (listing, exports, stats).
    pub read_connections: u32,
    /// How long a writer waits for another process's lock before failing.
    pub busy_timeout: Duration,
    /// Most events merged into one group commit.
    pub max_group_events: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            read_connections: 4,
            busy_timeout: Duration::from_secs(30),
            max_group_events: 20_000,
        }
    }
}

/// The SQLite-backed system of record.
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
    committer: events::GroupCommitter,
    maintenance: SqlitePool,
    checkpointer: tokio::task::JoinHandle<()>,
}

/// Copies committed WAL frames into the database file off the write path. A PASSIVE checkpoint never
/// blocks the writer, so ingestion does not stall every few megabytes as it would with SQLite's inline
/// auto-checkpoint. Durability is unaffected: commits are durable in the WAL before they are acknowledged.
async fn checkpointer(pool: SqlitePool) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "background WAL checkpoint failed");
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path, options: StoreOptions) -> Result<Self> {
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
            }
        }
        let url = format!("sqlite://{}", path.display());
        let connect = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL in WAL mode fsyncs the WAL on every commit: a committed transaction survives power loss.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.busy_timeout)
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // Checkpoints run in the background (see `checkpointer`); this is only a backstop so the WAL
            // cannot grow without bound if that task stalls.
            .pragma("wal_autocheckpoint", "65536")
            // After a checkpoint resets the WAL, shrink the file back so a burst does not leave a huge WAL.
            .pragma("journal_size_limit", "67108864");
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(options.busy_timeout)
            .connect_with(connect.clone())
            .await?;
        MIGRATOR.run(&write).await?;
        let read = SqlitePoolOptions::new()
            .max_connections(options.read_connections.max(1))
            .connect_with(connect.clone().read_only(true))
            .await?;
        let committer = events::GroupCommitter::start(write.clone(), options.max_group_events);
        let maintenance = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(connect)
            .await?;
        let checkpointer = tokio::spawn(checkpointer(maintenance.clone()));
        Ok(Self {
            write,
            read,
            committer,
            maintenance,
            checkpointer,
        })
    }

    /// Waits for queued event writes to commit, then closes the pools: call on shutdown.
    pub async fn close(&self) {
        self.committer.shutdown().await;
        self.checkpointer.abort();
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.maintenance)
            .await;
        self.maintenance.close().await;
        self.write.close().await;
        self.read.close().await;
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin_catalog_version(&self, source: &str) -> Result<i64> {
        let (v,): (i64,) = sqlx::query_as(
            "INSERT INTO catalog_versions (created_at, source) VALUES (?, ?) RETURNING version",
        )
        .bind(now_ms())
        .bind(source)
        .fetch_one(&self.write)
        .await?;
        Ok(v)
    }

    async fn finish_catalog_version(&self, version: i64, c: VersionCounts) -> Result<()> {
        sqlx::query(
            "UPDATE catalog_versions SET changed = changed + ?, unchanged = unchanged + ?, rejected = rejected + ?,
             finished_at = ? WHERE version = ?",
        )
        .bind(c.changed as i64)
        .bind(c.unchanged as i64)
        .bind(c.rejected as i64)
        .bind(now_ms())
        .bind(version)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn upsert_products(&self, version: i64, items: &[Product]) -> Result<UpsertOutcome> {
        products::upsert(&self.write, version, items).await
    }

    async fn patch_product(&self, id: &str, patch: &ProductPatch) -> Result<Option<PatchOutcome>> {
        products::patch(self, id, patch).await
    }

    async fn get_product(&self, id: &str) -> Result<Option<Product>> {
        products::get(&self.read, id).await
    }

    async fn list_products(&self, query: &ProductQuery) -> Result<ProductPage> {
        products::list(&self.read, query).await
    }

    async fn price_at(&self, id: &str, at: DateTime<Utc>) -> Result<Option<PricePoint>> {
        products::price_at(&self.read, id, at).await
    }

    async fn inventory_at(&self, id: &str, at: DateTime<Utc>) -> Result<Option<StockPoint>> {
        products::inventory_at(&self.read, id, at).await
    }

    async fn product_history(&self, id: &str) -> Result<ProductHistory> {
        products::history(&self.read, id).await
    }

    async fn append_events(&self, events: Vec<Event>) -> Result<AppendOutcome> {
        self.committer.append(events).await
    }

    async fn get_event(&self, event_id: &str) -> Result<Option<StoredEvent>> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM events WHERE event_id = ?",
            rows::EVENT_COLUMNS
        ))
        .bind(event_id)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| rows::event_from_row(&r)).transpose()
    }

    async fn events_for_user(&self, user_id: &str, limit: u32) -> Result<Vec<StoredEvent>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM events WHERE user_id = ? ORDER BY seq DESC LIMIT ?",
            rows::EVENT_COLUMNS
        ))
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(rows::event_from_row).collect()
    }

    async fn erase_user(&self, user_id: &str) -> Result<ErasureReport> {
        let mut tx = self.write.begin().await?;
        // Anonymous sessions the shopper was seen in are theirs too: deleting only user_id rows would leave
        // the pre-login browsing of the same session behind.
        let events = sqlx::query(
            "DELETE FROM events WHERE user_id = ?1 OR session_id IN
               (SELECT DISTINCT session_id FROM events WHERE user_id = ?1 AND session_id IS NOT NULL)",
        )
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let profiles = sqlx::query("DELETE FROM user_profiles WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let digest = hex(&Sha256::digest(user_id.as_bytes()));
        sqlx::query("INSERT INTO erasures VALUES (?, ?, ?, ?)")
            .bind(digest)
            .bind(now_ms())
            .bind(events as i64)
            .bind(profiles as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(ErasureReport {
            events_deleted: events,
            profiles_deleted: profiles,
        })
    }

    async fn stats(&self) -> Result<StoreStats> {
        let (products, events, unknown, version): (i64, i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM products), (SELECT COUNT(*) FROM events),
                    (SELECT COUNT(*) FROM events WHERE unknown_product = 1),
                    (SELECT COALESCE(MAX(version), 0) FROM catalog_versions)",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(StoreStats {
            products: products as u64,
            events: events as u64,
            events_unknown_product: unknown as u64,
            catalog_version: version,
        })
    }

    fn stream_products(&self) -> BoxStream<'_, Result<Product>> {
        let sql = format!(
            "SELECT {} FROM products WHERE sku > ? ORDER BY sku LIMIT ?",
            rows::PRODUCT_COLUMNS
        );
        keyset_pages(
            &self.read,
            sql,
            "sku",
            String::new(),
            rows::product_from_row,
        )
    }

    fn stream_events_after(&self, after_seq: i64) -> BoxStream<'_, Result<StoredEvent>> {
        let sql = format!(
            "SELECT {} FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            rows::EVENT_COLUMNS
        );
        keyset_pages(&self.read, sql, "seq", after_seq, rows::event_from_row)
    }

    async fn product_changes_since(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ProductChange>> {
        products::changes_since(&self.read, after_seq, limit).await
    }

    async fn latest_event_seq(&self) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events")
            .fetch_one(&self.read)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn latest_product_change(&self) -> Result<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM product_changes")
            .fetch_one(&self.read)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn recent_search_queries(&self, limit: u32) -> Result<Vec<String>> {
        let rows: Vec<Option<String>> = sqlx::query_scalar(
            "SELECT query FROM events WHERE type = 'search' ORDER BY seq DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().flatten().collect())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Streams the rows of `sql` (`… WHERE key > ? ORDER BY key LIMIT ?`) in keyset pages of [`EXPORT_PAGE`],
/// starting after `first`. Pages rather than one long cursor: memory stays bounded, and no read
/// transaction is held open for the whole export (which would stop WAL checkpoints on a busy server).
/// A failed page ends the stream with its error.
fn keyset_pages<'a, K, T>(
    pool: &'a SqlitePool,
    sql: String,
    key_column: &'static str,
    first: K,
    decode: fn(&sqlx::sqlite::SqliteRow) -> Result<T>,
) -> BoxStream<'a, Result<T>>
where
    K: for<'q> sqlx::Encode<'q, sqlx::Sqlite>
        + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>
        + Send
        + 'a,
    T: Send + 'a,
{
    let pages = futures::stream::unfold(Some((sql, first)), move |state| async move {
        let (sql, after) = state?;
        let fetched = sqlx::query(&sql)
            .bind(after)
            .bind(EXPORT_PAGE)
            .fetch_all(pool)
            .await;
        Some(match fetched {
            Err(e) => (vec![Err(StoreError::from(e))], None),
            Ok(rows) => {
                let next = if rows.len() as i64 == EXPORT_PAGE {
                    rows.last()
                        .and_then(|r| sqlx::Row::try_get::<K, _>(r, key_column).ok())
                        .map(|key| (sql, key))
                } else {
                    None
                };
                (rows.iter().map(decode).collect(), next)
            }
        })
    });
    Box::pin(pages.flat_map(futures::stream::iter))
}
