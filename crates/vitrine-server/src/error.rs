//! RFC 9457 problem details for every error the API returns, with field-level detail where there is one.

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use vitrine_core::RecordError;
use vitrine_ingest::BatchError;
use vitrine_store::StoreError;

/// A problem+json body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Problem type (a URI reference naming the kind of problem).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// Rejected records with their index, field and reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<RecordError>,
    /// For partially accepted batches: how the valid records fared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<serde_json::Value>,
}

/// An API error; converts into a problem+json response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<RecordError>,
    accepted: Option<serde_json::Value>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            accepted: None,
        }
    }
    /// 400: the request itself is unreadable.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }
    /// 409: the request conflicts with work in progress.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }
    /// 500: the server could not do what was valid to ask (a file it could not write, …).
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }
    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }
    /// 422: records failed validation; `accepted` says what happened to the valid ones.
    pub fn invalid_records(errors: Vec<RecordError>, accepted: Option<serde_json::Value>) -> Self {
        let n = errors.len();
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-records",
            "Some records were rejected",
            format!("{n} record(s) rejected; see errors. Valid records in the same request were stored (see accepted)."),
        );
        e.errors = errors;
        e.accepted = accepted;
        e
    }
    /// 422 for a single object.
    pub fn invalid(errors: Vec<vitrine_core::FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-record",
            "The record is invalid",
            detail,
        );
        e.errors = vec![RecordError::at_index(0, None, errors)];
        e
    }
}

impl From<BatchError> for ApiError {
    fn from(e: BatchError) -> Self {
        match e {
            BatchError::TooMany { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "batch-too-large",
                "Batch too large",
                e.to_string(),
            ),
            BatchError::InvalidUtf8 { .. } => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid-utf8",
                "Invalid UTF-8",
                e.to_string(),
            ),
            _ => Self::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "Malformed JSON",
                e.to_string(),
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Invalid(errors) => Self::invalid(errors),
            StoreError::Conflict(m) => Self::conflict(m),
            StoreError::Closed => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting-down",
                "Shutting down",
                "the server is stopping; retry",
            ),
            other => {
                tracing::error!(error = %other, "storage failure");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage-unavailable",
                    "Storage unavailable",
                    "the write was not committed; it is safe to retry",
                )
            }
        }
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(e: axum::extract::rejection::BytesRejection) -> Self {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(
                status,
                "body-too-large",
                "Body too large",
                "the request body exceeds server.max_body_bytes",
            )
        } else {
            Self::new(status, "unreadable-body", "Unreadable body", e.body_text())
        }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(e: axum::extract::rejection::QueryRejection) -> Self {
        Self::bad_request(format!("invalid query parameter: {}", e.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            kind: format!("/problems/{}", self.slug),
            title: self.title.to_string(),
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
            accepted: self.accepted,
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            json,
        )
            .into_response()
    }
}

pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked; answered 500");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "Internal error",
        "an internal error occurred",
    )
    .into_response()
}

/// Per-request deadline: model routes get `model_timeout_ms`, everything else `request_timeout_ms`. A
/// streamed response only has to start within the deadline.
pub(crate) async fn timeout(
    axum::extract::State(state): axum::extract::State<crate::AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = req.uri().path();
    let ms = if path == "/v1/embeddings" || path == "/v1/chat/completions" {
        state.config.model_timeout_ms
    } else {
        state.config.request_timeout_ms
    };
    match tokio::time::timeout(std::time::Duration::from_millis(ms), next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "Request timed out",
            format!("the request took longer than {ms} ms"),
        )
        .into_response(),
    }
}

impl From<vitrine_models::ModelError> for ApiError {
    fn from(e: vitrine_models::ModelError) -> Self {
        use vitrine_models::ModelError as M;
        match e {
            M::InvalidInput(m) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid-model-input",
                "Invalid model input",
                m,
            ),
            M::Missing { .. } | M::Corrupt { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "model-unavailable",
                "Model unavailable",
                e.to_string(),
            ),
            M::Timeout(_) => Self::new(
                StatusCode::GATEWAY_TIMEOUT,
                "backend-timeout",
                "Model backend timed out",
                e.to_string(),
            ),
            M::Remote(_) | M::Fetch { .. } => Self::new(
                StatusCode::BAD_GATEWAY,
                "backend-failed",
                "Model backend failed",
                e.to_string(),
            ),
            M::Runtime(_) | M::Io { .. } => {
                tracing::error!(error = %e, "model runtime failure");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "model-failed",
                    "Model failed",
                    e.to_string(),
                )
            }
        }
    }
}

impl ApiError {
    /// 503 for a capability that is not configured or not installed.
    pub fn unavailable(reason: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "model-unavailable",
            "Model unavailable",
            reason.to_string(),
        )
    }
}
