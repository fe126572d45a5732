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
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// Headline counts of the store.
#[utoipa::path(get, path = "/v1/stats", tag = "operations", responses((status = 200, body = StoreStats)))]
pub(crate) async fn stats(State(state): State<AppState>) -> Result<Json<StoreStats>, ApiError> {
    Ok(Json(state.store.stats().await?))
}
