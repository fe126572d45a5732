//! Group commit for event appends.
//!
//! Each caller hands its batch to one writer task and waits for the reply. The task drains whatever else is
//! queued, writes all of it in **one** transaction (one fsync), then answers every caller. Under load this
//! turns 8 clients × 500 events into a single 4,000-row commit, which is how durable ingestion reaches tens of
//! thousands of events per second on SQLite. Nobody is answered before the commit returns.

use super::now_ms;
use crate::{AppendOutcome, Result, StoreError};
use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot, Mutex};
use vitrine_core::Event;

/// Rows per INSERT statement: 19 parameters each stays well below SQLite's 32,766-variable limit.
const ROWS_PER_STATEMENT: usize = 1_000;

struct Job {
    events: Vec<Event>,
    reply: oneshot::Sender<Result<AppendOutcome>>,
}

/// Handle to the writer task; dropping every handle lets the task finish its queue and stop.
pub(crate) struct GroupCommitter {
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    done: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl GroupCommitter {
    pub(crate) fn start(pool: SqlitePool, max_group_events: usize) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(1024);
        let handle = tokio::spawn(run(pool, rx, max_group_events));
        Self {
            tx: Mutex::new(Some(tx)),
            done: Mutex::new(Some(handle)),
        }
    }

    pub(crate) async fn append(&self, events: Vec<Event>) -> Result<AppendOutcome> {
        if events.is_empty() {
            return Ok(AppendOutcome::default());
        }
        let sender = self.tx.lock().await.clone().ok_or(StoreError::Closed)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Job { events, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Stops accepting, lets the writer commit everything already queued, and waits for it.
    pub(crate) async fn shutdown(&self) {
        self.tx.lock().await.take();
        if let Some(h) = self.done.lock().await.take() {
            let _ = h.await;
        }
    }
}

async fn run(pool: SqlitePool, mut rx: mpsc::Receiver<Job>, max_group_events: usize) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        let mut total = group[0].events.len();
        while total < max_group_events {
            match rx.try_recv() {
                Ok(job) => {
                    total += job.events.len();
                    group.push(job);
                }
                Err(_) => break,
            }
        }
        match write_group(&pool, &group).await {
            Ok(outcomes) => {
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "event group commit failed; no event of the group is acknowledged");
                let msg = e.to_string();
                for job in group {
                    let _ = job
                        .reply
                        .send(Err(StoreError::corrupt("event commit", &msg)));
                }
            }
        }
    }
}

async fn write_group(pool: &SqlitePool, group: &[Job]) -> Result<Vec<AppendOutcome>> {
    let mut conn = pool.acquire().await?;
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let known = known_products(&mut tx, group).await?;
    let received = now_ms();
    let mut outcomes = Vec::with_capacity(group.len());
    for job in group {
        let mut outcome = AppendOutcome::default();
        for chunk in job.events.chunks(ROWS_PER_STATEMENT) {
            let mut unknown_in_chunk = Vec::with_capacity(chunk.len());
            for e in chunk {
                unknown_in_chunk.push(e.product_ids.iter().any(|p| !known.contains(p.as_str())));
            }
            let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT OR IGNORE INTO events (event_id, type, user_id, session_id, product_id, product_ids, \
                 quantity, price, currency, request_id, position, query, rating, review, context, ts, \
                 received_at, unknown_product) ",
            );
            qb.push_values(
                chunk.iter().zip(&unknown_in_chunk),
                |mut b, (e, unknown)| {
                    let many = (e.product_ids.len() > 1)
                        .then(|| serde_json::to_string(&e.product_ids).unwrap_or_default());
                    let context = (!e.context.is_empty())
                        .then(|| serde_json::to_string(&e.context).unwrap_or_default());
                    b.push_bind(&e.event_id)
                        .push_bind(e.event_type.as_str())
                        .push_bind(&e.user_id)
                        .push_bind(&e.session_id)
                        .push_bind(e.product_ids.first())
                        .push_bind(many)
                        .push_bind(e.quantity)
                        .push_bind(e.price.map(|p| p.to_string()))
                        .push_bind(e.currency.map(|c| c.to_string()))
                        .push_bind(&e.request_id)
                        .push_bind(e.position.map(i64::from))
                        .push_bind(&e.query)
                        .push_bind(e.rating.map(i64::from))
                        .push_bind(&e.review)
                        .push_bind(context)
                        .push_bind(e.timestamp.timestamp_millis())
                        .push_bind(received)
                        .push_bind(*unknown);
                },
            );
            // RETURNING lists exactly the rows inserted, so duplicates and flags are counted per caller even
            // when two callers in one group send the same event_id.
            qb.push(" RETURNING unknown_product");
            let inserted: Vec<(bool,)> = qb.build_query_as().fetch_all(&mut *tx).await?;
            outcome.stored += inserted.len() as u64;
            outcome.unknown_product += inserted.iter().filter(|(u,)| *u).count() as u64;
            outcome.duplicates += (chunk.len() - inserted.len()) as u64;
        }
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Which of the SKUs named in the group exist in the catalog, in one query.
async fn known_products(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    group: &[Job],
) -> Result<HashSet<String>> {
    let mut named: Vec<&str> = group
        .iter()
        .flat_map(|j| {
            j.events
                .iter()
                .flat_map(|e| e.product_ids.iter().map(String::as_str))
        })
        .collect();
    named.sort_unstable();
    named.dedup();
    if named.is_empty() {
        return Ok(HashSet::new());
    }
    let list = serde_json::to_string(&named).unwrap_or_else(|_| "[]".into());
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT sku FROM products WHERE sku IN (SELECT value FROM json_each(?))")
            .bind(list)
            .fetch_all(&mut **tx)
            .await?;
    Ok(rows.into_iter().map(|(s,)| s).collect())
}
