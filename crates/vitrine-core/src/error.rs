//! Errors that point at a field of a record, so a feed with 10,000 lines can be fixed from the report alone.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One problem with one field: `field` is a dotted path (`inventory.quantity`, `attributes.weight`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldError {
    /// Dotted path of the offending field, or `"(record)"` when the record as a whole is unreadable.
    pub field: String,
    /// Human-readable reason, phrased so the fix is obvious ("must not be negative").
    pub reason: String,
}

impl FieldError {
    /// Builds an error for `field`; kept tiny because validation code calls it on every rule.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// All problems of one rejected record, located by line (files) or index (HTTP batches), so good records
/// in the same batch can be stored while the caller learns exactly what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecordError {
    /// 1-based line number in a file, or 0-based index in an HTTP batch (see `location_kind`).
    pub location: u64,
    /// `"line"` for files, `"index"` for JSON arrays.
    pub location_kind: String,
    /// The record's own id when it could be read, to help find it in the source system.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Every field that failed; never empty.
    pub errors: Vec<FieldError>,
}

impl RecordError {
    /// A record rejected at a file line.
    pub fn at_line(line: u64, id: Option<String>, errors: Vec<FieldError>) -> Self {
        Self {
            location: line,
            location_kind: "line".into(),
            id,
            errors,
        }
    }
    /// A record rejected at an index of a JSON array.
    pub fn at_index(index: u64, id: Option<String>, errors: Vec<FieldError>) -> Self {
        Self {
            location: index,
            location_kind: "index".into(),
            id,
            errors,
        }
    }
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.location_kind, self.location)?;
        if let Some(id) = &self.id {
            write!(f, " (id {id})")?;
        }
        let reasons: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        write!(f, ": {}", reasons.join("; "))
    }
}
