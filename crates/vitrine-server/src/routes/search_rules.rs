//! `/v1/search/rules`: the merchandising rules in force (hide or demote out-of-stock, boosts and burials,
//! pins, margin boost, diversity), replacing them, their history, and putting an earlier version back.
//!
//! Why an API on top of the reloaded file: merchandisers steer search from the console, not from a
//! shell on the server. A replacement is parsed and checked like the file itself before anything is
//! written; it is written to the configured file atomically (so the file stays the one source, and a
//! restart or the file watcher sees the same rules) and applied at once. A bad text answers 400 with
//! the parser's reason and changes nothing.
//!
//! Every text put in force is recorded as a numbered version with who did it. An edit may name the
//! version it started from (`base_version`): if someone changed the rules since, it answers 409 instead
//! of silently overwriting their work.

use crate::{ApiError, AppState};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, rejection::QueryRejection, Path, Query, State},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use vitrine_search::{rules::Rules, SearchEngine};
use vitrine_store::{NewRulesVersion, RulesHistory, RulesVersion};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesEdit {
    /// The whole rules file (TOML).
    text: String,
    /// Who is changing them.
    actor: String,
    /// Why (kept in the history).
    #[serde(default)]
    note: Option<String>,
    /// The version the text was edited from; a newer version answers 409.
    #[serde(default)]
    base_version: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rollback {
    /// The version whose text goes back in force.
    version: i64,
    /// Who is rolling back.
    actor: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryParams {
    /// Versions older than this one (keyset paging).
    before: Option<i64>,
    /// At most this many (default 20, at most 200).
    limit: Option<u32>,
}

fn engine(state: &AppState) -> Result<&Arc<SearchEngine>, ApiError> {
    state.search.as_ref().map_err(|r| ApiError::unavailable(r))
}

fn history(state: &AppState) -> Result<&Arc<dyn RulesHistory>, ApiError> {
    state
        .rules_history
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("this server keeps no rules history"))
}

fn rules_file(engine: &SearchEngine) -> Result<PathBuf, ApiError> {
    engine.config().rules.clone().ok_or_else(|| {
        ApiError::conflict(
            "no rules file is configured ([search] rules = \"rules.toml\"); rules are edited where they are kept",
        )
    })
}

fn required(what: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::bad_request(format!(
            "{what}: say who is changing the rules"
        )));
    }
    Ok(())
}

/// Writes `text` to the rules file atomically, applies `rules` and records the version. The caller
/// holds the engine's rules file lock, so the watcher cannot record this text as an edit on disk.
async fn put_in_force(
    state: &AppState,
    engine: &SearchEngine,
    rules: Rules,
    new: NewRulesVersion<'_>,
) -> Result<Json<Value>, ApiError> {
    let path = rules_file(engine)?;
    let tmp = path.with_extension("toml.partial");
    std::fs::write(&tmp, new.text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| ApiError::internal(format!("writing {}: {e}", path.display())))?;
    engine.set_rules(rules);
    tracing::info!(actor = %new.actor, source = new.source, file = %path.display(), "search rules replaced through the API");
    let version = match &state.rules_history {
        Some(h) => Some(h.record_rules(new).await?.version().version),
        None => None,
    };
    Ok(Json(json!({
        "path": path,
        "applied": true,
        "version": version,
        "rules": &*engine.rules(),
    })))
}

/// The rules in force, the file they are kept in, its text, and the newest recorded version.
#[utoipa::path(get, path = "/v1/search/rules", tag = "search",
    responses((status = 200, description = "`path` (null when no file is configured), `editable`, `text`, `rules`, `version` (null before the first recorded)"),
              (status = 503, body = crate::error::Problem)))]
pub(crate) async fn get_rules(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let engine = engine(&state)?;
    let path = engine.config().rules.clone();
    let text = match &path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(ApiError::internal(format!("{}: {e}", p.display()))),
        },
        None => String::new(),
    };
    let latest = match &state.rules_history {
        Some(h) => h.latest_rules().await?,
        None => None,
    };
    Ok(Json(json!({
        "path": path,
        "editable": path.is_some(),
        "text": text,
        "version": latest.as_ref().map(|v| v.version),
        "rules": &*engine.rules(),
    })))
}

/// Replaces the rules: checked, written to the rules file atomically, applied at once, recorded.
#[utoipa::path(put, path = "/v1/search/rules", tag = "search", request_body = serde_json::Value,
    responses((status = 200, description = "applied; `version` is the recorded version"), (status = 400, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub(crate) async fn put_rules(
    State(state): State<AppState>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let edit: RulesEdit = super::json_body(&b?)?
        .ok_or_else(|| ApiError::bad_request("a JSON body {\"text\", \"actor\"} is required"))?;
    required("actor", &edit.actor)?;
    let engine = engine(&state)?;
    rules_file(engine)?;
    let rules =
        Rules::parse(&edit.text).map_err(|e| ApiError::bad_request(format!("text: {e}")))?;
    let _edit = engine.rules_file_lock().lock().await;
    if let Some(base) = edit.base_version {
        let latest = history(&state)?.latest_rules().await?;
        if let Some(latest) = latest.filter(|l| l.version != base) {
            return Err(ApiError::conflict(format!(
                "base_version: the rules were changed since version {base} (now version {} by {}); reload them and edit again",
                latest.version, latest.actor
            )));
        }
    }
    let new = NewRulesVersion {
        text: &edit.text,
        actor: edit.actor.trim(),
        source: "api",
        note: edit.note.as_deref(),
    };
    put_in_force(&state, engine, rules, new).await
}

/// Versions of the rules, newest first, with who put each in force and its whole text.
#[utoipa::path(get, path = "/v1/search/rules/history", tag = "search",
    params(("before" = Option<i64>, Query, description = "versions older than this one"),
           ("limit" = Option<u32>, Query, description = "at most this many (default 20, max 200)")),
    responses((status = 200, description = "`versions`, newest first"), (status = 400, body = crate::error::Problem),
              (status = 503, body = crate::error::Problem)))]
pub(crate) async fn rules_history(
    State(state): State<AppState>,
    q: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = q?;
    let limit = q.limit.unwrap_or(20).clamp(1, 200);
    let versions = history(&state)?.rules_versions(q.before, limit).await?;
    Ok(Json(json!({ "versions": versions })))
}

fn version_number(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| ApiError::bad_request(format!("version: {text:?} is not a version number")))
}

async fn stored_version(state: &AppState, version: i64) -> Result<RulesVersion, ApiError> {
    history(state)?
        .rules_version(version)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("version: no rules version {version}")))
}

/// One version of the rules.
#[utoipa::path(get, path = "/v1/search/rules/history/{version}", tag = "search",
    params(("version" = i64, Path)),
    responses((status = 200, body = vitrine_store::RulesVersion), (status = 400, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub(crate) async fn rules_version(
    State(state): State<AppState>,
    Path(version): Path<String>,
) -> Result<Json<RulesVersion>, ApiError> {
    Ok(Json(
        stored_version(&state, version_number(&version)?).await?,
    ))
}

/// Puts an earlier version's text back in force, recorded as a new version (`source: rollback`).
#[utoipa::path(post, path = "/v1/search/rules/rollback", tag = "search", request_body = serde_json::Value,
    responses((status = 200, description = "applied; `version` is the new version"), (status = 400, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 503, body = crate::error::Problem)))]
pub(crate) async fn rollback(
    State(state): State<AppState>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let r: Rollback = super::json_body(&b?)?
        .ok_or_else(|| ApiError::bad_request("a JSON body {\"version\", \"actor\"} is required"))?;
    required("actor", &r.actor)?;
    let engine = engine(&state)?;
    rules_file(engine)?;
    let _edit = engine.rules_file_lock().lock().await;
    let old = stored_version(&state, r.version).await?;
    // A version recorded by an older release may no longer parse; say so rather than apply half of it.
    let rules = Rules::parse(&old.text).map_err(|e| {
        ApiError::bad_request(format!(
            "version: version {} no longer parses: {e}",
            r.version
        ))
    })?;
    let note = format!("rolled back to version {}", r.version);
    let new = NewRulesVersion {
        text: &old.text,
        actor: r.actor.trim(),
        source: "rollback",
        note: Some(&note),
    };
    put_in_force(&state, engine, rules, new).await
}
