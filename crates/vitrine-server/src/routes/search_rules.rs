//! `/v1/search/rules`: the merchandising rules in force (hide or demote out-of-stock, boosts and burials,
//! pins, margin boost, diversity), and replacing them.
//!
//! Why an API on top of the reloaded file: merchandisers steer search from the console, not from a
//! shell on the server. A replacement is parsed and checked like the file itself before anything is
//! written; it is written to the configured file atomically (so the file stays the one source, and a
//! restart or the file watcher sees the same rules) and applied at once. A bad text answers 400 with
//! the parser's reason and changes nothing.

use crate::{ApiError, AppState};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};
use vitrine_search::rules::Rules;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesEdit {
    /// The whole rules file (TOML).
    text: String,
    /// Who is changing them (logged).
    actor: String,
}

fn engine(state: &AppState) -> Result<&std::sync::Arc<vitrine_search::SearchEngine>, ApiError> {
    state.search.as_ref().map_err(|r| ApiError::unavailable(r))
}

/// The rules in force, the file they are kept in, and its text.
#[utoipa::path(get, path = "/v1/search/rules", tag = "search",
    responses((status = 200, description = "`path` (null when no file is configured), `editable`, `text`, `rules`"),
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
    Ok(Json(json!({
        "path": path,
        "editable": path.is_some(),
        "text": text,
        "rules": &*engine.rules(),
    })))
}

/// Replaces the rules: checked, written to the rules file atomically, applied at once.
#[utoipa::path(put, path = "/v1/search/rules", tag = "search", request_body = serde_json::Value,
    responses((status = 200, description = "applied"), (status = 400, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub(crate) async fn put_rules(
    State(state): State<AppState>,
    b: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let edit: RulesEdit = super::json_body(&b?)?
        .ok_or_else(|| ApiError::bad_request("a JSON body {\"text\", \"actor\"} is required"))?;
    if edit.actor.trim().is_empty() {
        return Err(ApiError::bad_request(
            "actor: say who is changing the rules",
        ));
    }
    let engine = engine(&state)?;
    let path = engine.config().rules.clone().ok_or_else(|| {
        ApiError::conflict(
            "no rules file is configured ([search] rules = \"rules.toml\"); rules are edited where they are kept",
        )
    })?;
    let rules =
        Rules::parse(&edit.text).map_err(|e| ApiError::bad_request(format!("text: {e}")))?;
    let tmp = path.with_extension("toml.partial");
    std::fs::write(&tmp, &edit.text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| ApiError::internal(format!("writing {}: {e}", path.display())))?;
    engine.set_rules(rules);
    tracing::info!(actor = %edit.actor, file = %path.display(), "search rules replaced through the API");
    Ok(Json(json!({
        "path": path,
        "applied": true,
        "rules": &*engine.rules(),
    })))
}
