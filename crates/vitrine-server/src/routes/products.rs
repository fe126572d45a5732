//! Catalog endpoints: upsert one or a batch, replace, partial update (price/stock), archive, list, history.

use crate::{ApiError, AppState};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, rejection::QueryRejection, Path, Query, State},
    http::StatusCode,
    Json,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vitrine_core::{decimal::parse_decimal, FieldError, Product, ProductInput, ProductPatch};
use vitrine_ingest::{parse_product_batch, record::product_from_json};
use vitrine_store::{
    PatchOutcome, PricePoint, ProductHistory, ProductPage, ProductQuery, StockPoint, VersionCounts,
};

/// Result of a product write.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WriteResult {
    /// Products inserted or changed.
    changed: u64,
    /// Products identical to what was stored.
    unchanged: u64,
    /// The catalog version recorded for the write.
    catalog_version: i64,
}

async fn write_products(
    state: &AppState,
    source: &str,
    products: &[Product],
    rejected: u64,
) -> Result<WriteResult, ApiError> {
    let version = state.store.begin_catalog_version(source).await?;
    let outcome = state.store.upsert_products(version, products).await?;
    state.catalog_changed.notify_waiters();
    state
        .store
        .finish_catalog_version(
            version,
            VersionCounts {
                changed: outcome.changed,
                unchanged: outcome.unchanged,
                rejected,
            },
        )
        .await?;
    let m = &state.metrics.products;
    m.with_label_values(&["changed"]).inc_by(outcome.changed);
    m.with_label_values(&["unchanged"])
        .inc_by(outcome.unchanged);
    m.with_label_values(&["rejected"]).inc_by(rejected);
    Ok(WriteResult {
        changed: outcome.changed,
        unchanged: outcome.unchanged,
        catalog_version: version,
    })
}

fn single_product(body: &[u8]) -> Result<Product, ApiError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::from(vitrine_ingest::BatchError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })
    })?;
    product_from_json(text, Utc::now()).map_err(|(_, errors)| ApiError::invalid(errors))
}

/// Creates or replaces one product (upsert by `id`).
#[utoipa::path(post, path = "/v1/products", tag = "catalog", request_body = ProductInput,
    responses((status = 200, body = WriteResult), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn create_product(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WriteResult>, ApiError> {
    let product = single_product(&body?)?;
    Ok(Json(
        write_products(&state, "api:upsert", std::slice::from_ref(&product), 0).await?,
    ))
}

/// Upserts up to `max_products_per_request` products; valid ones are stored even when others are rejected.
#[utoipa::path(post, path = "/v1/products/batch", tag = "catalog", request_body = Vec<ProductInput>,
    responses((status = 200, body = WriteResult), (status = 422, description = "Some products rejected; valid ones stored", body = crate::error::Problem)))]
pub(crate) async fn batch_products(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WriteResult>, ApiError> {
    let batch = parse_product_batch(&body?, state.config.max_products_per_request, Utc::now())?;
    let rejected = batch.rejected.len() as u64;
    let result = if batch.accepted.is_empty() {
        None
    } else {
        Some(write_products(&state, "api:batch", &batch.accepted, rejected).await?)
    };
    if batch.rejected.is_empty() {
        return result
            .map(Json)
            .ok_or_else(|| ApiError::bad_request("the batch is empty"));
    }
    state
        .metrics
        .products
        .with_label_values(&["rejected"])
        .inc_by(if result.is_none() { rejected } else { 0 });
    Err(ApiError::invalid_records(
        batch.rejected,
        result.map(|r| serde_json::json!(r)),
    ))
}

/// Replaces one product; the body's `id` must match the path (or be the same SKU).
#[utoipa::path(put, path = "/v1/products/{id}", tag = "catalog", request_body = ProductInput,
    params(("id" = String, Path, description = "SKU")),
    responses((status = 200, body = WriteResult), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn put_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WriteResult>, ApiError> {
    let product = single_product(&body?)?;
    if product.id != id {
        return Err(ApiError::invalid(vec![FieldError::new(
            "id",
            format!("body id {:?} does not match the path id {id:?}", product.id),
        )]));
    }
    Ok(Json(
        write_products(&state, "api:replace", std::slice::from_ref(&product), 0).await?,
    ))
}

/// One product.
#[utoipa::path(get, path = "/v1/products/{id}", tag = "catalog", params(("id" = String, Path, description = "SKU")),
    responses((status = 200, body = Product), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Product>, ApiError> {
    state
        .store
        .get_product(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no product {id:?}")))
}

/// Partial update: price, sale price, cost, stock, status, title, description. Recorded as a catalog version
/// with price/stock history.
#[utoipa::path(patch, path = "/v1/products/{id}", tag = "catalog", request_body = ProductPatch,
    params(("id" = String, Path, description = "SKU")),
    responses((status = 200, body = PatchOutcome), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub(crate) async fn patch_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<PatchOutcome>, ApiError> {
    let body = body?;
    let text = std::str::from_utf8(&body).map_err(|e| {
        ApiError::from(vitrine_ingest::BatchError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })
    })?;
    let patch: ProductPatch =
        vitrine_ingest::record::from_json(text).map_err(|e| ApiError::invalid(vec![e]))?;
    let outcome = state.store.patch_product(&id, &patch).await?;
    state.catalog_changed.notify_waiters();
    outcome
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no product {id:?}")))
}

/// Archives a product: it stops being shown but stays for history and attribution.
#[utoipa::path(delete, path = "/v1/products/{id}", tag = "catalog", params(("id" = String, Path, description = "SKU")),
    responses((status = 200, body = PatchOutcome), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn delete_product(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PatchOutcome>, ApiError> {
    let patch = ProductPatch {
        status: Some("archived".into()),
        ..Default::default()
    };
    let outcome = state.store.patch_product(&id, &patch).await?;
    state.catalog_changed.notify_waiters();
    outcome
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no product {id:?}")))
}

/// Listing filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    /// Category path prefix, e.g. `Apparel > Men`.
    category: Option<String>,
    /// Exact brand.
    brand: Option<String>,
    /// `active` or `archived`.
    status: Option<String>,
    /// Only sellable (true) or only unavailable (false) products.
    in_stock: Option<bool>,
    /// Minimum effective price.
    min_price: Option<String>,
    /// Maximum effective price.
    max_price: Option<String>,
    /// Case-insensitive title substring.
    q: Option<String>,
    /// Cursor from the previous page's `next_cursor`.
    after: Option<String>,
    /// Page size (1..=max_page_size, default 50).
    limit: Option<u32>,
}

/// Filtered, cursor-paginated product listing.
#[utoipa::path(get, path = "/v1/products", tag = "catalog", params(ListParams),
    responses((status = 200, body = ProductPage), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn list_products(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<ProductPage>, ApiError> {
    let Query(p) = params?;
    let price =
        |name: &str, v: &Option<String>| -> Result<Option<rust_decimal::Decimal>, ApiError> {
            v.as_deref()
                .map(|t| {
                    let d = parse_decimal(t)
                        .map_err(|e| ApiError::bad_request(format!("{name}: {e}")))?;
                    if d.is_sign_negative() && !d.is_zero() {
                        return Err(ApiError::bad_request(format!(
                            "{name}: must not be negative"
                        )));
                    }
                    Ok(d)
                })
                .transpose()
        };
    let (min_price, max_price) = (
        price("min_price", &p.min_price)?,
        price("max_price", &p.max_price)?,
    );
    if let (Some(lo), Some(hi)) = (min_price, max_price) {
        if lo > hi {
            return Err(ApiError::bad_request(format!(
                "min_price {lo} is above max_price {hi}"
            )));
        }
    }
    if let Some(s) = &p.status {
        vitrine_core::ProductStatus::parse(s)
            .map_err(|e| ApiError::bad_request(format!("status: {e}")))?;
    }
    let limit = p.limit.unwrap_or(50);
    if limit == 0 || limit > state.config.max_page_size {
        return Err(ApiError::bad_request(format!(
            "limit must be 1 to {}",
            state.config.max_page_size
        )));
    }
    let query = ProductQuery {
        category: p.category,
        brand: p.brand,
        status: p.status,
        in_stock: p.in_stock,
        min_price,
        max_price,
        title_contains: p.q,
        after: p.after,
        limit,
    };
    Ok(Json(state.store.list_products(&query).await?))
}

/// Point-in-time options for history.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryParams {
    /// RFC 3339 time: return only the price and stock in force then.
    at: Option<DateTime<Utc>>,
}

/// Price and stock history, or the state at one moment with `?at=`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum HistoryAnswer {
    /// Full history.
    Full(ProductHistory),
    /// State at a moment.
    At {
        /// Price in force.
        price: Option<PricePoint>,
        /// Stock in force.
        inventory: Option<StockPoint>,
    },
}

/// Price and stock history of a product (point-in-time with `?at=`).
#[utoipa::path(get, path = "/v1/products/{id}/history", tag = "catalog",
    params(("id" = String, Path, description = "SKU"), HistoryParams),
    responses((status = 200, body = HistoryAnswer), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn product_history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<(StatusCode, Json<HistoryAnswer>), ApiError> {
    let Query(p) = params?;
    let answer = match p.at {
        Some(at) => HistoryAnswer::At {
            price: state.store.price_at(&id, at).await?,
            inventory: state.store.inventory_at(&id, at).await?,
        },
        None => HistoryAnswer::Full(state.store.product_history(&id).await?),
    };
    let empty = match &answer {
        HistoryAnswer::Full(h) => h.prices.is_empty(),
        HistoryAnswer::At { price, .. } => {
            price.is_none() && state.store.get_product(&id).await?.is_none()
        }
    };
    if empty {
        return Err(ApiError::not_found(format!(
            "no history for product {id:?}"
        )));
    }
    Ok((StatusCode::OK, Json(answer)))
}
