//! Values that cross the storage boundary: queries, pages and outcome reports.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vitrine_core::{Currency, Event, Product};

/// Final counts of a catalog version, written when its import finishes.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct VersionCounts {
    /// Products inserted or changed.
    pub changed: u64,
    /// Products re-sent with identical content.
    pub unchanged: u64,
    /// Records refused by validation.
    pub rejected: u64,
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct UpsertOutcome {
    /// Inserted or changed products.
    pub changed: u64,
    /// Identical to what was stored; nothing written.
    pub unchanged: u64,
}

/// What a PATCH did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PatchOutcome {
    /// The product after the change.
    pub product: Product,
    /// The catalog version the change was recorded under (absent when nothing changed).
    pub catalog_version: Option<i64>,
}

/// What an event append did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct AppendOutcome {
    /// Newly stored events.
    pub stored: u64,
    /// Already stored under the same event_id; not stored again.
    pub duplicates: u64,
    /// Stored but flagged: they name a product not in the catalog.
    pub unknown_product: u64,
}

/// A stored event plus what the store knows about it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StoredEvent {
    /// The event as validated.
    #[serde(flatten)]
    pub event: Event,
    /// Arrival order.
    pub seq: i64,
    /// Arrival time.
    pub received_at: DateTime<Utc>,
    /// Whether a named product was unknown on arrival.
    pub unknown_product: bool,
}

/// Product listing filters; all optional and combined with AND.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProductQuery {
    /// Category path prefix, e.g. `Apparel > Men`.
    pub category: Option<String>,
    /// Exact brand.
    pub brand: Option<String>,
    /// `active` or `archived`.
    pub status: Option<String>,
    /// Only sellable (stock or backorder) / only unavailable products.
    pub in_stock: Option<bool>,
    /// Minimum effective price.
    pub min_price: Option<Decimal>,
    /// Maximum effective price.
    pub max_price: Option<Decimal>,
    /// Case-insensitive substring of the title.
    pub title_contains: Option<String>,
    /// Keyset cursor: return products whose SKU sorts after this one.
    pub after: Option<String>,
    /// Page size (the server caps it).
    pub limit: u32,
}

/// One page of products.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductPage {
    /// The products, in SKU order.
    pub items: Vec<Product>,
    /// Products matching the filters in total.
    pub total: u64,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A price in force from `valid_from`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PricePoint {
    /// When Vitrine recorded it.
    pub valid_from: DateTime<Utc>,
    /// Catalog version that set it.
    pub catalog_version: i64,
    /// List price.
    pub price: Decimal,
    /// Sale price.
    pub sale_price: Option<Decimal>,
    /// Currency.
    pub currency: Currency,
}

/// Stock in force from `valid_from`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StockPoint {
    /// When Vitrine recorded it.
    pub valid_from: DateTime<Utc>,
    /// Catalog version that set it.
    pub catalog_version: i64,
    /// Units on hand.
    pub quantity: i64,
    /// Backorder allowed.
    pub backorder: bool,
    /// Expected restock.
    pub restock_date: Option<NaiveDate>,
}

/// Price and stock history of one product.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ProductHistory {
    /// Oldest first.
    pub prices: Vec<PricePoint>,
    /// Oldest first.
    pub inventory: Vec<StockPoint>,
}

/// What an erasure removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErasureReport {
    /// Events deleted (the user's and those of their linked anonymous sessions).
    pub events_deleted: u64,
    /// Derived profile rows deleted.
    pub profiles_deleted: u64,
}

/// Headline counts of the store.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct StoreStats {
    /// Products (active and archived).
    pub products: u64,
    /// Stored events.
    pub events: u64,
    /// Stored events naming an unknown product.
    pub events_unknown_product: u64,
    /// Latest catalog version, 0 when none.
    pub catalog_version: i64,
}

/// One entry of the catalog change feed: the product's current content after change `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductChange {
    /// Position in the feed; derived indexes resume after the last one they applied.
    pub seq: i64,
    /// The product as it is now (archived products come through too, so indexes can drop them).
    pub product: Product,
}
