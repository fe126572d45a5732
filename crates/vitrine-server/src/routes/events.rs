//! Event ingestion: up to `max_events_per_request` per call, idempotent by `event_id`, durable before 2xx.

use crate::{ApiError, AppState};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, Path, State},
    Json,
};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;
use vitrine_core::EventInput;
use vitrine_ingest::parse_event_batch;
use vitrine_store::StoredEvent;

/// What happened to a batch of events.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IngestResult {
    /// Valid events in the request.
    accepted: u64,
    /// Newly stored (durably, before this response was sent).
    stored: u64,
    /// Already stored under the same event_id; not stored again.
    duplicates: u64,
    /// Stored but flagged because a named product is not in the catalog.
    unknown_product: u64,
}

/// Ingests a batch: a JSON array of events or `{"events": [...]}`. When some events are invalid the answer
/// is 422 problem+json listing them by index; the valid ones were stored (see `accepted`), and resending
/// the whole batch is safe because event ids are idempotent.
#[utoipa::path(post, path = "/v1/events", tag = "events", request_body = Vec<EventInput>,
    responses(
        (status = 200, body = IngestResult),
        (status = 400, description = "Malformed JSON or invalid UTF-8", body = crate::error::Problem),
        (status = 413, description = "Too many events or body too large", body = crate::error::Problem),
        (status = 422, description = "Some events rejected; valid ones stored", body = crate::error::Problem)))]
pub(crate) async fn post_events(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResult>, ApiError> {
    let batch = parse_event_batch(&body?, state.config.max_events_per_request, Utc::now())?;
    let accepted = batch.accepted.len() as u64;
    let observed = state.recommend.is_ok().then(|| batch.accepted.clone());
    let outcome = state.store.append_events(batch.accepted).await?;
    // A batch that was entirely re-sent changes nothing; otherwise the recommender learns from it now
    // (signals before this call returns, so the shopper's next answer reflects it).
    if let (Ok(engine), Some(events)) = (&state.recommend, observed) {
        if outcome.stored > 0 {
            if let Err(e) = engine.observe(&events).await {
                tracing::warn!(error = %e, "recommendation attribution failed");
            }
        }
    }
    let m = &state.metrics.events;
    m.with_label_values(&["stored"]).inc_by(outcome.stored);
    m.with_label_values(&["duplicate"])
        .inc_by(outcome.duplicates);
    m.with_label_values(&["unknown_product"])
        .inc_by(outcome.unknown_product);
    m.with_label_values(&["rejected"])
        .inc_by(batch.rejected.len() as u64);
    let result = IngestResult {
        accepted,
        stored: outcome.stored,
        duplicates: outcome.duplicates,
        unknown_product: outcome.unknown_product,
    };
    if batch.rejected.is_empty() {
        Ok(Json(result))
    } else {
        Err(ApiError::invalid_records(
            batch.rejected,
            Some(serde_json::json!(result)),
        ))
    }
}

/// One stored event.
#[utoipa::path(get, path = "/v1/events/{event_id}", tag = "events", params(("event_id" = String, Path)),
    responses((status = 200, body = StoredEvent), (status = 404, body = crate::error::Problem)))]
pub(crate) async fn get_event(
    State(state): State<AppState>,
    Path(event_id): Path<String>,
) -> Result<Json<StoredEvent>, ApiError> {
    state
        .store
        .get_event(&event_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no event {event_id:?}")))
}
