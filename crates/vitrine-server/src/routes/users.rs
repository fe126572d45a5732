//! Shopper data rights: see and erase what Vitrine holds about a shopper.

use crate::{ApiError, AppState};
use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    Json,
};
use serde::Deserialize;
use utoipa::IntoParams;
use vitrine_store::{ErasureReport, StoredEvent};

/// Erases a shopper: their events, the events of anonymous sessions linked to them, their derived
/// profile, and the recommender's live state of them (and its snapshot). Idempotent; the answer says what
/// was deleted.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "shoppers", params(("id" = String, Path)),
    responses((status = 200, body = ErasureReport)))]
pub(crate) async fn erase_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ErasureReport>, ApiError> {
    // The sessions to forget in the live signals, read before the events that name them are deleted.
    let sessions: Vec<String> = match &state.recommend {
        Ok(_) => {
            let mut ids: Vec<String> = state
                .store
                .events_for_user(&id, 10_000)
                .await?
                .into_iter()
                .filter_map(|e| e.event.session_id)
                .collect();
            ids.sort();
            ids.dedup();
            ids
        }
        Err(_) => Vec::new(),
    };
    let report = state.store.erase_user(&id).await?;
    if let Ok(engine) = &state.recommend {
        engine.forget_shopper(&id, &sessions);
    }
    Ok(Json(report))
}

/// Paging for a shopper's events.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsParams {
    /// Most events to return, newest first (1..=1000, default 100).
    limit: Option<u32>,
}

/// A shopper's events, newest first.
#[utoipa::path(get, path = "/v1/users/{id}/events", tag = "shoppers", params(("id" = String, Path), EventsParams),
    responses((status = 200, body = Vec<StoredEvent>)))]
pub(crate) async fn user_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<EventsParams>, QueryRejection>,
) -> Result<Json<Vec<StoredEvent>>, ApiError> {
    let Query(p) = params?;
    let limit = p.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request("limit must be 1 to 1000"));
    }
    Ok(Json(state.store.events_for_user(&id, limit).await?))
}
