//! # vitrine-core — the domain, in one place
//!
//! Every other crate speaks in these types: [`Product`], [`Event`], [`Money`]-like exact decimals and the
//! [`FieldError`] that tells a caller *which* field of *which* record was wrong and why. This crate does no I/O
//! and knows nothing of HTTP or SQL, so the rules written here (what a valid price is, which events need a
//! product, what counts as an unknown currency) hold the same way for a CLI import, an HTTP batch and a test.
//!
//! The wire shapes (`*Input` types) are deliberately separate from the validated domain types: parsing accepts
//! what real feeds send (numbers or strings for prices, `product_id` or `product_ids`), and validation turns
//! that into one canonical form or a list of precise errors.

pub mod currency;
pub mod decimal;
pub mod error;
pub mod event;
pub mod product;

pub use currency::Currency;
pub use error::{FieldError, RecordError};
pub use event::{Event, EventContext, EventInput, EventType};
pub use product::{AttributeValue, Inventory, Product, ProductInput, ProductPatch, ProductStatus};

/// Largest accepted identifier (SKU, event id, user id) in bytes: ids are keys, not documents, and a bound
/// keeps indexes small and stops a malformed feed from storing megabyte "ids".
pub const MAX_ID_LEN: usize = 256;

/// Checks an identifier the way every id in Vitrine is checked, so SKUs, user ids and event ids fail alike.
pub fn validate_id(field: &str, value: &str, errors: &mut Vec<FieldError>) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if value.len() > MAX_ID_LEN {
        errors.push(FieldError::new(
            field,
            format!("is {} bytes long; the limit is {MAX_ID_LEN}", value.len()),
        ));
    } else if value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
}
