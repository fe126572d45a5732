//! HTTP batches: a JSON array (or `{"events": [...]}` / `{"products": [...]}`) whose elements are validated
//! one by one, so a batch of 1,000 with 3 bad events stores 997 and reports 3 by index.

use crate::record::{event_from_json, product_from_json};
use chrono::{DateTime, Utc};
use serde_json::value::RawValue;
use vitrine_core::{Event, Product, RecordError};

/// Why a whole batch could not be read (per-record problems are in [`ParsedBatch::rejected`] instead).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatchError {
    /// The body is not UTF-8.
    #[error("the body is not valid UTF-8 (first invalid byte at offset {offset})")]
    InvalidUtf8 {
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// The body is not JSON of the expected shape.
    #[error("malformed JSON body at line {line}, column {column}: {reason}")]
    Malformed {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        reason: String,
    },
    /// More records than one request may carry.
    #[error("a batch may hold at most {max} records, got {got}")]
    TooMany {
        /// The limit.
        max: usize,
        /// Records sent.
        got: usize,
    },
    /// An empty array.
    #[error("the batch is empty")]
    Empty,
}

/// Validated records of a batch plus the rejected ones, each located by index.
#[derive(Debug)]
pub struct ParsedBatch<T> {
    /// Valid records, in request order.
    pub accepted: Vec<T>,
    /// Rejected records with their index and reasons.
    pub rejected: Vec<RecordError>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    events: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    products: Option<Vec<&'a RawValue>>,
}

fn split(body: &[u8], max: usize) -> Result<Vec<&RawValue>, BatchError> {
    let text = std::str::from_utf8(body).map_err(|e| BatchError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    // First check syntax with a precise position; the untagged envelope alone would only say "did not match".
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        let reason = e.to_string();
        let reason = reason
            .rfind(" at line ")
            .map_or(reason.clone(), |i| reason[..i].to_string());
        return Err(BatchError::Malformed {
            line: e.line(),
            column: e.column(),
            reason,
        });
    }
    let shape_error = || {
        BatchError::Malformed {
        line: 1,
        column: 1,
        reason: "expected a JSON array of records, or an object with an \"events\" or \"products\" array".into(),
    }
    };
    let items: Vec<&RawValue> = match text.trim_start().as_bytes().first() {
        Some(b'[') => serde_json::from_str(text).map_err(|_| shape_error())?,
        Some(b'{') => match serde_json::from_str::<Envelope>(text) {
            Ok(
                Envelope {
                    events: Some(v),
                    products: None,
                }
                | Envelope {
                    events: None,
                    products: Some(v),
                },
            ) => v,
            _ => return Err(shape_error()),
        },
        _ => return Err(shape_error()),
    };
    if items.is_empty() {
        return Err(BatchError::Empty);
    }
    if items.len() > max {
        return Err(BatchError::TooMany {
            max,
            got: items.len(),
        });
    }
    Ok(items)
}

impl<T> Default for ParsedBatch<T> {
    fn default() -> Self {
        Self {
            accepted: Vec::new(),
            rejected: Vec::new(),
        }
    }
}

/// Parses an event batch of at most `max` events.
pub fn parse_event_batch(
    body: &[u8],
    max: usize,
    now: DateTime<Utc>,
) -> Result<ParsedBatch<Event>, BatchError> {
    let mut out = ParsedBatch::default();
    for (i, raw) in split(body, max)?.into_iter().enumerate() {
        match event_from_json(raw.get(), now) {
            Ok(e) => out.accepted.push(e),
            Err((id, errors)) => out
                .rejected
                .push(RecordError::at_index(i as u64, id, errors)),
        }
    }
    Ok(out)
}

/// Parses a product batch of at most `max` products.
pub fn parse_product_batch(
    body: &[u8],
    max: usize,
    now: DateTime<Utc>,
) -> Result<ParsedBatch<Product>, BatchError> {
    let mut out = ParsedBatch::default();
    for (i, raw) in split(body, max)?.into_iter().enumerate() {
        match product_from_json(raw.get(), now) {
            Ok(p) => out.accepted.push(p),
            Err((id, errors)) => out
                .rejected
                .push(RecordError::at_index(i as u64, id, errors)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_events_survive_bad_neighbours() {
        let body = br#"[{"event_id":"a","type":"view","session_id":"s","product_id":"p"},
                        {"event_id":"b","type":"view","session_id":"s"},
                        {"event_id":"c","type":"click","session_id":"s","product_id":"p","position":"x"}]"#;
        let b = parse_event_batch(body, 1000, Utc::now()).unwrap();
        assert_eq!(b.accepted.len(), 1);
        assert_eq!(b.rejected.len(), 2);
        assert_eq!(
            (
                b.rejected[0].location,
                b.rejected[0].errors[0].field.as_str()
            ),
            (1, "product_id")
        );
        assert_eq!(
            (
                b.rejected[1].location,
                b.rejected[1].errors[0].field.as_str()
            ),
            (2, "position")
        );
    }

    #[test]
    fn whole_body_problems_are_distinct() {
        assert!(matches!(
            parse_event_batch(b"[{", 10, Utc::now()),
            Err(BatchError::Malformed { .. })
        ));
        assert!(matches!(
            parse_event_batch(b"[\xff]", 10, Utc::now()),
            Err(BatchError::InvalidUtf8 { offset: 1 })
        ));
        assert!(matches!(
            parse_event_batch(b"[]", 10, Utc::now()),
            Err(BatchError::Empty)
        ));
        assert!(matches!(
            parse_event_batch(b"{\"x\":1}", 10, Utc::now()),
            Err(BatchError::Malformed { .. })
        ));
        let many = format!("[{}]", ["{}"; 11].join(","));
        assert!(matches!(
            parse_event_batch(many.as_bytes(), 10, Utc::now()),
            Err(BatchError::TooMany { .. })
        ));
    }

    #[test]
    fn envelope_object_is_accepted() {
        let body =
            br#"{"events":[{"event_id":"a","type":"search","session_id":"s","query":"boots"}]}"#;
        assert_eq!(
            parse_event_batch(body, 10, Utc::now())
                .unwrap()
                .accepted
                .len(),
            1
        );
    }
}
