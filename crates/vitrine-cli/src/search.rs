//! Starting search inside `vitrine serve` / `vitrine demo`, and `vitrine reindex`.

use crate::config::Config;
use crate::progress;
use std::sync::Arc;
use std::time::Duration;
use vitrine_models::Embedder;
use vitrine_search::{index_dir, sync, SearchEngine};
use vitrine_store::{RulesHistory, Store};

/// Opens the indexes, loads the doc table, applies pending text changes (so the first answer is
/// consistent with the store), then follows the change feed in the background. Failures become the
/// reason the search routes give, not a failed start.
pub async fn start(
    config: &Config,
    store: Arc<dyn Store>,
    embedder: Option<Arc<dyn Embedder>>,
    changed: Arc<tokio::sync::Notify>,
    rules_history: Option<Arc<dyn RulesHistory>>,
) -> Result<Arc<SearchEngine>, String> {
    if !config.search.enabled {
        return Err("search is disabled ([search] enabled = false)".into());
    }
    let dir = index_dir(&config.store.path);
    let engine = SearchEngine::open(config.search.clone(), Some(&dir), embedder).map_err(|e| {
        format!(
            "search index at {}: {e}; `vitrine reindex` rebuilds it",
            dir.display()
        )
    })?;
    if let Some(path) = &config.search.cross_encoder {
        let model = vitrine_models::CrossEncoder::load(&config.models.dir, path)
            .map_err(|e| format!("[search] cross_encoder {}: {e}", path.display()))?;
        engine.set_cross_encoder(Some(vitrine_search::CrossStage {
            model,
            top: config.search.cross_encoder_top,
            share: config.search.cross_encoder_share.clamp(0.0, 1.0),
        }));
    }
    let engine = Arc::new(engine);
    let loaded = sync::load(&engine, store.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    let applied = sync::catch_up_text(&engine, store.as_ref(), &|_, _| {})
        .await
        .map_err(|e| e.to_string())?;
    if let Ok(queries) = store.recent_search_queries(20_000).await {
        for q in queries {
            engine.record_query(&q);
        }
    }
    tracing::info!(products = loaded, applied, dir = %dir.display(), "search ready (vectors follow in the background)");
    sync::spawn_followers(engine.clone(), store, changed, Duration::from_secs(1));
    // The history starts with the file as found, so the first edit has something to roll back to.
    if let (Some(history), Some(path)) = (&rules_history, &config.search.rules) {
        if let Ok(text) = std::fs::read_to_string(path) {
            if vitrine_search::rules::Rules::parse(&text).is_ok() {
                vitrine_search::reload::record_file_rules(history.as_ref(), &text, "startup").await;
            }
        }
    }
    vitrine_search::reload::spawn_watcher(engine.clone(), Duration::from_secs(2), rules_history);
    Ok(engine)
}

/// `vitrine reindex`: drops both indexes (only the text index with `text_only`) and rebuilds them from
/// the store with progress bars.
pub async fn reindex(
    config: &Config,
    store: Arc<dyn Store>,
    text_only: bool,
) -> anyhow::Result<()> {
    let dir = index_dir(&config.store.path);
    // Without an embedder the engine has no vector index, so the rebuild leaves the vectors as they are.
    let embedder = if text_only {
        None
    } else {
        let embedder = crate::models::backends(config).embedder;
        if let Err(reason) = &embedder {
            eprintln!("warning: no embedding model ({reason}); rebuilding the text index only");
        }
        embedder.ok()
    };
    let engine = SearchEngine::open(config.search.clone(), Some(&dir), embedder)?;
    let latest = store.latest_product_change().await?.max(1) as u64;
    let text_bar = progress::items(latest, "text");
    let vector_bar = progress::items(latest, "vectors");
    let started = std::time::Instant::now();
    let (text, vectors) = sync::rebuild(
        &engine,
        store.as_ref(),
        &|done, _| text_bar.set_position(done as u64),
        &|done, _| vector_bar.set_position(done as u64),
    )
    .await?;
    text_bar.finish();
    vector_bar.finish();
    println!(
        "reindexed {text} catalog changes into the text index ({} segment) and embedded {vectors} products in {:.1} s ({})",
        engine.lexical().segments(),
        started.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}
