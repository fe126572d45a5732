//! Behavioural events: the whole funnel from impression to return, each tied (when it can be) to the answer
//! that caused it through `request_id`, so later learning loops can attribute outcomes.

use crate::{decimal, validate_id, Currency, FieldError};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Longest accepted free text (search query, review) in an event.
pub const MAX_EVENT_TEXT_LEN: usize = 10_000;
/// Most products one event may name (an impression list or a basket).
pub const MAX_EVENT_PRODUCTS: usize = 200;

/// What the shopper did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// Products were shown (a result list or a recommendation slot).
    Impression,
    /// A product page was viewed.
    View,
    /// A shown product was clicked.
    Click,
    /// Added to cart.
    AddToCart,
    /// Removed from cart.
    RemoveFromCart,
    /// Bought.
    Purchase,
    /// Sent back after purchase.
    Return,
    /// Rated or reviewed.
    Review,
    /// A search was run.
    Search,
}

impl EventType {
    /// Every type, in funnel order; handy for metrics labels and docs.
    pub const ALL: [EventType; 9] = [
        Self::Impression,
        Self::View,
        Self::Click,
        Self::AddToCart,
        Self::RemoveFromCart,
        Self::Purchase,
        Self::Return,
        Self::Review,
        Self::Search,
    ];

    /// The snake_case name used in JSON and SQL.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Impression => "impression",
            Self::View => "view",
            Self::Click => "click",
            Self::AddToCart => "add_to_cart",
            Self::RemoveFromCart => "remove_from_cart",
            Self::Purchase => "purchase",
            Self::Return => "return",
            Self::Review => "review",
            Self::Search => "search",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| {
                format!(
                    "unknown event type {text:?}; expected one of {}",
                    Self::names()
                )
            })
    }

    fn names() -> String {
        Self::ALL
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether an event of this type is meaningless without at least one product.
    pub fn needs_product(&self) -> bool {
        !matches!(self, Self::Search)
    }
}

/// Where the event happened; used for segmenting KPIs and as ranking context.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventContext {
    /// `mobile`, `desktop`, `app` …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// `web`, `app`, `email` …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Region or country code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Referring URL or source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}

impl EventContext {
    /// True when no field is set, so storage can skip it.
    pub fn is_empty(&self) -> bool {
        self.device.is_none()
            && self.channel.is_none()
            && self.region.is_none()
            && self.referrer.is_none()
    }
}

/// A validated event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// Idempotency key: the same id sent twice is stored once.
    pub event_id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// Logged-in shopper.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Anonymous browsing session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Products concerned, in shown order for impressions.
    pub product_ids: Vec<String>,
    /// Units (cart, purchase, return).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    /// Unit price paid (purchase, return).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// Currency of `price`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// The Vitrine answer (search/recommendation) that showed the product.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// 0-based position of the product in that answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u32>,
    /// Search text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Review rating, 1–5.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// Review text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<String>,
    /// Device, channel, region, referrer.
    #[serde(default, skip_serializing_if = "EventContext::is_empty")]
    pub context: EventContext,
    /// When it happened (client clock; the arrival time when absent).
    pub timestamp: DateTime<Utc>,
}

/// The event as clients send it. Accepts `product_id` or `product_ids`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// Idempotency key.
    pub event_id: String,
    /// Event type, snake_case.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Logged-in shopper.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Anonymous session.
    #[serde(default)]
    pub session_id: Option<String>,
    /// One product.
    #[serde(default)]
    pub product_id: Option<String>,
    /// Several products (impressions, baskets).
    #[serde(default)]
    pub product_ids: Option<Vec<String>>,
    /// Units.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Unit price paid.
    #[serde(default, deserialize_with = "decimal::deserialize_opt")]
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// ISO 4217 code of `price`.
    #[serde(default)]
    pub currency: Option<String>,
    /// The answer that showed the product.
    #[serde(default)]
    pub request_id: Option<String>,
    /// 0-based position in that answer.
    #[serde(default)]
    pub position: Option<i64>,
    /// Search text.
    #[serde(default)]
    pub query: Option<String>,
    /// 1–5.
    #[serde(default)]
    pub rating: Option<i64>,
    /// Review text.
    #[serde(default)]
    pub review: Option<String>,
    /// Device, channel, region, referrer.
    #[serde(default)]
    pub context: Option<EventContext>,
    /// RFC 3339 time.
    #[serde(default)]
    pub timestamp: Option<DateTime<Utc>>,
}

impl EventInput {
    /// An input with only an id and a type set, for adapters (file formats, simulators) that fill in the
    /// rest field by field.
    pub fn new(event_id: impl Into<String>, event_type: impl Into<String>) -> Self {
        Self {
            event_id: event_id.into(),
            event_type: event_type.into(),
            user_id: None,
            session_id: None,
            product_id: None,
            product_ids: None,
            quantity: None,
            price: None,
            currency: None,
            request_id: None,
            position: None,
            query: None,
            rating: None,
            review: None,
            context: None,
            timestamp: None,
        }
    }
}

fn check_text(field: &str, v: &Option<String>, errors: &mut Vec<FieldError>) {
    if let Some(t) = v {
        if t.len() > MAX_EVENT_TEXT_LEN {
            errors.push(FieldError::new(
                field,
                format!("is longer than {MAX_EVENT_TEXT_LEN} bytes"),
            ));
        }
    }
}

impl EventInput {
    /// Validates against the funnel's rules (a purchase needs a product, a rating is 1–5, …), reporting every
    /// problem at once.
    pub fn validate(self, now: DateTime<Utc>) -> Result<Event, Vec<FieldError>> {
        let mut errors = Vec::new();
        validate_id("event_id", &self.event_id, &mut errors);
        let event_type = match EventType::parse(&self.event_type) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(FieldError::new("type", e));
                None
            }
        };
        let user_id = self.user_id.filter(|u| !u.is_empty());
        let session_id = self.session_id.filter(|s| !s.is_empty());
        if user_id.is_none() && session_id.is_none() {
            errors.push(FieldError::new(
                "user_id",
                "an event needs a user_id or a session_id",
            ));
        }
        if let Some(u) = &user_id {
            validate_id("user_id", u, &mut errors);
        }
        if let Some(s) = &session_id {
            validate_id("session_id", s, &mut errors);
        }
        let mut product_ids: Vec<String> = self.product_id.into_iter().collect();
        product_ids.extend(self.product_ids.unwrap_or_default());
        for (i, p) in product_ids.iter().enumerate() {
            validate_id(&format!("product_ids[{i}]"), p, &mut errors);
        }
        if product_ids.len() > MAX_EVENT_PRODUCTS {
            errors.push(FieldError::new(
                "product_ids",
                format!("at most {MAX_EVENT_PRODUCTS} products per event"),
            ));
        }
        if let Some(t) = event_type {
            if t.needs_product() && product_ids.is_empty() {
                errors.push(FieldError::new(
                    "product_id",
                    format!("a {} event needs a product", t.as_str()),
                ));
            }
            if t == EventType::Search && self.query.as_deref().is_none_or(|q| q.trim().is_empty()) {
                errors.push(FieldError::new(
                    "query",
                    "a search event needs the query text",
                ));
            }
            if t == EventType::Review && self.rating.is_none() && self.review.is_none() {
                errors.push(FieldError::new(
                    "rating",
                    "a review event needs a rating or review text",
                ));
            }
        }
        if let Some(q) = self.quantity {
            if q < 1 {
                errors.push(FieldError::new(
                    "quantity",
                    format!("must be at least 1, got {q}"),
                ));
            }
        }
        if let Some(p) = self.price {
            if p.is_sign_negative() && !p.is_zero() {
                errors.push(FieldError::new(
                    "price",
                    format!("must not be negative, got {p}"),
                ));
            }
        }
        let currency = match self.currency.as_deref().map(Currency::parse).transpose() {
            Ok(c) => c,
            Err(e) => {
                errors.push(FieldError::new("currency", e));
                None
            }
        };
        if self.price.is_some() && self.currency.is_none() {
            errors.push(FieldError::new(
                "currency",
                "is required when price is given",
            ));
        }
        let position = match self.position {
            Some(p) if !(0..=i64::from(u32::MAX)).contains(&p) => {
                errors.push(FieldError::new(
                    "position",
                    format!("must be 0 or more, got {p}"),
                ));
                None
            }
            other => other.map(|p| p as u32),
        };
        let rating = match self.rating {
            Some(r) if !(1..=5).contains(&r) => {
                errors.push(FieldError::new(
                    "rating",
                    format!("must be 1 to 5, got {r}"),
                ));
                None
            }
            other => other.map(|r| r as u8),
        };
        if let Some(r) = &self.request_id {
            validate_id("request_id", r, &mut errors);
        }
        check_text("query", &self.query, &mut errors);
        check_text("review", &self.review, &mut errors);
        let event_type = match (event_type, errors.is_empty()) {
            (Some(t), true) => t,
            _ => return Err(errors),
        };
        Ok(Event {
            event_id: self.event_id,
            event_type,
            user_id,
            session_id,
            product_ids,
            quantity: self.quantity,
            price: self.price.map(|p| p.normalize()),
            currency,
            request_id: self.request_id,
            position,
            query: self.query.map(|q| q.trim().to_string()),
            rating,
            review: self.review,
            context: self.context.unwrap_or_default(),
            timestamp: self.timestamp.unwrap_or(now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Event, Vec<FieldError>> {
        serde_json::from_str::<EventInput>(json)
            .expect("wire shape")
            .validate(Utc::now())
    }

    #[test]
    fn a_purchase_keeps_exact_price_and_context() {
        let e = parse(
            r#"{"event_id":"e1","type":"purchase","user_id":"u1","product_id":"SKU-1","quantity":2,
            "price":"19.99","currency":"EUR","request_id":"r1","position":3,"context":{"device":"mobile"},
            "timestamp":"2026-11-21T10:00:00Z"}"#,
        )
        .unwrap();
        assert_eq!(e.event_type, EventType::Purchase);
        assert_eq!(e.price.unwrap().to_string(), "19.99");
        assert_eq!(e.product_ids, vec!["SKU-1"]);
        assert_eq!(e.context.device.as_deref(), Some("mobile"));
    }

    #[test]
    fn funnel_rules_name_their_fields() {
        let errs =
            parse(r#"{"event_id":"e","type":"purchase","quantity":0,"price":-1,"rating":9}"#)
                .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "user_id",
            "product_id",
            "quantity",
            "price",
            "rating",
            "currency",
        ] {
            assert!(fields.contains(&f), "missing {f} in {errs:?}");
        }
        let errs = parse(r#"{"event_id":"e","type":"teleport","session_id":"s"}"#).unwrap_err();
        assert!(errs[0].reason.contains("unknown event type"));
    }

    #[test]
    fn search_needs_a_query_but_no_product() {
        assert!(
            parse(r#"{"event_id":"e","type":"search","session_id":"s","query":"boots"}"#).is_ok()
        );
        assert!(parse(r#"{"event_id":"e","type":"search","session_id":"s"}"#).is_err());
    }
}
