//! SQLite implementation of [`RecStore`]: impressions, reward ledger, model registry.

use super::{now_ms, rows::ms_to_time, SqliteStore};
use crate::{
    ActiveModel, ModelVersion, RecImpression, RecStore, Result, RewardEntry, RewardTotals,
    StoreError,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

fn impression_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<RecImpression> {
    let items: String = r.try_get("items")?;
    let detail: String = r.try_get("detail")?;
    Ok(RecImpression {
        request_id: r.try_get("request_id")?,
        surface: r.try_get("surface")?,
        user_id: r.try_get("user_id")?,
        session_id: r.try_get("session_id")?,
        items: serde_json::from_str(&items)
            .map_err(|e| StoreError::corrupt("rec_impressions.items", e))?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| StoreError::corrupt("rec_impressions.detail", e))?,
        model_version: r.try_get("model_version")?,
        at: ms_to_time(r.try_get("ts")?),
    })
}

fn reward_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<RewardEntry> {
    let position: Option<i64> = r.try_get("position")?;
    Ok(RewardEntry {
        event_id: r.try_get("event_id")?,
        request_id: r.try_get("request_id")?,
        product_id: r.try_get("product_id")?,
        position: position.and_then(|p| u32::try_from(p).ok()),
        outcome: r.try_get("outcome")?,
        value: r.try_get("value")?,
        attribution: r.try_get("attribution")?,
        at: ms_to_time(r.try_get("ts")?),
    })
}

fn model_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<ModelVersion> {
    let manifest: String = r.try_get("manifest")?;
    Ok(ModelVersion {
        version: r.try_get("version")?,
        created_at: ms_to_time(r.try_get("created_at")?),
        manifest: serde_json::from_str(&manifest)
            .map_err(|e| StoreError::corrupt("rec_models.manifest", e))?,
        path: r.try_get("path")?,
    })
}

#[async_trait]
impl RecStore for SqliteStore {
    async fn log_impressions(&self, impressions: &[RecImpression]) -> Result<()> {
        let mut tx = self.write.begin().await?;
        for imp in impressions {
            let items = serde_json::to_string(&imp.items)
                .map_err(|e| StoreError::corrupt("impression items", e))?;
            let detail = serde_json::to_string(&imp.detail)
                .map_err(|e| StoreError::corrupt("impression detail", e))?;
            sqlx::query(
                "INSERT OR IGNORE INTO rec_impressions
                 (request_id, surface, user_id, session_id, items, detail, model_version, ts)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&imp.request_id)
            .bind(&imp.surface)
            .bind(&imp.user_id)
            .bind(&imp.session_id)
            .bind(items)
            .bind(detail)
            .bind(imp.model_version)
            .bind(imp.at.timestamp_millis())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn impression(&self, request_id: &str) -> Result<Option<RecImpression>> {
        let row = sqlx::query("SELECT * FROM rec_impressions WHERE request_id = ?")
            .bind(request_id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(impression_from_row).transpose()
    }

    async fn impressions_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(i64, RecImpression)>> {
        let rows = sqlx::query(
            "SELECT rowid, * FROM rec_impressions WHERE ts >= ? AND ts < ? AND rowid > ?
             ORDER BY rowid LIMIT ?",
        )
        .bind(from.timestamp_millis())
        .bind(to.timestamp_millis())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get::<i64, _>("rowid")?, impression_from_row(r)?)))
            .collect()
    }

    async fn append_rewards(&self, entries: &[RewardEntry]) -> Result<u64> {
        let mut tx = self.write.begin().await?;
        let mut written = 0;
        for e in entries {
            written += sqlx::query(
                "INSERT OR IGNORE INTO rec_rewards
                 (event_id, request_id, product_id, position, outcome, value, attribution, ts)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&e.event_id)
            .bind(&e.request_id)
            .bind(&e.product_id)
            .bind(e.position.map(i64::from))
            .bind(&e.outcome)
            .bind(e.value)
            .bind(&e.attribution)
            .bind(e.at.timestamp_millis())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(written)
    }

    async fn rewards_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<RewardEntry>> {
        let rows = sqlx::query(
            "SELECT r.* FROM rec_rewards r JOIN rec_impressions i ON i.request_id = r.request_id
             WHERE i.ts >= ? AND i.ts < ?",
        )
        .bind(from.timestamp_millis())
        .bind(to.timestamp_millis())
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(reward_from_row).collect()
    }

    async fn reward_totals(&self) -> Result<RewardTotals> {
        let impressions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rec_impressions")
            .fetch_one(&self.read)
            .await?;
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COALESCE(SUM(value), 0.0) AS total FROM rec_rewards",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(RewardTotals {
            impressions,
            outcomes: row.try_get("n")?,
            reward: row.try_get("total")?,
        })
    }

    async fn register_model(&self, manifest: &serde_json::Value, path: &str) -> Result<i64> {
        let text =
            serde_json::to_string(manifest).map_err(|e| StoreError::corrupt("manifest", e))?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO rec_models (version, created_at, manifest, path)
             VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM rec_models), ?, ?, ?)
             RETURNING version",
        )
        .bind(now_ms())
        .bind(text)
        .bind(path)
        .fetch_one(&self.write)
        .await?;
        Ok(version)
    }

    async fn model_versions(&self) -> Result<Vec<ModelVersion>> {
        let rows = sqlx::query("SELECT * FROM rec_models ORDER BY version DESC")
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(model_from_row).collect()
    }

    async fn activate_model(&self, version: i64) -> Result<Option<ActiveModel>> {
        let mut tx = self.write.begin().await?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT version FROM rec_models WHERE version = ?")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let previous: Option<i64> =
            sqlx::query_scalar("SELECT version FROM rec_active_model WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO rec_active_model (id, version, changed_at, previous) VALUES (1, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version,
               changed_at = excluded.changed_at, previous = excluded.previous",
        )
        .bind(version)
        .bind(now)
        .bind(previous)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(ActiveModel {
            version,
            previous,
            changed_at: ms_to_time(now),
        }))
    }

    async fn active_model(&self) -> Result<Option<ActiveModel>> {
        let row =
            sqlx::query("SELECT version, previous, changed_at FROM rec_active_model WHERE id = 1")
                .fetch_optional(&self.read)
                .await?;
        row.map(|r| {
            Ok(ActiveModel {
                version: r.try_get("version")?,
                previous: r.try_get("previous")?,
                changed_at: ms_to_time(r.try_get("changed_at")?),
            })
        })
        .transpose()
    }
}
