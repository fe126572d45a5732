//! Parsing one record from JSON text with errors that name the field, not just a column number.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use vitrine_core::{Event, EventInput, FieldError, Product, ProductInput};

/// Deserialises `T` and, on failure, names the JSON path that broke (`inventory.quantity`), not only serde's
/// line and column.
pub fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, FieldError> {
    let mut de = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(v) => {
            de.end().map_err(|e| {
                FieldError::new(
                    "(record)",
                    format!("trailing characters after the JSON: {e}"),
                )
            })?;
            Ok(v)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let field = if path == "." || path.is_empty() {
                "(record)".to_string()
            } else {
                path
            };
            Err(FieldError::new(field, clean_serde_message(&inner)))
        }
    }
}

fn clean_serde_message(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let msg = e.to_string();
    // serde appends " at line 1 column 17"; the caller already knows the line, so keep the column only.
    let msg = match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    match e.classify() {
        Category::Syntax | Category::Eof => {
            format!("malformed JSON at column {}: {msg}", e.column())
        }
        _ => msg,
    }
}

/// Parses and validates a product from JSON text; errors carry field paths.
pub fn product_from_json(
    text: &str,
    now: DateTime<Utc>,
) -> Result<Product, (Option<String>, Vec<FieldError>)> {
    let input: ProductInput =
        from_json(text).map_err(|e| (sniff_id(text, &["id", "sku"]), vec![e]))?;
    let id = input.id.clone();
    input.validate(now).map_err(|errs| (Some(id), errs))
}

/// Parses and validates an event from JSON text.
pub fn event_from_json(
    text: &str,
    now: DateTime<Utc>,
) -> Result<Event, (Option<String>, Vec<FieldError>)> {
    let input: EventInput =
        from_json(text).map_err(|e| (sniff_id(text, &["event_id"]), vec![e]))?;
    let id = input.event_id.clone();
    input.validate(now).map_err(|errs| (Some(id), errs))
}

/// Best-effort id of a record that failed to deserialise, so the report can still name it.
fn sniff_id(text: &str, keys: &[&str]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    keys.iter().find_map(|k| match v.get(k)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_type_names_the_nested_field() {
        let (id, errs) = product_from_json(
            r#"{"id":"A","title":"t","price":1,"currency":"EUR","inventory":{"quantity":"lots"}}"#,
            Utc::now(),
        )
        .unwrap_err();
        assert_eq!(id.as_deref(), Some("A"));
        assert_eq!(errs[0].field, "inventory.quantity");
        assert!(
            errs[0].reason.contains("invalid type"),
            "{}",
            errs[0].reason
        );
    }

    #[test]
    fn unknown_field_is_named() {
        let (_, errs) = product_from_json(
            r#"{"id":"A","title":"t","price":1,"currency":"EUR","colour":"red"}"#,
            Utc::now(),
        )
        .unwrap_err();
        assert!(
            errs[0].reason.contains("unknown field `colour`"),
            "{:?}",
            errs
        );
    }

    #[test]
    fn malformed_json_says_so() {
        let (_, errs) = event_from_json(r#"{"event_id": "x", "type": "#, Utc::now()).unwrap_err();
        assert!(errs[0].reason.contains("malformed JSON"), "{:?}", errs);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic_on_arbitrary_text(s in ".{0,200}") {
            let _ = product_from_json(&s, Utc::now());
            let _ = event_from_json(&s, Utc::now());
        }

        #[test]
        fn parsers_never_panic_on_mutated_valid_json(cut in 0usize..120, byte in 0u8..128) {
            let mut text = String::from(r#"{"event_id":"e1","type":"click","session_id":"s","product_id":"p","position":2}"#);
            let at = cut.min(text.len());
            text.insert(at, char::from(byte));
            let _ = event_from_json(&text, Utc::now());
        }
    }
}
