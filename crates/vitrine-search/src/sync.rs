//! Keeps the search indexes in step with the store through its catalog change feed. The text index and
//! the vector index follow separately (embedding is slow; text indexing is not), each from the position
//! recorded with its own last durable save, so a restart resumes where it stopped and a crash can only
//! cause re-application of changes, which is idempotent.

use crate::engine::SearchEngine;
use crate::SearchError;
use futures::TryStreamExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use vitrine_store::Store;

/// Changes read per step.
const PAGE: u32 = 2_000;
/// The vector index is saved at most this often while catching up.
const VECTOR_SAVE_EVERY: Duration = Duration::from_secs(30);

/// Loads every product into the doc table and vocabulary (start-up; the indexes themselves persist).
pub async fn load(engine: &SearchEngine, store: &dyn Store) -> Result<usize, SearchError> {
    let mut batch = Vec::with_capacity(5_000);
    let mut n = 0;
    let mut products = store.stream_products();
    while let Some(p) = products.try_next().await.map_err(store_err)? {
        batch.push(p);
        if batch.len() == 5_000 {
            engine.load_docs(&batch);
            n += batch.len();
            batch.clear();
        }
    }
    n += batch.len();
    engine.load_docs(&batch);
    engine.rebuild_vocabulary();
    Ok(n)
}

fn store_err(e: vitrine_store::StoreError) -> SearchError {
    SearchError::Store(e.to_string())
}

/// Applies pending changes to the text index until caught up; returns how many were applied.
pub async fn catch_up_text(
    engine: &SearchEngine,
    store: &dyn Store,
    progress: &(dyn Fn(i64, i64) + Sync),
) -> Result<usize, SearchError> {
    let mut applied = 0;
    let mut words_changed = false;
    let latest = store.latest_product_change().await.map_err(store_err)?;
    loop {
        let from = engine.lexical().watermark();
        let changes = store
            .product_changes_since(from, PAGE)
            .await
            .map_err(store_err)?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            break;
        };
        let products: Vec<_> = changes.into_iter().map(|c| c.product).collect();
        words_changed |= engine.apply_text(&products, last)?;
        applied += products.len();
        progress(last, latest);
    }
    // Price and stock changes leave the words alone: no rebuild for them.
    if words_changed {
        engine.rebuild_vocabulary();
    }
    Ok(applied)
}

/// Embeds and indexes pending changes until caught up; returns how many products were embedded.
pub async fn catch_up_vectors(
    engine: &SearchEngine,
    store: &dyn Store,
    progress: &(dyn Fn(i64, i64) + Sync),
) -> Result<usize, SearchError> {
    let Some(vectors) = engine.vectors() else {
        return Ok(0);
    };
    let latest = store.latest_product_change().await.map_err(store_err)?;
    let mut embedded = 0;
    let mut last_save = Instant::now();
    let mut dirty = false;
    let caught_up_words = engine.word_vectors_caught_up();
    loop {
        let from = vectors.watermark();
        let changes = store
            .product_changes_since(from, 256)
            .await
            .map_err(store_err)?;
        let Some(last) = changes.last().map(|c| c.seq) else {
            break;
        };
        let products: Vec<_> = changes.into_iter().map(|c| c.product).collect();
        let batch = engine.apply_vectors(&products, last).await?;
        if batch > 0 && caught_up_words {
            engine.embed_title_words_of(&products).await?;
        }
        embedded += batch;
        dirty = true;
        progress(last, latest);
        if last_save.elapsed() > VECTOR_SAVE_EVERY {
            vectors.save()?;
            engine.save_word_vectors();
            last_save = Instant::now();
            dirty = false;
        }
    }
    if dirty {
        vectors.save()?;
    }
    if !caught_up_words {
        // The first catch-up after a start reads every title once: words the saved table lacks
        // (a new catalog, another encoder, changes made while stopped) are embedded.
        engine.embed_title_words().await?;
    }
    // New words are written once per catch-up, not per batch.
    engine.save_word_vectors();
    Ok(embedded)
}

/// Drops both indexes and rebuilds them from the store (`vitrine reindex`).
pub async fn rebuild(
    engine: &SearchEngine,
    store: &dyn Store,
    text_progress: &(dyn Fn(i64, i64) + Sync),
    vector_progress: &(dyn Fn(i64, i64) + Sync),
) -> Result<(usize, usize), SearchError> {
    if let Some(v) = engine.vectors() {
        v.clear()?;
    }
    let text = rebuild_text(engine, store, text_progress).await?;
    let vectors = catch_up_vectors(engine, store, vector_progress).await?;
    Ok((text, vectors))
}

/// Rebuilds the text index and compacts it to one segment; returns how many products it read.
async fn rebuild_text(
    engine: &SearchEngine,
    store: &dyn Store,
    progress: &(dyn Fn(i64, i64) + Sync),
) -> Result<usize, SearchError> {
    engine.lexical().clear()?;
    let text = catch_up_text(engine, store, progress).await?;
    // Compaction only speeds searches up: a merge tantivy's own policy already started on one of the
    // segments makes it fail, and the rebuilt index is complete either way.
    if let Err(e) = engine.lexical().compact() {
        tracing::warn!(error = %e, "text index left in several segments");
    }
    Ok(text)
}

/// Runs both followers until the process ends: they wake on `changed` (write routes notify it) or every
/// `poll` at the latest (changes made by another process, e.g. `vitrine import`).
pub fn spawn_followers(
    engine: Arc<SearchEngine>,
    store: Arc<dyn Store>,
    changed: Arc<Notify>,
    poll: Duration,
) -> Vec<tokio::task::JoinHandle<()>> {
    let text = {
        let (engine, store, changed) = (engine.clone(), store.clone(), changed.clone());
        tokio::spawn(async move {
            loop {
                if let Err(e) = catch_up_text(&engine, store.as_ref(), &|_, _| {}).await {
                    tracing::error!(error = %e, "text index follower failed; retrying");
                }
                tokio::select! {
                    _ = changed.notified() => {},
                    _ = tokio::time::sleep(poll) => {},
                }
            }
        })
    };
    let vectors = tokio::spawn(async move {
        loop {
            if let Err(e) = catch_up_vectors(&engine, store.as_ref(), &|_, _| {}).await {
                tracing::error!(error = %e, "vector index follower failed; retrying");
            }
            tokio::select! {
                _ = changed.notified() => {},
                _ = tokio::time::sleep(poll) => {},
            }
        }
    });
    vec![text, vectors]
}
