//! Dynamic batching of concurrent embedding calls. Sixteen shoppers searching at once must not run sixteen
//! model forwards that fight over two cores (each forward already uses every core). One worker runs one
//! forward at a time over everything that queued meanwhile, which turns contention into batch efficiency
//! and adds no waiting when the server is idle.

use super::Embedder;
use crate::ModelError;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Most texts merged into one forward.
const MAX_MERGED_TEXTS: usize = 64;
/// Calls arriving closer together than this mean a loaded server (100 or more a second, where a 2-core
/// machine is about a third busy with searches): forwards then run on one core.
const BUSY_GAP: Duration = Duration::from_millis(10);

type Job = (
    Vec<String>,
    oneshot::Sender<Result<Vec<Vec<f32>>, ModelError>>,
    Instant,
);

/// Whether a batch arrived under load: several calls queued while the last forward ran, or its first
/// call came right after the previous batch's last one.
fn under_load(jobs: &[Job], previous_arrival: Option<Instant>) -> bool {
    jobs.len() > 1
        || previous_arrival
            .zip(jobs.first())
            .is_some_and(|(before, first)| first.2.saturating_duration_since(before) < BUSY_GAP)
}

/// Wraps an embedder so concurrent calls are merged into batches by a single worker.
pub struct BatchingEmbedder {
    inner: Arc<dyn Embedder>,
    queue: mpsc::UnboundedSender<Job>,
}

impl BatchingEmbedder {
    /// Starts the worker on the current tokio runtime.
    pub fn new(inner: Arc<dyn Embedder>) -> Self {
        let (queue, mut rx) = mpsc::unbounded_channel::<Job>();
        let worker = inner.clone();
        tokio::spawn(async move {
            let mut previous_arrival = None;
            while let Some(first) = rx.recv().await {
                let mut jobs = vec![first];
                let mut texts: usize = jobs[0].0.len();
                while texts < MAX_MERGED_TEXTS {
                    match rx.try_recv() {
                        Ok(job) => {
                            texts += job.0.len();
                            jobs.push(job);
                        }
                        Err(_) => break,
                    }
                }
                let merged: Vec<String> = jobs.iter().flat_map(|j| j.0.iter().cloned()).collect();
                let loaded = under_load(&jobs, previous_arrival);
                previous_arrival = jobs.last().map(|j| j.2);
                let result = if loaded {
                    worker.embed_on_one_core(merged).await
                } else {
                    worker.embed(merged).await
                };
                match result {
                    Ok(mut vectors) => {
                        for (texts, reply, _) in jobs.into_iter().rev() {
                            let mine = vectors.split_off(vectors.len() - texts.len());
                            let _ = reply.send(Ok(mine));
                        }
                    }
                    Err(_) => {
                        // One bad text must not fail the others: retry each call on its own.
                        for (texts, reply, _) in jobs {
                            let _ = reply.send(worker.embed(texts).await);
                        }
                    }
                }
            }
        });
        Self { inner, queue }
    }
}

#[async_trait]
impl Embedder for BatchingEmbedder {
    fn model_name(&self) -> &str {
        self.inner.model_name()
    }
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    fn language_words(&self) -> Vec<String> {
        self.inner.language_words()
    }
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError> {
        super::check_inputs(&texts)?;
        let (tx, rx) = oneshot::channel();
        self.queue
            .send((texts, tx, Instant::now()))
            .map_err(|_| ModelError::Runtime("embedding worker stopped".into()))?;
        rx.await
            .map_err(|_| ModelError::Runtime("embedding worker dropped the request".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts forwards; vector = [text length].
    struct Counting(AtomicUsize);

    #[async_trait]
    impl Embedder for Counting {
        fn model_name(&self) -> &str {
            "counting"
        }
        fn dimension(&self) -> usize {
            1
        }
        async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            if texts.iter().any(|t| t == "bad") {
                return Err(ModelError::InvalidInput("bad".into()));
            }
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }

    #[test]
    fn load_is_merged_calls_or_calls_in_quick_succession() {
        let job = |at: Instant| -> Job { (Vec::new(), oneshot::channel().0, at) };
        let t = Instant::now();
        assert!(!under_load(&[job(t)], None), "a lone first call");
        assert!(under_load(&[job(t), job(t)], None), "calls queued together");
        let later = t + BUSY_GAP * 3;
        assert!(!under_load(&[job(later)], Some(t)), "an idle gap before it");
        assert!(
            under_load(&[job(t + BUSY_GAP / 2)], Some(t)),
            "right behind the last"
        );
    }

    #[tokio::test]
    async fn concurrent_calls_are_merged_and_answered_in_order() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let b = Arc::new(BatchingEmbedder::new(inner.clone()));
        let calls: Vec<_> = (1..=20)
            .map(|n| {
                let b = b.clone();
                tokio::spawn(async move { b.embed(vec!["x".repeat(n), "y".repeat(n + 100)]).await })
            })
            .collect();
        for (n, c) in (1..=20).zip(calls) {
            let v = c.await.unwrap().unwrap();
            assert_eq!(v, vec![vec![n as f32], vec![(n + 100) as f32]]);
        }
        assert!(inner.0.load(Ordering::SeqCst) < 20, "calls were merged");
        // A failing text only fails its own call.
        let (bad, good) = tokio::join!(b.embed(vec!["bad".into()]), b.embed(vec!["fine".into()]));
        assert!(bad.is_err());
        assert_eq!(good.unwrap(), vec![vec![4.0]]);
    }
}
