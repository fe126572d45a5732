//! `/v1/recommend/{surface}` and the model registry (`/v1/recommend/models…`, `/v1/recommend/train`):
//! parsing and validation, then `vitrine-recommend`. Every answer carries its request id and is logged
//! as an impression by the engine.

use crate::{ApiError, AppState};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, Path, Query, State},
    http::{HeaderMap, StatusCode},
    Json,
};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;
use utoipa::ToSchema;
use vitrine_recommend::types::{RecRequest, RecResponse, Surface};
use vitrine_recommend::{RecError, RecommendEngine};
use vitrine_store::{ModelVersion, RecStore, RewardTotals};

fn engine(state: &AppState) -> Result<&Arc<RecommendEngine>, ApiError> {
    state
        .recommend
        .as_ref()
        .map_err(|r| ApiError::unavailable(r))
}

impl From<RecError> for ApiError {
    fn from(e: RecError) -> Self {
        match e {
            RecError::BadRequest { field, reason } => {
                ApiError::bad_request(format!("{field}: {reason}"))
            }
            RecError::UnknownProduct(sku) => {
                ApiError::not_found(format!("unknown product {sku:?}"))
            }
            RecError::UnknownVersion(v) => {
                ApiError::not_found(format!("model version {v} does not exist"))
            }
            RecError::Store(e) => ApiError::from(e),
            RecError::Registry(e) => ApiError::unavailable(&e.to_string()),
        }
    }
}

/// An answer plus server time.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecAnswer {
    #[serde(flatten)]
    result: RecResponse,
    /// Server time spent.
    took_ms: f64,
}

fn surface(name: &str) -> Result<Surface, ApiError> {
    Surface::parse(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "unknown surface {name:?}; expected similar, bought_together, for_you, next or trending"
        ))
    })
}

fn parse<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ApiError> {
    v.parse()
        .map_err(|_| ApiError::bad_request(format!("parameter {name}: {v:?} is not a valid value")))
}

fn request_from_params(params: Vec<(String, String)>) -> Result<RecRequest, ApiError> {
    let mut r = RecRequest::default();
    let list = |v: &str| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect::<Vec<_>>()
    };
    for (k, v) in params {
        match k.as_str() {
            "user_id" => r.user_id = Some(v),
            "session_id" => r.session_id = Some(v),
            "item" | "items" | "item_id" | "product_id" => r.items.extend(list(&v)),
            "cart" => r.cart.extend(list(&v)),
            "count" => r.count = Some(parse(&k, &v)?),
            "category" => r.filters.category = Some(v),
            "price_min" => r.filters.price_min = Some(parse(&k, &v)?),
            "price_max" => r.filters.price_max = Some(parse(&k, &v)?),
            "in_stock" => r.filters.in_stock = Some(parse(&k, &v)?),
            "device" => r.context.device = Some(v),
            "channel" => r.context.channel = Some(v),
            "region" => r.context.region = Some(v),
            "explain" => r.explain = parse(&k, &v)?,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {k:?}; known: user_id, session_id, item, cart, count, category, \
                     price_min, price_max, in_stock, device, channel, region, explain"
                )))
            }
        }
    }
    Ok(r)
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

fn answer(
    state: &AppState,
    name: &str,
    headers: &HeaderMap,
    req: RecRequest,
) -> Result<Json<RecAnswer>, ApiError> {
    let started = Instant::now();
    let surface = surface(name)?;
    let engine = engine(state)?;
    let result = engine.recommend(surface, &req, request_id(headers))?;
    Ok(Json(RecAnswer {
        result,
        took_ms: started.elapsed().as_secs_f64() * 1e3,
    }))
}

/// Recommendations for a surface (query parameters; `item` and `cart` are comma-separated or repeated).
#[utoipa::path(get, path = "/v1/recommend/{surface}", tag = "recommend",
    params(("surface" = String, Path, description = "similar, bought_together, for_you, next, trending")),
    responses((status = 200, body = RecAnswer), (status = 400, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub(crate) async fn recommend_get(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RecAnswer>, ApiError> {
    let Query(params) = params?;
    let req = request_from_params(params)?;
    answer(&state, &name, &headers, req)
}

/// Recommendations for a surface (JSON body).
#[utoipa::path(post, path = "/v1/recommend/{surface}", tag = "recommend", request_body = RecRequest,
    params(("surface" = String, Path, description = "similar, bought_together, for_you, next, trending")),
    responses((status = 200, body = RecAnswer), (status = 400, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub(crate) async fn recommend_post(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RecAnswer>, ApiError> {
    let req: RecRequest = super::json_body(&body?)?.unwrap_or_default();
    answer(&state, &name, &headers, req)
}

/// The registry: every version with its manifest, which serves and which is marked active.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ModelsAnswer {
    /// Version serving in this process (`null`: untrained heuristic).
    serving: Option<i64>,
    /// Version marked active in the registry.
    active: Option<i64>,
    /// Version that was active before (rollback target).
    previous: Option<i64>,
    /// Every version, newest first.
    #[schema(value_type = Vec<Object>)]
    versions: Vec<ModelVersion>,
    /// Reward ledger totals.
    #[schema(value_type = Object)]
    rewards: RewardTotals,
}

fn rec_store(state: &AppState) -> Result<&Arc<dyn RecStore>, ApiError> {
    state
        .rec_store
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("recommendations are disabled"))
}

async fn models_answer(state: &AppState) -> Result<ModelsAnswer, ApiError> {
    let engine = engine(state)?;
    let store = rec_store(state)?;
    let active = store.active_model().await?;
    Ok(ModelsAnswer {
        serving: engine.serving_version(),
        active: active.as_ref().map(|a| a.version),
        previous: active.and_then(|a| a.previous),
        versions: store.model_versions().await?,
        rewards: store.reward_totals().await?,
    })
}

/// Lists model versions.
#[utoipa::path(get, path = "/v1/recommend/models", tag = "recommend",
    responses((status = 200, body = ModelsAnswer), (status = 503, body = crate::error::Problem)))]
pub(crate) async fn list_models(
    State(state): State<AppState>,
) -> Result<Json<ModelsAnswer>, ApiError> {
    Ok(Json(models_answer(&state).await?))
}

/// Serves `version` from the next request on (and marks it active).
#[utoipa::path(post, path = "/v1/recommend/models/{version}/promote", tag = "recommend",
    params(("version" = i64, Path)),
    responses((status = 200, body = ModelsAnswer), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn promote(
    State(state): State<AppState>,
    Path(version): Path<String>,
) -> Result<Json<ModelsAnswer>, ApiError> {
    let version: i64 = parse("version", &version)?;
    engine(&state)?.promote(version).await?;
    Ok(Json(models_answer(&state).await?))
}

/// Goes back to the version that served before the current one.
#[utoipa::path(post, path = "/v1/recommend/models/rollback", tag = "recommend",
    responses((status = 200, body = ModelsAnswer), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn rollback(
    State(state): State<AppState>,
) -> Result<Json<ModelsAnswer>, ApiError> {
    engine(&state)?.rollback().await?;
    Ok(Json(models_answer(&state).await?))
}

/// Starts a training run in the background (202); the new version appears in `/v1/recommend/models`.
#[utoipa::path(post, path = "/v1/recommend/train", tag = "recommend",
    responses((status = 202, description = "Training started"), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn train(
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let engine = engine(&state)?.clone();
    let store = state.store.clone();
    let rec = rec_store(&state)?.clone();
    if !state
        .training
        .try_lock()
        .is_ok_and(|mut busy| !std::mem::replace(&mut *busy, true))
    {
        return Err(ApiError::conflict("a training run is already in progress"));
    }
    let flag = state.training.clone();
    tokio::spawn(async move {
        let outcome = run_training(&engine, store.as_ref(), rec.as_ref()).await;
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "training run failed");
        }
        *flag.lock().await = false;
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "status": "training started" })),
    ))
}

/// One training run, promoting the result when `auto_promote` is set.
pub async fn run_training(
    engine: &RecommendEngine,
    store: &dyn vitrine_store::Store,
    rec: &dyn RecStore,
) -> Result<i64, String> {
    let outcome = vitrine_recommend::train::train(
        store,
        rec,
        engine.config(),
        engine.models_dir(),
        chrono::Utc::now(),
        &|_, _| {},
    )
    .await
    .map_err(|e| e.to_string())?;
    tracing::info!(version = outcome.version, "recommendation models trained");
    if engine.config().auto_promote {
        engine
            .promote(outcome.version)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(outcome.version)
}
