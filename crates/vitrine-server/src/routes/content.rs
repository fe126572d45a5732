//! Governed copy over HTTP: generation jobs, the review queue, approve / reject / publish / edit /
//! rollback, and a product's published copy and history. Parsing here; rules in `vitrine-content`.

use crate::{ApiError, AppState, ContentServices};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, Path, Query, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use vitrine_content::{jobs::JobSpec, ContentError, ProductCopy};

impl From<ContentError> for ApiError {
    fn from(e: ContentError) -> Self {
        match e {
            ContentError::InvalidInput(m) => ApiError::bad_request(m),
            ContentError::NotFound(m) => ApiError::not_found(m),
            ContentError::Conflict(m) => ApiError::conflict(m),
            ContentError::Model(m) => ApiError::unavailable(&format!("generation backend: {m}")),
            ContentError::Store(e) => ApiError::from(e),
        }
    }
}

fn services(state: &AppState) -> Result<&ContentServices, ApiError> {
    state
        .content
        .as_deref()
        .map_err(|r| ApiError::unavailable(r))
}

fn body<T: serde::de::DeserializeOwned>(b: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    super::json_body(&b?)?.ok_or_else(|| ApiError::bad_request("a JSON body is required"))
}

fn job_json(j: &vitrine_store::ContentJob) -> Value {
    let finished = j.done + j.failed;
    json!({
        "job": j,
        "progress": if j.total > 0 { finished as f64 / j.total as f64 } else { 1.0 },
    })
}

/// Starts a generation job for products by id or by filter (`{"filter": {}}` = every product).
#[utoipa::path(post, path = "/v1/content/jobs", tag = "content", request_body = serde_json::Value,
    responses((status = 202, description = "job queued"), (status = 400, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub(crate) async fn create_job(
    State(state): State<AppState>,
    b: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec: JobSpec = body(b)?;
    let job = services(&state)?.jobs.create(&spec).await?;
    Ok((StatusCode::ACCEPTED, Json(job_json(&job))))
}

/// A job's status and progress.
#[utoipa::path(get, path = "/v1/content/jobs/{id}", tag = "content",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, description = "job"), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = services(&state)?.jobs.get(&id).await?;
    Ok(Json(job_json(&job)))
}

#[derive(Deserialize)]
pub(crate) struct QueueParams {
    limit: Option<usize>,
}

/// Versions waiting for review, highest business impact (views × conversion × margin) first.
#[utoipa::path(get, path = "/v1/content/review-queue", tag = "content",
    params(("limit" = Option<usize>, Query, description = "most entries (default 50)")),
    responses((status = 200, description = "queue")))]
pub(crate) async fn review_queue(
    State(state): State<AppState>,
    q: Result<Query<QueueParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(50).clamp(1, 1_000);
    let entries = services(&state)?.workflow.review_queue(limit).await?;
    Ok(Json(json!({ "items": entries })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Review {
    reviewer: String,
    reason: String,
    #[serde(default = "yes")]
    publish: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Actor {
    actor: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Edit {
    base_version: i64,
    editor: String,
    copy: ProductCopy,
    #[serde(default)]
    keywords: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollback {
    version: i64,
    actor: String,
    reason: String,
}

/// Approves a version in review (`publish` defaults to true: it goes live at once).
#[utoipa::path(post, path = "/v1/products/{id}/content/{version}/approve", tag = "content", request_body = serde_json::Value,
    params(("id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, description = "approved version"), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    Path((id, version)): Path<(String, i64)>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let r: Review = body(b)?;
    let v = services(&state)?
        .workflow
        .approve(&id, version, &r.reviewer, &r.reason, r.publish)
        .await?;
    Ok(Json(json!(v)))
}

/// Rejects a pending version.
#[utoipa::path(post, path = "/v1/products/{id}/content/{version}/reject", tag = "content", request_body = serde_json::Value,
    params(("id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, description = "rejected version"), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn reject(
    State(state): State<AppState>,
    Path((id, version)): Path<(String, i64)>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let r: Review = body(b)?;
    let v = services(&state)?
        .workflow
        .reject(&id, version, &r.reviewer, &r.reason)
        .await?;
    Ok(Json(json!(v)))
}

/// Publishes an approved version.
#[utoipa::path(post, path = "/v1/products/{id}/content/{version}/publish", tag = "content", request_body = serde_json::Value,
    params(("id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, description = "published version"), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn publish(
    State(state): State<AppState>,
    Path((id, version)): Path<(String, i64)>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let a: Actor = body(b)?;
    let v = services(&state)?
        .workflow
        .publish(&id, version, &a.actor)
        .await?;
    Ok(Json(json!(v)))
}

/// A human edit: a new version, re-validated, in review. 409 when `base_version` is not the latest.
#[utoipa::path(post, path = "/v1/products/{id}/content/edit", tag = "content", request_body = serde_json::Value,
    params(("id" = String, Path)),
    responses((status = 201, description = "new version"), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let e: Edit = body(b)?;
    let v = services(&state)?
        .workflow
        .edit(&id, e.base_version, e.copy, &e.editor, &e.keywords)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(v))))
}

/// Makes an earlier version live again.
#[utoipa::path(post, path = "/v1/products/{id}/content/rollback", tag = "content", request_body = serde_json::Value,
    params(("id" = String, Path)),
    responses((status = 200, description = "the version now published"), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub(crate) async fn rollback(
    State(state): State<AppState>,
    Path(id): Path<String>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let r: Rollback = body(b)?;
    let v = services(&state)?
        .workflow
        .rollback(&id, r.version, &r.actor, &r.reason)
        .await?;
    Ok(Json(json!(v)))
}

/// The product's published copy.
#[utoipa::path(get, path = "/v1/products/{id}/content", tag = "content",
    params(("id" = String, Path)),
    responses((status = 200, description = "published version"), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn published(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match services(&state)?.workflow.published(&id).await? {
        Some(v) => Ok(Json(json!(v))),
        None => Err(ApiError::not_found(format!(
            "product {id} has no published copy"
        ))),
    }
}

/// Every version of the product's copy and the audit trail of state changes.
#[utoipa::path(get, path = "/v1/products/{id}/content/history", tag = "content",
    params(("id" = String, Path)),
    responses((status = 200, description = "versions and audit")))]
pub(crate) async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = services(&state)?;
    let versions = s.workflow.history(&id).await?;
    let audit = s.workflow.audit(&id).await?;
    Ok(Json(json!({ "versions": versions, "audit": audit })))
}
