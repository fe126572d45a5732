//! Mapping between SQL rows and domain values. Anything that does not read back is reported as corrupt
//! rather than silently defaulted.

use crate::{Result, StoreError, StoredEvent};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use sqlx::{sqlite::SqliteRow, Row};
use std::str::FromStr;
use vitrine_core::{Currency, Event, EventContext, EventType, Inventory, Product, ProductStatus};

pub(crate) const PRODUCT_COLUMNS: &str = "sku, title, description, brand, category, attributes, price, currency, \
     sale_price, unit_cost, quantity, backorder, restock_date, images, status, variant_group, updated_at";

pub(crate) const EVENT_COLUMNS: &str = "seq, event_id, type, user_id, session_id, product_id, product_ids, quantity, \
     price, currency, request_id, position, query, rating, review, context, ts, received_at, unknown_product";

pub(crate) fn ms_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

pub(crate) fn decimal(what: &str, text: &str) -> Result<Decimal> {
    Decimal::from_str(text).map_err(|e| StoreError::corrupt(what, e))
}

pub(crate) fn opt_decimal(what: &str, text: Option<String>) -> Result<Option<Decimal>> {
    text.map(|t| decimal(what, &t)).transpose()
}

pub(crate) fn currency(text: &str) -> Result<Currency> {
    Currency::parse(text).map_err(|e| StoreError::corrupt("currency", e))
}

pub(crate) fn date(text: Option<String>) -> Result<Option<NaiveDate>> {
    text.map(|t| NaiveDate::from_str(&t).map_err(|e| StoreError::corrupt("restock_date", e)))
        .transpose()
}

fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::corrupt(what, e))
}

pub(crate) fn product_from_row(r: &SqliteRow) -> Result<Product> {
    let sku: String = r.try_get("sku")?;
    Ok(Product {
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        brand: r.try_get("brand")?,
        category: json("category", &r.try_get::<String, _>("category")?)?,
        attributes: json("attributes", &r.try_get::<String, _>("attributes")?)?,
        price: decimal("price", &r.try_get::<String, _>("price")?)?,
        currency: currency(&r.try_get::<String, _>("currency")?)?,
        sale_price: opt_decimal("sale_price", r.try_get("sale_price")?)?,
        unit_cost: opt_decimal("unit_cost", r.try_get("unit_cost")?)?,
        inventory: Inventory {
            quantity: r.try_get("quantity")?,
            backorder: r.try_get("backorder")?,
            restock_date: date(r.try_get("restock_date")?)?,
        },
        images: json("images", &r.try_get::<String, _>("images")?)?,
        status: ProductStatus::parse(&r.try_get::<String, _>("status")?)
            .map_err(|e| StoreError::corrupt("status", e))?,
        updated_at: ms_to_time(r.try_get("updated_at")?),
        variant_group: r.try_get("variant_group")?,
        id: sku,
    })
}

pub(crate) fn event_from_row(r: &SqliteRow) -> Result<StoredEvent> {
    let first: Option<String> = r.try_get("product_id")?;
    let many: Option<String> = r.try_get("product_ids")?;
    let product_ids = match many {
        Some(list) => json("product_ids", &list)?,
        None => first.into_iter().collect(),
    };
    let context: Option<String> = r.try_get("context")?;
    let type_name: String = r.try_get("type")?;
    let event = Event {
        event_id: r.try_get("event_id")?,
        event_type: EventType::parse(&type_name).map_err(|e| StoreError::corrupt("type", e))?,
        user_id: r.try_get("user_id")?,
        session_id: r.try_get("session_id")?,
        product_ids,
        quantity: r.try_get("quantity")?,
        price: opt_decimal("price", r.try_get("price")?)?,
        currency: r
            .try_get::<Option<String>, _>("currency")?
            .map(|c| currency(&c))
            .transpose()?,
        request_id: r.try_get("request_id")?,
        position: r.try_get::<Option<i64>, _>("position")?.map(|p| p as u32),
        query: r.try_get("query")?,
        rating: r.try_get::<Option<i64>, _>("rating")?.map(|p| p as u8),
        review: r.try_get("review")?,
        context: context
            .map(|c| json::<EventContext>("context", &c))
            .transpose()?
            .unwrap_or_default(),
        timestamp: ms_to_time(r.try_get("ts")?),
    };
    Ok(StoredEvent {
        event,
        seq: r.try_get("seq")?,
        received_at: ms_to_time(r.try_get("received_at")?),
        unknown_product: r.try_get("unknown_product")?,
    })
}
