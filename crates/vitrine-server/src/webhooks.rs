//! Delivers content state-change events from the outbox to the configured webhook, with retries and
//! exponential backoff. Events are written to the outbox in the same transaction as the change they
//! describe, so a crash never loses one; delivery is at-least-once (receivers deduplicate by
//! product, version and state).

use chrono::Utc;
use std::sync::Arc;
use std::time::Duration;
use vitrine_store::ContentStore;

/// Longest wait between two attempts of one event.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Delivers due events forever. `base` is the first retry delay (doubled per attempt).
pub async fn deliver_forever(
    store: Arc<dyn ContentStore>,
    url: String,
    max_attempts: u32,
    base: Duration,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook client could not be built; webhooks are off");
            return;
        }
    };
    loop {
        let due = match store.due_webhooks(Utc::now(), 50).await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "reading the webhook outbox failed");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        if due.is_empty() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        for d in due {
            let result = client.post(&url).json(&d.payload).send().await;
            let error = match result {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => Some(format!("HTTP {}", r.status())),
                Err(e) => Some(e.to_string()),
            };
            let outcome = match &error {
                None => store.webhook_attempted(d.seq, true, None, None).await,
                Some(err) => {
                    let attempts = d.attempts + 1;
                    let retry_at = (attempts < i64::from(max_attempts)).then(|| {
                        let wait = base
                            .saturating_mul(2u32.saturating_pow(attempts.clamp(0, 20) as u32))
                            .min(MAX_BACKOFF);
                        Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default()
                    });
                    tracing::warn!(seq = d.seq, attempts, error = %err, gave_up = retry_at.is_none(), "webhook delivery failed");
                    store
                        .webhook_attempted(d.seq, false, Some(err), retry_at)
                        .await
                }
            };
            if let Err(e) = outcome {
                tracing::error!(error = %e, "recording a webhook attempt failed");
            }
        }
    }
}
