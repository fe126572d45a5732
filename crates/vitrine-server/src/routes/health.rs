//! Liveness, readiness, metrics and store statistics.

use crate::{ApiError, AppState};
use axum::{extract::State, http::header, response::IntoResponse, Json};
use vitrine_store::StoreStats;

/// Liveness: the process is up and answering.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, description = "Alive")))]
pub(crate) async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers, so writes can be acknowledged.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, description = "Ready"), (status = 503, description = "Database unavailable")))]
pub(crate) async fn ready(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    state.store.ping().await?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

/// Prometheus metrics in text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Metrics", body = String)))]
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    if let Ok(engine) = &state.search {
        text.push_str(&search_metrics(engine));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// Search counters and index state in the text exposition format.
fn search_metrics(engine: &vitrine_search::SearchEngine) -> String {
    use std::fmt::Write;
    use std::sync::atomic::Ordering::Relaxed;
    let s = &engine.stats;
    let hits = s.cache_hits.load(Relaxed);
    let misses = s.cache_misses.load(Relaxed);
    let ratio = if hits + misses > 0 {
        hits as f64 / (hits + misses) as f64
    } else {
        0.0
    };
    let vectors = engine.vectors();
    let rows: [(&str, &str, &str, f64); 10] = [
        (
            "vitrine_search_requests_total",
            "counter",
            "Searches answered",
            s.searches.load(Relaxed) as f64,
        ),
        (
            "vitrine_search_cache_hits_total",
            "counter",
            "Searches answered from the result cache",
            hits as f64,
        ),
        (
            "vitrine_search_cache_misses_total",
            "counter",
            "Searches computed",
            misses as f64,
        ),
        (
            "vitrine_search_cache_hit_ratio",
            "gauge",
            "Share of searches answered from the cache",
            ratio,
        ),
        (
            "vitrine_search_semantic_fallbacks_total",
            "counter",
            "Searches answered lexically because semantic retrieval was unavailable",
            s.semantic_fallbacks.load(Relaxed) as f64,
        ),
        (
            "vitrine_search_vocabulary_builds_total",
            "counter",
            "Rebuilds of the catalog's words (attribute vocabulary, speller, autocomplete title terms)",
            s.vocabulary_builds.load(Relaxed) as f64,
        ),
        (
            "vitrine_search_documents",
            "gauge",
            "Products in the text index",
            engine.lexical().len() as f64,
        ),
        (
            "vitrine_search_vectors",
            "gauge",
            "Products in the vector index",
            vectors.map_or(0, |v| v.len()) as f64,
        ),
        (
            "vitrine_search_word_vectors",
            "gauge",
            "Catalog title words with a vector for the ranker's soft word match",
            engine.word_vector_count() as f64,
        ),
        (
            "vitrine_search_vector_lag",
            "gauge",
            "Catalog changes the vector index has not applied yet",
            (engine.lexical().watermark() - vectors.map_or(0, |v| v.watermark())).max(0) as f64,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in rows {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    out
}

/// Headline counts of the store.
#[utoipa::path(get, path = "/v1/stats", tag = "operations", responses((status = 200, body = StoreStats)))]
pub(crate) async fn stats(State(state): State<AppState>) -> Result<Json<StoreStats>, ApiError> {
    Ok(Json(state.store.stats().await?))
}
