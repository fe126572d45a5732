//! SQLite implementation of [`RulesHistory`].

use super::{now_ms, rows::ms_to_time, SqliteStore};
use crate::search_rules::{NewRulesVersion, RulesHistory, RulesRecorded, RulesVersion};
use crate::Result;
use async_trait::async_trait;
use sqlx::Row;

fn version_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<RulesVersion> {
    Ok(RulesVersion {
        version: r.try_get("version")?,
        created_at: ms_to_time(r.try_get("created_at")?),
        actor: r.try_get("actor")?,
        source: r.try_get("source")?,
        note: r.try_get("note")?,
        text: r.try_get("text")?,
    })
}

#[async_trait]
impl RulesHistory for SqliteStore {
    async fn record_rules(&self, new: NewRulesVersion<'_>) -> Result<RulesRecorded> {
        // One transaction on the single writer: the comparison with the newest text and the insert
        // cannot interleave with another recorder.
        let mut tx = self.write.begin().await?;
        let latest =
            sqlx::query("SELECT * FROM search_rules_versions ORDER BY version DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?
                .as_ref()
                .map(version_from_row)
                .transpose()?;
        if let Some(latest) = latest.filter(|l| l.text == new.text) {
            tx.commit().await?;
            return Ok(RulesRecorded::Unchanged(latest));
        }
        let row = sqlx::query(
            "INSERT INTO search_rules_versions (version, created_at, actor, source, note, text)
             VALUES ((SELECT COALESCE(MAX(version), 0) + 1 FROM search_rules_versions), ?, ?, ?, ?, ?)
             RETURNING *",
        )
        .bind(now_ms())
        .bind(new.actor)
        .bind(new.source)
        .bind(new.note)
        .bind(new.text)
        .fetch_one(&mut *tx)
        .await?;
        let recorded = version_from_row(&row)?;
        tx.commit().await?;
        Ok(RulesRecorded::New(recorded))
    }

    async fn rules_versions(&self, before: Option<i64>, limit: u32) -> Result<Vec<RulesVersion>> {
        let rows = sqlx::query(
            "SELECT * FROM search_rules_versions WHERE version < ? ORDER BY version DESC LIMIT ?",
        )
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::from(limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(version_from_row).collect()
    }

    async fn rules_version(&self, version: i64) -> Result<Option<RulesVersion>> {
        sqlx::query("SELECT * FROM search_rules_versions WHERE version = ?")
            .bind(version)
            .fetch_optional(&self.read)
            .await?
            .as_ref()
            .map(version_from_row)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new<'a>(text: &'a str, actor: &'a str) -> NewRulesVersion<'a> {
        NewRulesVersion {
            text,
            actor,
            source: "api",
            note: None,
        }
    }

    #[tokio::test]
    async fn versions_are_numbered_and_an_unchanged_text_adds_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("v.db"), Default::default())
            .await
            .unwrap();
        assert_eq!(store.latest_rules().await.unwrap(), None);
        let a = store.record_rules(new("pin = 1", "ana")).await.unwrap();
        assert!(matches!(a, RulesRecorded::New(ref v) if v.version == 1 && v.actor == "ana"));
        let same = store.record_rules(new("pin = 1", "file")).await.unwrap();
        assert_eq!(same, RulesRecorded::Unchanged(a.version().clone()));
        let b = store.record_rules(new("pin = 2", "bo")).await.unwrap();
        assert_eq!(b.version().version, 2);
        // Going back to an older text is a new version, not a no-op.
        let c = store.record_rules(new("pin = 1", "ana")).await.unwrap();
        assert_eq!(c.version().version, 3);
        let all = store.rules_versions(None, 10).await.unwrap();
        assert_eq!(
            all.iter().map(|v| v.version).collect::<Vec<_>>(),
            vec![3, 2, 1]
        );
        let page = store.rules_versions(Some(3), 1).await.unwrap();
        assert_eq!(page[0].text, "pin = 2");
        assert_eq!(
            store.rules_version(1).await.unwrap().unwrap().text,
            "pin = 1"
        );
        assert_eq!(store.rules_version(9).await.unwrap(), None);
    }
}
