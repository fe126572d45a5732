//! Route table. Each submodule owns one resource; handlers carry `#[utoipa::path]` so `/openapi.json` is
//! generated from them.

mod content;
mod events;
mod health;
mod models;
mod products;
mod recommend;
mod search;
mod search_rules;
mod users;

use crate::{openapi::ApiDoc, ApiError, AppState};
use axum::response::IntoResponse;
use utoipa::OpenApi;

pub use recommend::run_training;
use utoipa_axum::{router::OpenApiRouter, routes};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(health::metrics))
        .routes(routes!(health::stats))
        .routes(routes!(products::create_product, products::list_products))
        .routes(routes!(products::batch_products))
        .routes(routes!(
            products::get_product,
            products::put_product,
            products::patch_product,
            products::delete_product
        ))
        .routes(routes!(products::product_history))
        .routes(routes!(events::post_events))
        .routes(routes!(events::get_event))
        .routes(routes!(users::erase_user))
        .routes(routes!(users::user_events))
        .routes(routes!(models::embeddings))
        .routes(routes!(models::chat_completions))
        .routes(routes!(search::search_get, search::search_post))
        .routes(routes!(search::suggest))
        .routes(routes!(search_rules::get_rules, search_rules::put_rules))
        .routes(routes!(search_rules::rules_history))
        .routes(routes!(search_rules::rules_version))
        .routes(routes!(search_rules::rollback))
        .routes(routes!(recommend::list_models))
        .routes(routes!(recommend::promote))
        .routes(routes!(recommend::rollback))
        .routes(routes!(recommend::train))
        .routes(routes!(recommend::recommend_get, recommend::recommend_post))
        .routes(routes!(content::create_job))
        .routes(routes!(content::get_job))
        .routes(routes!(content::review_queue))
        .routes(routes!(content::approve))
        .routes(routes!(content::reject))
        .routes(routes!(content::publish))
        .routes(routes!(content::edit))
        .routes(routes!(content::rollback))
        .routes(routes!(content::published))
        .routes(routes!(content::history))
}

/// A JSON request body as `T`: invalid UTF-8 names the byte, a bad field names its path. `Ok(None)` for an
/// empty (whitespace-only) body, so routes whose every field is optional can treat it as the defaults.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<Option<T>, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::bad_request(format!("body is not UTF-8 (at byte {})", e.valid_up_to()))
    })?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    vitrine_ingest::record::from_json(text)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.field, e.reason)))
}

pub(crate) async fn not_found(uri: axum::http::Uri) -> impl IntoResponse {
    ApiError::not_found(format!("no route for {}; see /openapi.json", uri.path()))
}
