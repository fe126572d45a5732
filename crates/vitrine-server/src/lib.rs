//! # vitrine-server — the HTTP/JSON API
//!
//! A thin layer: it parses requests, calls the engine crates (`vitrine-store`, `vitrine-ingest`,
//! `vitrine-models`, `vitrine-search`) and maps
//! results to JSON. No business rule lives here. Every error is `application/problem+json` (RFC 9457); every
//! response carries an `x-request-id`; every route is counted and timed in `/metrics`; `/openapi.json` is
//! generated from the handlers' annotations, so it cannot drift from the code.
//!
//! Durability contract: a 2xx (or a 422 that reports `stored > 0`) is sent only after the store committed.

mod console;
mod error;
mod metrics;
mod openapi;
mod routes;
pub mod webhooks;

pub use error::ApiError;
pub use metrics::Metrics;
pub use routes::run_training;

use axum::{extract::DefaultBodyLimit, http::HeaderName, Router};
use serde::{Deserialize, Serialize};
use std::{net::SocketAddr, sync::Arc};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
};
use vitrine_store::Store;

/// HTTP server settings (the `[server]` table of the config file).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address.
    pub addr: SocketAddr,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Requests taking longer are answered 503 and abandoned.
    pub request_timeout_ms: u64,
    /// Most events in one `POST /v1/events`.
    pub max_events_per_request: usize,
    /// Most products in one `POST /v1/products/batch`.
    pub max_products_per_request: usize,
    /// Largest page of `GET /v1/products`.
    pub max_page_size: u32,
    /// Largest page of `/v1/search`.
    pub max_search_page: usize,
    /// Timeout of model routes (`/v1/embeddings`, `/v1/chat/completions`), which legitimately take seconds.
    pub model_timeout_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 7700)),
            max_body_bytes: 4 * 1024 * 1024,
            request_timeout_ms: 10_000,
            max_events_per_request: 1_000,
            max_products_per_request: 1_000,
            max_page_size: 500,
            model_timeout_ms: 120_000,
            max_search_page: 100,
        }
    }
}

/// The model backends the server exposes; each is `Err(reason)` when unavailable, so the API can say why
/// and how to fix it instead of failing at start-up.
#[derive(Clone)]
pub struct ModelServices {
    /// Embeddings.
    pub embedder: Result<Arc<dyn vitrine_models::Embedder>, String>,
    /// Generation.
    pub generator: Result<Arc<dyn vitrine_models::Generator>, String>,
    /// Counters of the local embedder, for `/metrics`.
    pub embedder_stats: Option<Arc<vitrine_models::embed::EmbedderStats>>,
}

impl ModelServices {
    /// No models: the catalog and event API still work.
    pub fn none(reason: &str) -> Self {
        Self {
            embedder: Err(reason.to_string()),
            generator: Err(reason.to_string()),
            embedder_stats: None,
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The system of record.
    pub store: Arc<dyn Store>,
    /// Model backends.
    pub models: ModelServices,
    /// Limits.
    pub config: Arc<ServerConfig>,
    /// Prometheus registry and instruments.
    pub metrics: Arc<Metrics>,
    /// Search, when enabled (`None`: the search routes answer 503 with the reason).
    pub search: Result<Arc<vitrine_search::SearchEngine>, String>,
    /// Woken after every catalog write so the search indexes catch up at once.
    pub catalog_changed: Arc<tokio::sync::Notify>,
    /// Recommendations, when enabled (`Err`: the routes answer 503 with the reason).
    pub recommend: Result<Arc<vitrine_recommend::RecommendEngine>, String>,
    /// Impressions, rewards and the model registry.
    pub rec_store: Option<Arc<dyn vitrine_store::RecStore>>,
    /// Every version of the search rules put in force (`None`: edits are applied but not versioned, and
    /// the history routes answer 503).
    pub rules_history: Option<Arc<dyn vitrine_store::RulesHistory>>,
    /// True while a training run started over HTTP is in progress.
    pub training: Arc<tokio::sync::Mutex<bool>>,
    /// Governed copy, when enabled (`Err`: the routes answer 503 with the reason). Behind an `Arc`
    /// because axum clones the state for every request, and the services hold their configuration.
    pub content: Result<Arc<ContentServices>, String>,
}

/// The content workflow and its job runner.
#[derive(Clone)]
pub struct ContentServices {
    /// States, edits, reviews, rollback, queue.
    pub workflow: vitrine_content::workflow::Workflow,
    /// Generation jobs.
    pub jobs: vitrine_content::jobs::Jobs,
}

/// Builds the full application (routes, middleware, OpenAPI document).
pub fn app(state: AppState) -> Router {
    let (api, spec) = routes::router().split_for_parts();
    let spec = Arc::new(spec);
    let request_id = HeaderName::from_static("x-request-id");
    api.route(
        "/openapi.json",
        axum::routing::get(move || {
            let spec = spec.clone();
            async move { axum::Json((*spec).clone()) }
        }),
    )
    .merge(console::routes())
    .fallback(routes::not_found)
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        metrics::track,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        error::timeout,
    ))
    .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
    .layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
            .layer(PropagateRequestIdLayer::new(request_id))
            .layer(CatchPanicLayer::custom(error::panic_response)),
    )
    .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish (their writes
/// commit before they answer), and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGTERM or Ctrl-C: the signals a process manager sends to stop a server.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}
