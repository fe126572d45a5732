//! The OTTO recsys dataset format: one session per line, `{"session": 1, "events": [{"aid", "ts", "type"}]}`.
//! Event ids are derived from session and position, so importing the same file twice stores nothing new.

use serde::Deserialize;
use vitrine_core::{EventInput, FieldError};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Session {
    session: u64,
    events: Vec<OttoEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OttoEvent {
    aid: u64,
    ts: i64,
    #[serde(rename = "type")]
    kind: String,
}

/// Expands one OTTO line into native event inputs (clicks → click, carts → add_to_cart, orders → purchase).
pub fn expand_line(text: &str) -> Result<Vec<EventInput>, FieldError> {
    let s: Session = crate::record::from_json(text)?;
    s.events
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let event_type = match e.kind.as_str() {
                "clicks" => "click",
                "carts" => "add_to_cart",
                "orders" => "purchase",
                other => {
                    return Err(FieldError::new(
                        format!("events[{i}].type"),
                        format!("unknown OTTO type {other:?}; expected clicks, carts or orders"),
                    ))
                }
            };
            let timestamp = chrono::DateTime::from_timestamp_millis(e.ts).ok_or_else(|| {
                FieldError::new(format!("events[{i}].ts"), "timestamp out of range")
            })?;
            Ok(EventInput {
                session_id: Some(format!("otto-{}", s.session)),
                product_id: Some(e.aid.to_string()),
                timestamp: Some(timestamp),
                ..EventInput::new(format!("otto-{}-{i}", s.session), event_type)
            })
        })
        .collect()
}
