//! `/v1/search` and `/v1/suggest`: request parsing and validation, then `vitrine-search`. Every answer
//! carries the request id and is logged (a `search` event and an `impression` event listing what was
//! shown, in order) for the learning loop.

use crate::{ApiError, AppState};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, Query, State},
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
    Json,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;
use utoipa::{IntoParams, ToSchema};
use vitrine_core::EventContext;
use vitrine_search::{
    normalize, Affinity, Filters, SearchEngine, SearchRequest, SearchResponse, SortOrder,
};

/// Longest accepted query text (characters).
const MAX_QUERY_CHARS: usize = 10_000;
/// Deepest result offset.
const MAX_OFFSET: usize = 10_000;
/// Default page size.
const DEFAULT_LIMIT: usize = 20;

/// Explicit filters (facet selections). Attribute values of one attribute are alternatives.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterBody {
    /// Lowest price.
    price_min: Option<f64>,
    /// Highest price.
    price_max: Option<f64>,
    /// Only products sellable now.
    in_stock: Option<bool>,
    /// Category path prefix (`Apparel > Men`).
    category: Option<String>,
    /// Brands (any of).
    #[serde(default)]
    brand: Vec<String>,
    /// Attribute name → accepted values.
    #[serde(default)]
    attributes: BTreeMap<String, Vec<String>>,
}

/// A search (POST body; GET takes the same fields as query parameters).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchBody {
    /// Free text; empty browses the catalog.
    #[serde(default, alias = "q")]
    query: String,
    /// Explicit filters.
    #[serde(default)]
    filters: FilterBody,
    /// `relevance`, `price_asc`, `price_desc`, `newest`, `rating`.
    sort: Option<String>,
    /// Results to skip.
    #[serde(default)]
    offset: usize,
    /// Page size (default 20).
    limit: Option<usize>,
    /// Attributes to count values of.
    #[serde(default)]
    facets: Vec<String>,
    /// Shopper, for personalisation and logging.
    user_id: Option<String>,
    /// Session, for logging.
    session_id: Option<String>,
    /// Score breakdown per result.
    #[serde(default)]
    explain: bool,
    /// Each result's title as escaped HTML with the searched words in `<mark>`.
    #[serde(default)]
    highlight: bool,
    /// Device, channel, region.
    context: Option<EventContext>,
}

/// The answer. Its JSON is written by [`answer_body`] (which a test checks against this type's own
/// serialization); the type documents it in the OpenAPI description.
#[derive(Debug, Serialize, ToSchema)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct SearchAnswer {
    /// Ties logged impressions and later outcomes to this answer.
    request_id: String,
    /// The result.
    #[serde(flatten)]
    result: SearchResponse,
    /// Served from the result cache.
    cached: bool,
    /// Server time spent.
    took_ms: f64,
}

/// GET parameters: the body's fields, plus `attr.<name>=value` for attribute filters and repeatable
/// `brand`.
#[derive(Debug, Deserialize, IntoParams)]
#[allow(dead_code)]
pub(crate) struct SearchParams {
    /// Query text.
    q: Option<String>,
    /// Sort order.
    sort: Option<String>,
    /// Offset.
    offset: Option<usize>,
    /// Page size.
    limit: Option<usize>,
    /// Comma-separated facet names.
    facets: Option<String>,
    /// Lowest price.
    price_min: Option<f64>,
    /// Highest price.
    price_max: Option<f64>,
    /// Only sellable products.
    in_stock: Option<bool>,
    /// Category prefix.
    category: Option<String>,
    /// Brand (repeatable).
    brand: Option<String>,
    /// Shopper.
    user_id: Option<String>,
    /// Session.
    session_id: Option<String>,
    /// Score breakdown.
    explain: Option<bool>,
    /// Titles with the searched words marked (`highlighted_title`).
    highlight: Option<bool>,
}

fn engine(state: &AppState) -> Result<&Arc<SearchEngine>, ApiError> {
    state.search.as_ref().map_err(|r| ApiError::unavailable(r))
}

fn parse_param<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ApiError> {
    v.parse()
        .map_err(|_| ApiError::bad_request(format!("parameter {name}: {v:?} is not a valid value")))
}

fn body_from_params(params: Vec<(String, String)>) -> Result<SearchBody, ApiError> {
    let mut b = SearchBody::default();
    for (k, v) in params {
        match k.as_str() {
            "q" | "query" => b.query = v,
            "sort" => b.sort = Some(v),
            "offset" => b.offset = parse_param(&k, &v)?,
            "limit" => b.limit = Some(parse_param(&k, &v)?),
            "facets" => b.facets.extend(v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from)),
            "price_min" => b.filters.price_min = Some(parse_param(&k, &v)?),
            "price_max" => b.filters.price_max = Some(parse_param(&k, &v)?),
            "in_stock" => b.filters.in_stock = Some(parse_param(&k, &v)?),
            "category" => b.filters.category = Some(v),
            "brand" => b.filters.brand.push(v),
            "user_id" => b.user_id = Some(v),
            "session_id" => b.session_id = Some(v),
            "explain" => b.explain = parse_param(&k, &v)?,
            "highlight" => b.highlight = parse_param(&k, &v)?,
            _ => match k.strip_prefix("attr.") {
                Some(name) if !name.is_empty() => {
                    b.filters.attributes.entry(name.to_string()).or_default().push(v)
                }
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "unknown parameter {k:?}; known: q, sort, offset, limit, facets, price_min, price_max, \
                         in_stock, category, brand, user_id, session_id, explain, highlight, attr.<name>"
                    )))
                }
            },
        }
    }
    Ok(b)
}

fn finite(name: &str, v: Option<f64>) -> Result<Option<f64>, ApiError> {
    match v {
        Some(x) if !x.is_finite() => Err(ApiError::bad_request(format!(
            "filters.{name} must be a finite number"
        ))),
        Some(x) if x < 0.0 => Err(ApiError::bad_request(format!(
            "filters.{name} must be ≥ 0, got {x}"
        ))),
        other => Ok(other),
    }
}

fn to_request(
    engine: &SearchEngine,
    b: &SearchBody,
    max_page: usize,
) -> Result<SearchRequest, ApiError> {
    if b.query.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::bad_request(format!(
            "query is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let limit = b.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > max_page {
        return Err(ApiError::bad_request(format!(
            "limit must be at most {max_page}, got {limit}"
        )));
    }
    if b.offset > MAX_OFFSET {
        return Err(ApiError::bad_request(format!(
            "offset must be at most {MAX_OFFSET}, got {}",
            b.offset
        )));
    }
    let sort = match &b.sort {
        None => None,
        Some(s) => Some(SortOrder::parse(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "sort: unknown order {s:?}; expected relevance, price_asc, price_desc, newest or rating"
            ))
        })?),
    };
    let f = &b.filters;
    let price_min = finite("price_min", f.price_min)?;
    let price_max = finite("price_max", f.price_max)?;
    if let (Some(lo), Some(hi)) = (price_min, price_max) {
        if lo > hi {
            return Err(ApiError::bad_request(format!(
                "filters: price_min ({lo}) is greater than price_max ({hi})"
            )));
        }
    }
    let mut filters = Filters {
        price_min,
        price_max,
        in_stock: f.in_stock.unwrap_or(false),
        ..Default::default()
    };
    let mut attributes = f.attributes.clone();
    if !f.brand.is_empty() {
        attributes
            .entry("brand".into())
            .or_default()
            .extend(f.brand.iter().cloned());
    }
    for (name, values) in attributes {
        let key = normalize::phrase(&name).replace(' ', "_");
        engine.check_attribute(&key).map_err(|known| {
            ApiError::bad_request(format!(
                "filters: unknown filter field {name:?}; this catalog has: {}",
                known.join(", ")
            ))
        })?;
        let values: Vec<String> = values
            .iter()
            .map(|v| normalize::phrase(v))
            .filter(|v| !v.is_empty())
            .collect();
        if !values.is_empty() {
            filters.attributes.insert(key, values);
        }
    }
    if let Some(c) = &f.category {
        filters.category_prefix = c
            .split('>')
            .map(normalize::phrase)
            .filter(|s| !s.is_empty())
            .collect();
    }
    for name in &b.facets {
        let key = normalize::phrase(name).replace(' ', "_");
        engine.check_attribute(&key).map_err(|known| {
            ApiError::bad_request(format!(
                "facets: unknown attribute {name:?}; this catalog has: {}",
                known.join(", ")
            ))
        })?;
    }
    Ok(SearchRequest {
        query: b.query.clone(),
        filters,
        sort,
        offset: b.offset,
        limit,
        facets: b.facets.clone(),
        explain: b.explain,
        highlight: b.highlight,
        ..Default::default()
    })
}

/// Searches the catalog (query parameters).
#[utoipa::path(get, path = "/v1/search", tag = "search", params(SearchParams),
    responses((status = 200, body = SearchAnswer), (status = 400, body = crate::error::Problem),
              (status = 503, body = crate::error::Problem)))]
pub(crate) async fn search_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params?;
    let body = body_from_params(params)?;
    run(state, headers, body).await
}

/// Searches the catalog (JSON body).
#[utoipa::path(post, path = "/v1/search", tag = "search", request_body = SearchBody,
    responses((status = 200, body = SearchAnswer), (status = 400, body = crate::error::Problem),
              (status = 503, body = crate::error::Problem)))]
pub(crate) async fn search_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // An empty body is refused as before: a search needs at least `{}`.
    let body: SearchBody = super::json_body(&body?)?
        .ok_or_else(|| ApiError::bad_request("body: expected a JSON object, got an empty body"))?;
    run(state, headers, body).await
}

async fn run(state: AppState, headers: HeaderMap, body: SearchBody) -> Result<Response, ApiError> {
    let started = Instant::now();
    let engine = engine(&state)?.clone();
    let mut req = to_request(&engine, &body, state.config.max_search_page)?;
    if let Some(user) = &body.user_id {
        req.affinity = affinity(&state, &engine, user).await;
    }
    let (result, cached) = engine
        .search(&req)
        .await
        .map_err(|e| ApiError::unavailable(&e.to_string()))?;
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    engine.record_query(&body.query);
    log_search(&state, &request_id, &body, &result);
    let took_ms = started.elapsed().as_secs_f64() * 1000.0;
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        answer_body(&request_id, &result, cached, took_ms),
    )
        .into_response())
}

/// The JSON of a [`SearchAnswer`], with the result's part serialized once per answer
/// ([`SearchResponse::json`]): a cached answer is only wrapped with this request's fields.
fn answer_body(request_id: &str, result: &SearchResponse, cached: bool, took_ms: f64) -> String {
    let inner = result.json();
    let fields = inner
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or_default();
    let id = serde_json::to_string(request_id).unwrap_or_else(|_| "\"\"".into());
    let took = serde_json::to_string(&took_ms).unwrap_or_else(|_| "0.0".into());
    let mut out = String::with_capacity(inner.len() + id.len() + 64);
    out.push_str("{\"request_id\":");
    out.push_str(&id);
    if !fields.is_empty() {
        out.push(',');
        out.push_str(fields);
    }
    out.push_str(",\"cached\":");
    out.push_str(if cached { "true" } else { "false" });
    out.push_str(",\"took_ms\":");
    out.push_str(&took);
    out.push('}');
    out
}

/// Brand and category leanings from the shopper's recent events (views 1, clicks 2, carts 3, purchases 4).
async fn affinity(state: &AppState, engine: &SearchEngine, user: &str) -> Option<Affinity> {
    use vitrine_core::EventType::*;
    let events = state.store.events_for_user(user, 50).await.ok()?;
    let mut weights: BTreeMap<(String, String), f64> = BTreeMap::new();
    for e in &events {
        let w = match e.event.event_type {
            View => 1.0,
            Click => 2.0,
            AddToCart => 3.0,
            Purchase => 4.0,
            _ => continue,
        };
        for id in &e.event.product_ids {
            let Some(d) = engine.doc(normalize::doc_key(id)) else {
                continue;
            };
            for f in d
                .facets
                .iter()
                .filter(|f| f.name == "brand" || f.name == "category")
            {
                *weights
                    .entry((f.name.clone(), f.value.clone()))
                    .or_default() += w;
            }
        }
    }
    let max = weights.values().copied().fold(0.0, f64::max);
    if max <= 0.0 {
        return None;
    }
    weights.values_mut().for_each(|w| *w /= max);
    Some(Affinity { weights })
}

/// Logs the search and what it showed, without delaying the answer.
fn log_search(state: &AppState, request_id: &str, body: &SearchBody, result: &SearchResponse) {
    let now = chrono::Utc::now();
    let mut inputs = Vec::with_capacity(2);
    let mut search = vitrine_core::EventInput::new(uuid::Uuid::now_v7().to_string(), "search");
    search.user_id = body.user_id.clone();
    search.session_id = body.session_id.clone();
    search.request_id = Some(request_id.to_string());
    search.query = Some(
        body.query
            .chars()
            .take(vitrine_core::event::MAX_EVENT_TEXT_LEN)
            .collect(),
    );
    search.context = body.context.clone();
    inputs.push(search);
    if !result.hits.is_empty() {
        let mut shown =
            vitrine_core::EventInput::new(uuid::Uuid::now_v7().to_string(), "impression");
        shown.user_id = body.user_id.clone();
        shown.session_id = body.session_id.clone();
        shown.request_id = Some(request_id.to_string());
        shown.product_ids = Some(
            result
                .hits
                .iter()
                .take(vitrine_core::event::MAX_EVENT_PRODUCTS)
                .map(|h| h.id.clone())
                .collect(),
        );
        shown.position = Some(body.offset as i64 + 1);
        shown.context = body.context.clone();
        inputs.push(shown);
    }
    let events: Vec<_> = inputs
        .into_iter()
        .filter_map(|i| i.validate(now).ok())
        .collect();
    let store = state.store.clone();
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        if let Err(e) = store.append_events(events).await {
            metrics.search_log_failures.inc();
            tracing::warn!(error = %e, "could not log a search");
        }
    });
}

/// Autocomplete parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct SuggestParams {
    /// What the shopper has typed so far.
    q: String,
    /// Most suggestions (default 10, at most 50).
    limit: Option<usize>,
}

/// Completions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SuggestAnswer {
    /// Best first.
    suggestions: Vec<vitrine_search::suggest::Suggestion>,
}

/// Autocomplete from popular queries and catalog values.
#[utoipa::path(get, path = "/v1/suggest", tag = "search", params(SuggestParams),
    responses((status = 200, body = SuggestAnswer), (status = 400, body = crate::error::Problem)))]
pub(crate) async fn suggest(
    State(state): State<AppState>,
    params: Result<Query<SuggestParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SuggestAnswer>, ApiError> {
    let Query(p) = params?;
    let limit = p.limit.unwrap_or(10);
    if limit > 50 {
        return Err(ApiError::bad_request(format!(
            "limit must be at most 50, got {limit}"
        )));
    }
    if p.q.chars().count() > 200 {
        return Err(ApiError::bad_request("q is longer than 200 characters"));
    }
    Ok(Json(SuggestAnswer {
        suggestions: engine(&state)?.suggest(&p.q, limit),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use vitrine_search::{FacetCount, ParsedQuery, SearchHit};

    fn response(notices: Vec<String>) -> SearchResponse {
        SearchResponse {
            parsed: ParsedQuery {
                original: "navy \"linen\" shirt under $50".into(),
                ..Default::default()
            },
            sort: SortOrder::Relevance,
            total: 2,
            hits: vec![SearchHit {
                id: "SKU-1".into(),
                title: "Navy Linen Shirt — \u{e9}t\u{e9}".into(),
                brand: None,
                price: 49.5,
                currency: "USD".into(),
                in_stock: true,
                score: 0.25,
                explain: None,
                highlighted_title: None,
            }],
            facets: BTreeMap::from([(
                "colour".to_string(),
                vec![FacetCount {
                    value: "navy".into(),
                    count: 2,
                }],
            )]),
            notices,
            generation: 7,
            json: Default::default(),
        }
    }

    #[test]
    fn the_written_answer_is_the_answer_types_json() {
        for notices in [vec![], vec!["semantic retrieval unavailable".to_string()]] {
            let result = Arc::new(response(notices));
            for (cached, took_ms) in [(false, 3.25), (true, 0.125)] {
                let id = "req-\"1\"";
                let written = answer_body(id, &result, cached, took_ms);
                let typed = serde_json::to_string(&SearchAnswer {
                    request_id: id.to_string(),
                    result: (*result).clone(),
                    cached,
                    took_ms,
                })
                .unwrap();
                assert_eq!(written, typed);
            }
        }
    }
}
