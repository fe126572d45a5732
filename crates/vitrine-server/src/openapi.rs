//! The OpenAPI document's header; paths and schemas are collected from the handlers.

use utoipa::OpenApi;

/// Root of the generated OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vitrine API",
        description = "Self-hosted AI engine for online stores: catalog, events, and (in later versions) search, \
                       recommendations and generated copy. Errors are application/problem+json (RFC 9457).",
    ),
    components(schemas(
        crate::error::Problem,
        vitrine_core::RecordError,
        vitrine_core::FieldError
    ))
)]
pub struct ApiDoc;
