//! SQLite implementation of [`ContentStore`].

use super::{now_ms, rows::ms_to_time, SqliteStore};
use crate::{
    AuditEntry, ContentChange, ContentJob, ContentStore, ContentVersion, JobItem, ProductFunnel,
    Result, StoreError, WebhookDelivery,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{sqlite::SqliteRow, Row};

fn json(r: &SqliteRow, col: &str) -> Result<serde_json::Value> {
    let s: String = r.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| StoreError::corrupt(format!("content.{col}"), e))
}

fn version_from_row(r: &SqliteRow) -> Result<ContentVersion> {
    Ok(ContentVersion {
        product_id: r.try_get("product_id")?,
        version: r.try_get("version")?,
        state: r.try_get("state")?,
        copy: json(r, "copy")?,
        report: json(r, "report")?,
        confidence: r.try_get("confidence")?,
        attribution: json(r, "attribution")?,
        job_id: r.try_get("job_id")?,
        based_on: r.try_get("based_on")?,
        created_by: r.try_get("created_by")?,
        created_at: ms_to_time(r.try_get("created_at")?),
        reviewed_by: r.try_get("reviewed_by")?,
        review_reason: r.try_get("review_reason")?,
    })
}

fn job_from_row(r: &SqliteRow) -> Result<ContentJob> {
    Ok(ContentJob {
        id: r.try_get("id")?,
        spec: json(r, "spec")?,
        status: r.try_get("status")?,
        total: r.try_get("total")?,
        done: r.try_get("done")?,
        failed: r.try_get("failed")?,
        created_at: ms_to_time(r.try_get("created_at")?),
        updated_at: ms_to_time(r.try_get("updated_at")?),
        error: r.try_get("error")?,
    })
}

const JOB_SELECT: &str = "SELECT j.*,
    (SELECT COUNT(*) FROM content_job_items i WHERE i.job_id = j.id AND i.status = 'done') AS done,
    (SELECT COUNT(*) FROM content_job_items i WHERE i.job_id = j.id AND i.status = 'failed') AS failed
    FROM content_jobs j";

fn to_text(v: &serde_json::Value) -> String {
    v.to_string()
}

#[async_trait]
impl ContentStore for SqliteStore {
    async fn apply_content_change(&self, change: ContentChange) -> Result<Option<ContentVersion>> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        for t in &change.transitions {
            let updated = sqlx::query(
                "UPDATE content_versions SET state = ?,
                   reviewed_by = CASE WHEN ? THEN ? ELSE reviewed_by END,
                   review_reason = CASE WHEN ? THEN ? ELSE review_reason END
                 WHERE product_id = ? AND version = ? AND state = ?",
            )
            .bind(&t.to)
            .bind(t.review)
            .bind(&t.actor)
            .bind(t.review)
            .bind(&t.reason)
            .bind(&t.product_id)
            .bind(t.version)
            .bind(&t.from)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() != 1 {
                return Err(StoreError::Conflict(format!(
                    "version {} of product {} is no longer {}",
                    t.version, t.product_id, t.from
                )));
            }
            sqlx::query("INSERT INTO content_audit (product_id, version, from_state, to_state, actor, reason, at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .bind(&t.product_id).bind(t.version).bind(&t.from).bind(&t.to).bind(&t.actor).bind(&t.reason).bind(now)
                .execute(&mut *tx).await?;
        }
        let mut inserted = None;
        if let Some(new) = &change.insert {
            let latest: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(version) FROM content_versions WHERE product_id = ?",
            )
            .bind(&new.product_id)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(expected) = change.expected_latest {
                if expected != latest {
                    return Err(StoreError::Conflict(format!(
                        "product {} has moved on to version {} (the change was based on {})",
                        new.product_id,
                        latest.map_or("none".into(), |v| v.to_string()),
                        expected.map_or("none".into(), |v| v.to_string())
                    )));
                }
            }
            let version = latest.unwrap_or(0) + 1;
            sqlx::query(
                "INSERT INTO content_versions (product_id, version, state, copy, report, confidence, attribution, job_id, based_on, created_by, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&new.product_id).bind(version).bind(&new.state).bind(to_text(&new.copy)).bind(to_text(&new.report))
            .bind(new.confidence).bind(to_text(&new.attribution)).bind(&new.job_id).bind(new.based_on).bind(&new.created_by).bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query("INSERT INTO content_audit (product_id, version, from_state, to_state, actor, reason, at) VALUES (?, ?, NULL, ?, ?, 'created', ?)")
                .bind(&new.product_id).bind(version).bind(&new.state).bind(&new.created_by).bind(now)
                .execute(&mut *tx).await?;
            if let Some((job, product)) = &change.job_item {
                sqlx::query("UPDATE content_job_items SET status = 'done', version = ?, error = NULL WHERE job_id = ? AND product_id = ? AND status = 'pending'")
                    .bind(version).bind(job).bind(product).execute(&mut *tx).await?;
                sqlx::query("UPDATE content_jobs SET updated_at = ? WHERE id = ?")
                    .bind(now)
                    .bind(job)
                    .execute(&mut *tx)
                    .await?;
            }
            let row =
                sqlx::query("SELECT * FROM content_versions WHERE product_id = ? AND version = ?")
                    .bind(&new.product_id)
                    .bind(version)
                    .fetch_one(&mut *tx)
                    .await?;
            inserted = Some(version_from_row(&row)?);
        }
        for payload in &change.webhooks {
            sqlx::query("INSERT INTO webhook_outbox (payload, next_attempt_at) VALUES (?, ?)")
                .bind(to_text(payload))
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(inserted)
    }

    async fn content_versions(&self, product_id: &str) -> Result<Vec<ContentVersion>> {
        let rows =
            sqlx::query("SELECT * FROM content_versions WHERE product_id = ? ORDER BY version")
                .bind(product_id)
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(version_from_row).collect()
    }

    async fn content_in_state(&self, state: &str, limit: u32) -> Result<Vec<ContentVersion>> {
        let rows = sqlx::query("SELECT * FROM content_versions WHERE state = ? ORDER BY created_at, product_id LIMIT ?")
            .bind(state).bind(i64::from(limit)).fetch_all(&self.read).await?;
        rows.iter().map(version_from_row).collect()
    }

    async fn content_audit(&self, product_id: &str) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query("SELECT * FROM content_audit WHERE product_id = ? ORDER BY seq")
            .bind(product_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    product_id: r.try_get("product_id")?,
                    version: r.try_get("version")?,
                    from_state: r.try_get("from_state")?,
                    to_state: r.try_get("to_state")?,
                    actor: r.try_get("actor")?,
                    reason: r.try_get("reason")?,
                    at: ms_to_time(r.try_get("at")?),
                })
            })
            .collect()
    }

    async fn create_content_job(
        &self,
        id: &str,
        spec: &serde_json::Value,
        product_ids: &[String],
    ) -> Result<ContentJob> {
        let now = now_ms();
        let mut tx = self.write.begin().await?;
        sqlx::query("INSERT INTO content_jobs (id, spec, status, total, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?)")
            .bind(id).bind(to_text(spec)).bind(product_ids.len() as i64).bind(now).bind(now)
            .execute(&mut *tx).await?;
        for p in product_ids {
            sqlx::query("INSERT OR IGNORE INTO content_job_items (job_id, product_id, status) VALUES (?, ?, 'pending')")
                .bind(id).bind(p).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.content_job(id)
            .await?
            .ok_or_else(|| StoreError::corrupt("content_jobs", "job vanished after insert"))
    }

    async fn content_job(&self, id: &str) -> Result<Option<ContentJob>> {
        let row = sqlx::query(&format!("{JOB_SELECT} WHERE j.id = ?"))
            .bind(id)
            .fetch_optional(&self.write)
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn unfinished_content_jobs(&self) -> Result<Vec<ContentJob>> {
        let rows = sqlx::query(&format!(
            "{JOB_SELECT} WHERE j.status IN ('queued', 'running') ORDER BY j.created_at"
        ))
        .fetch_all(&self.write)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn set_content_job_status(
        &self,
        id: &str,
        status: &str,
        error: Option<&str>,
    ) -> Result<()> {
        sqlx::query("UPDATE content_jobs SET status = ?, error = ?, updated_at = ? WHERE id = ?")
            .bind(status)
            .bind(error)
            .bind(now_ms())
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn pending_job_items(&self, job_id: &str, limit: u32) -> Result<Vec<JobItem>> {
        let rows = sqlx::query("SELECT * FROM content_job_items WHERE job_id = ? AND status = 'pending' ORDER BY product_id LIMIT ?")
            .bind(job_id).bind(i64::from(limit)).fetch_all(&self.write).await?;
        rows.iter()
            .map(|r| {
                Ok(JobItem {
                    job_id: r.try_get("job_id")?,
                    product_id: r.try_get("product_id")?,
                    status: r.try_get("status")?,
                    attempts: r.try_get("attempts")?,
                    version: r.try_get("version")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }

    async fn job_item_failed(
        &self,
        job_id: &str,
        product_id: &str,
        error: &str,
        give_up: bool,
    ) -> Result<()> {
        sqlx::query("UPDATE content_job_items SET attempts = attempts + 1, error = ?, status = CASE WHEN ? THEN 'failed' ELSE status END WHERE job_id = ? AND product_id = ?")
            .bind(error).bind(give_up).bind(job_id).bind(product_id).execute(&self.write).await?;
        Ok(())
    }

    async fn due_webhooks(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<WebhookDelivery>> {
        let rows = sqlx::query("SELECT seq, payload, attempts FROM webhook_outbox WHERE delivered_at IS NULL AND gave_up = 0 AND next_attempt_at <= ? ORDER BY seq LIMIT ?")
            .bind(now.timestamp_millis()).bind(i64::from(limit)).fetch_all(&self.write).await?;
        rows.iter()
            .map(|r| {
                Ok(WebhookDelivery {
                    seq: r.try_get("seq")?,
                    payload: json(r, "payload")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    async fn webhook_attempted(
        &self,
        seq: i64,
        delivered: bool,
        error: Option<&str>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?,
               delivered_at = CASE WHEN ? THEN ? ELSE NULL END,
               gave_up = CASE WHEN ? THEN 0 WHEN ? IS NULL THEN 1 ELSE 0 END,
               next_attempt_at = COALESCE(?, next_attempt_at)
             WHERE seq = ?",
        )
        .bind(error)
        .bind(delivered)
        .bind(now)
        .bind(delivered)
        .bind(retry_at.map(|t| t.timestamp_millis()))
        .bind(retry_at.map(|t| t.timestamp_millis()))
        .bind(seq)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn product_funnels(
        &self,
        product_ids: &[String],
        since: DateTime<Utc>,
    ) -> Result<Vec<(String, ProductFunnel)>> {
        let mut out = Vec::with_capacity(product_ids.len());
        for id in product_ids {
            let rows = sqlx::query("SELECT type, COUNT(*) AS n FROM events WHERE product_id = ? AND ts >= ? GROUP BY type")
                .bind(id).bind(since.timestamp_millis()).fetch_all(&self.read).await?;
            let mut f = ProductFunnel::default();
            for r in rows {
                let kind: String = r.try_get("type")?;
                let n: i64 = r.try_get("n")?;
                match kind.as_str() {
                    "view" => f.views += n,
                    "add_to_cart" => f.carts += n,
                    "purchase" => f.purchases += n,
                    _ => {}
                }
            }
            out.push((id.clone(), f));
        }
        Ok(out)
    }
}
