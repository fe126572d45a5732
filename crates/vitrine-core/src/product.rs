//! Products: what a shop sells, with exact prices, typed attributes and stock.
//!
//! [`ProductInput`] is what feeds send; [`ProductInput::validate`] turns it into a [`Product`] or into every
//! [`FieldError`] at once (not just the first), so one pass over a bad feed finds all its problems.

use crate::{currency::Currency, decimal, validate_id, FieldError};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Longest accepted title; longer ones are feed bugs (a description pasted into the title column).
pub const MAX_TITLE_LEN: usize = 1_000;
/// Longest accepted description, so one record cannot blow up indexes and model prompts.
pub const MAX_DESCRIPTION_LEN: usize = 100_000;

/// Whether a product may be shown and sold; archived products stay for history and attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    /// Sellable and shown.
    #[default]
    Active,
    /// Kept for history, never shown.
    Archived,
}

impl ProductStatus {
    /// Parses the lowercase name used in JSON, CSV and SQL.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "active" => Ok(Self::Active),
            "archived" => Ok(Self::Archived),
            other => Err(format!("must be \"active\" or \"archived\", got {other:?}")),
        }
    }
    /// The lowercase name used in JSON, CSV and SQL.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }
}

/// A typed attribute value. Typing matters: "weight 1.2 kg" must compare as a number with a unit, and
/// "waterproof: true" must not be confused with the text "true" when copy is fact-checked later.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AttributeValue {
    /// Free text such as a material or colour.
    Text(String),
    /// A yes/no capability such as `waterproof`.
    Bool(bool),
    /// A list of text values such as available sizes.
    List(Vec<String>),
    /// A number, optionally with its unit (`{"value": 1.2, "unit": "kg"}`).
    Number {
        /// The numeric value.
        value: f64,
        /// The unit, when the number has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
}

impl AttributeValue {
    /// Reads any JSON a feed may use for an attribute, naming the attribute on failure.
    pub fn from_json(name: &str, v: &Value) -> Result<Self, FieldError> {
        let field = format!("attributes.{name}");
        match v {
            Value::String(s) => Ok(Self::Text(s.trim().to_string())),
            Value::Bool(b) => Ok(Self::Bool(*b)),
            Value::Number(n) => n
                .as_f64()
                .map(|value| Self::Number { value, unit: None })
                .ok_or_else(|| FieldError::new(&field, "number out of range")),
            Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.trim().to_string()),
                    Value::Number(n) => Ok(n.to_string()),
                    _ => Err(FieldError::new(
                        &field,
                        "a list may hold only text or numbers",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Self::List),
            Value::Object(map) => {
                let value = map.get("value").and_then(Value::as_f64).ok_or_else(|| {
                    FieldError::new(
                        &field,
                        "an object attribute needs a numeric \"value\" (and optional \"unit\")",
                    )
                })?;
                let unit = match map.get("unit") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(u)) => Some(u.trim().to_string()),
                    Some(_) => {
                        return Err(FieldError::new(format!("{field}.unit"), "must be text"))
                    }
                };
                if let Some(extra) = map.keys().find(|k| *k != "value" && *k != "unit") {
                    return Err(FieldError::new(
                        &field,
                        format!("unexpected key {extra:?}; use value and unit"),
                    ));
                }
                Ok(Self::Number { value, unit })
            }
            Value::Null => Err(FieldError::new(
                &field,
                "must not be null; leave the attribute out instead",
            )),
        }
    }

    /// Text form for search and display ("1.2 kg", "S, M, L", "yes").
    pub fn display_text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            Self::List(l) => l.join(", "),
            Self::Number {
                value,
                unit: Some(u),
            } => format!("{value} {u}"),
            Self::Number { value, unit: None } => value.to_string(),
        }
    }
}

/// Stock for one product; `backorder` lets an out-of-stock item still be sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct Inventory {
    /// Units on hand; never negative.
    pub quantity: i64,
    /// Whether the item may be sold while `quantity` is 0.
    #[serde(default)]
    pub backorder: bool,
    /// When new stock is expected, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restock_date: Option<NaiveDate>,
}

impl Inventory {
    /// Sellable now: stock on hand or allowed on backorder.
    pub fn is_available(&self) -> bool {
        self.quantity > 0 || self.backorder
    }
}

/// A validated product: the catalog's unit of truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    /// The merchant's SKU, the product's identity everywhere in Vitrine.
    pub id: String,
    /// Display title.
    pub title: String,
    /// Long description; may be empty.
    pub description: String,
    /// Brand name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Category path from the root, e.g. `["Apparel", "Men", "Shirts"]`.
    pub category: Vec<String>,
    /// Typed attributes by name (material, colour, size, weight …).
    pub attributes: BTreeMap<String, AttributeValue>,
    /// List price, exact.
    #[schema(value_type = String, example = "49.90")]
    pub price: Decimal,
    /// Currency of every money field of this product.
    pub currency: Currency,
    /// Current sale price, exact; never above `price`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub sale_price: Option<Decimal>,
    /// Unit cost, so margins can be optimised.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub unit_cost: Option<Decimal>,
    /// Stock.
    pub inventory: Inventory,
    /// Image URLs.
    pub images: Vec<String>,
    /// Active or archived.
    pub status: ProductStatus,
    /// Last change in the source system (or arrival time when the feed gives none).
    pub updated_at: DateTime<Utc>,
    /// Groups sizes/colours of the same item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant_group: Option<String>,
}

impl Product {
    /// The price a shopper pays now: the sale price when there is one.
    pub fn effective_price(&self) -> Decimal {
        self.sale_price.unwrap_or(self.price)
    }

    /// Unit margin at the effective price, when the cost is known.
    pub fn unit_margin(&self) -> Option<Decimal> {
        self.unit_cost.map(|c| self.effective_price() - c)
    }

    /// Stable 64-bit fingerprint of everything except `updated_at`, so re-importing an unchanged product does
    /// not create history rows or invalidate caches. FNV-1a over canonical JSON: stable across Rust versions.
    pub fn content_fingerprint(&self) -> u64 {
        let mut copy = self.clone();
        copy.updated_at = DateTime::<Utc>::UNIX_EPOCH;
        // 45.00 and 45 are the same price: normalise so representation never counts as a change.
        copy.price = copy.price.normalize();
        copy.sale_price = copy.sale_price.map(|d| d.normalize());
        copy.unit_cost = copy.unit_cost.map(|d| d.normalize());
        let bytes = serde_json::to_vec(&copy).unwrap_or_default();
        bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        })
    }
}

/// A category given either as a path string ("Apparel > Men > Shirts", "/" also splits) or a list.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum CategoryInput {
    /// `"Apparel > Men > Shirts"`.
    Path(String),
    /// `["Apparel", "Men", "Shirts"]`.
    List(Vec<String>),
}

impl CategoryInput {
    /// The path as trimmed, non-empty segments.
    pub fn segments(&self) -> Vec<String> {
        let raw: Vec<String> = match self {
            Self::Path(p) => p.split(['>', '/', '|']).map(str::to_string).collect(),
            Self::List(l) => l.clone(),
        };
        raw.into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// The product as a feed or API client sends it (native JSONL schema).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// SKU; `sku` is accepted as an alias.
    #[serde(alias = "sku")]
    pub id: String,
    /// Display title.
    pub title: String,
    /// Long description.
    #[serde(default)]
    pub description: Option<String>,
    /// Brand.
    #[serde(default)]
    pub brand: Option<String>,
    /// Category path or list.
    #[serde(default)]
    pub category: Option<CategoryInput>,
    /// Attributes: text, number, boolean, list of text, or `{"value", "unit"}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, Value>,
    /// List price as a number or a decimal string.
    #[serde(deserialize_with = "decimal::deserialize")]
    #[schema(value_type = String, example = "49.90")]
    pub price: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// Sale price.
    #[serde(default, deserialize_with = "decimal::deserialize_opt")]
    #[schema(value_type = Option<String>)]
    pub sale_price: Option<Decimal>,
    /// Unit cost.
    #[serde(default, deserialize_with = "decimal::deserialize_opt")]
    #[schema(value_type = Option<String>)]
    pub unit_cost: Option<Decimal>,
    /// Stock; absent means 0 on hand, no backorder.
    #[serde(default)]
    pub inventory: Option<Inventory>,
    /// Image URLs.
    #[serde(default)]
    pub images: Vec<String>,
    /// `active` (default) or `archived`.
    #[serde(default)]
    pub status: Option<String>,
    /// Source system's change time.
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    /// Variant group id.
    #[serde(default)]
    pub variant_group: Option<String>,
}

fn check_money(
    field: &str,
    value: Decimal,
    currency: Option<Currency>,
    errors: &mut Vec<FieldError>,
) {
    if value.is_sign_negative() && !value.is_zero() {
        errors.push(FieldError::new(
            field,
            format!("must not be negative, got {value}"),
        ));
    }
    if let Some(c) = currency {
        // Allow two extra digits for unit prices (e.g. fuel, bulk), but not float noise like 19.990000001.
        let max_scale = u32::from(c.minor_units()) + 2;
        if value.normalize().scale() > max_scale {
            errors.push(FieldError::new(
                field,
                format!("has more than {max_scale} decimal places for {c}"),
            ));
        }
    }
}

impl ProductInput {
    /// Validates and normalises; returns every problem found, not only the first.
    pub fn validate(self, now: DateTime<Utc>) -> Result<Product, Vec<FieldError>> {
        let mut errors = Vec::new();
        validate_id("id", &self.id, &mut errors);
        let title = self.title.trim().to_string();
        if title.is_empty() {
            errors.push(FieldError::new("title", "must not be empty"));
        } else if title.len() > MAX_TITLE_LEN {
            errors.push(FieldError::new(
                "title",
                format!("is longer than {MAX_TITLE_LEN} bytes"),
            ));
        }
        let description = self.description.unwrap_or_default().trim().to_string();
        if description.len() > MAX_DESCRIPTION_LEN {
            errors.push(FieldError::new(
                "description",
                format!("is longer than {MAX_DESCRIPTION_LEN} bytes"),
            ));
        }
        let currency = match Currency::parse(&self.currency) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(FieldError::new("currency", e));
                None
            }
        };
        check_money("price", self.price, currency, &mut errors);
        if let Some(s) = self.sale_price {
            check_money("sale_price", s, currency, &mut errors);
            if s > self.price {
                errors.push(FieldError::new(
                    "sale_price",
                    format!("{s} is above the list price {}", self.price),
                ));
            }
        }
        if let Some(c) = self.unit_cost {
            check_money("unit_cost", c, currency, &mut errors);
        }
        let inventory = self.inventory.unwrap_or_default();
        if inventory.quantity < 0 {
            errors.push(FieldError::new(
                "inventory.quantity",
                format!(
                    "must not be negative, got {} (set backorder for oversold items)",
                    inventory.quantity
                ),
            ));
        }
        let mut attributes = BTreeMap::new();
        for (name, value) in &self.attributes {
            let key = name.trim();
            if key.is_empty() {
                errors.push(FieldError::new(
                    "attributes",
                    "attribute names must not be empty",
                ));
                continue;
            }
            match AttributeValue::from_json(key, value) {
                Ok(v) => {
                    attributes.insert(key.to_string(), v);
                }
                Err(e) => errors.push(e),
            }
        }
        let status = match self.status.as_deref().map(ProductStatus::parse).transpose() {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                errors.push(FieldError::new("status", e));
                ProductStatus::Active
            }
        };
        for (i, url) in self.images.iter().enumerate() {
            if !(url.starts_with("http://") || url.starts_with("https://") || url.starts_with('/'))
            {
                errors.push(FieldError::new(
                    format!("images[{i}]"),
                    "must be an http(s) URL or an absolute path",
                ));
            }
        }
        let currency = match (currency, errors.is_empty()) {
            (Some(c), true) => c,
            _ => return Err(errors),
        };
        Ok(Product {
            id: self.id.trim().to_string(),
            title,
            description,
            brand: self
                .brand
                .map(|b| b.trim().to_string())
                .filter(|b| !b.is_empty()),
            category: self.category.map(|c| c.segments()).unwrap_or_default(),
            attributes,
            price: self.price.normalize(),
            currency,
            sale_price: self.sale_price.map(|d| d.normalize()),
            unit_cost: self.unit_cost.map(|d| d.normalize()),
            inventory,
            images: self.images,
            status,
            updated_at: self.updated_at.unwrap_or(now),
            variant_group: self.variant_group.filter(|v| !v.trim().is_empty()),
        })
    }
}

/// A partial update (HTTP PATCH): price and stock change far more often than anything else, and must not
/// require resending the whole product.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatch {
    /// New list price.
    #[serde(default, deserialize_with = "decimal::deserialize_opt")]
    #[schema(value_type = Option<String>)]
    pub price: Option<Decimal>,
    /// New sale price.
    #[serde(default, deserialize_with = "decimal::deserialize_opt")]
    #[schema(value_type = Option<String>)]
    pub sale_price: Option<Decimal>,
    /// Remove the sale price.
    #[serde(default)]
    pub clear_sale_price: bool,
    /// New unit cost.
    #[serde(default, deserialize_with = "decimal::deserialize_opt")]
    #[schema(value_type = Option<String>)]
    pub unit_cost: Option<Decimal>,
    /// New stock on hand.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// New backorder flag.
    #[serde(default)]
    pub backorder: Option<bool>,
    /// New restock date.
    #[serde(default)]
    pub restock_date: Option<NaiveDate>,
    /// `active` or `archived`.
    #[serde(default)]
    pub status: Option<String>,
    /// New title.
    #[serde(default)]
    pub title: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
}

impl ProductPatch {
    /// Applies the patch to the current product and re-validates the result as a whole (a new sale price
    /// must still be below the list price, and so on).
    pub fn apply(&self, current: &Product, now: DateTime<Utc>) -> Result<Product, Vec<FieldError>> {
        let mut p = current.clone();
        let mut errors = Vec::new();
        if let Some(v) = self.price {
            p.price = v.normalize();
        }
        if self.clear_sale_price {
            p.sale_price = None;
        }
        if let Some(v) = self.sale_price {
            p.sale_price = Some(v.normalize());
        }
        if let Some(v) = self.unit_cost {
            p.unit_cost = Some(v.normalize());
        }
        if let Some(q) = self.quantity {
            p.inventory.quantity = q;
        }
        if let Some(b) = self.backorder {
            p.inventory.backorder = b;
        }
        if let Some(d) = self.restock_date {
            p.inventory.restock_date = Some(d);
        }
        if let Some(s) = &self.status {
            match ProductStatus::parse(s) {
                Ok(s) => p.status = s,
                Err(e) => errors.push(FieldError::new("status", e)),
            }
        }
        if let Some(t) = &self.title {
            p.title = t.clone();
        }
        if let Some(d) = &self.description {
            p.description = d.clone();
        }
        // Re-run the full rule set on the patched product so PATCH can never store what POST would refuse.
        let input = ProductInput {
            id: p.id.clone(),
            title: p.title.clone(),
            description: Some(p.description.clone()),
            brand: p.brand.clone(),
            category: Some(CategoryInput::List(p.category.clone())),
            attributes: BTreeMap::new(),
            price: p.price,
            currency: p.currency.to_string(),
            sale_price: p.sale_price,
            unit_cost: p.unit_cost,
            inventory: Some(p.inventory.clone()),
            images: p.images.clone(),
            status: Some(p.status.as_str().to_string()),
            updated_at: Some(now),
            variant_group: p.variant_group.clone(),
        };
        match input.validate(now) {
            Ok(mut validated) if errors.is_empty() => {
                validated.attributes = p.attributes;
                Ok(validated)
            }
            Ok(_) => Err(errors),
            Err(mut e) => {
                errors.append(&mut e);
                Err(errors)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Product, Vec<FieldError>> {
        let input: ProductInput = serde_json::from_str(json).expect("wire shape");
        input.validate(Utc::now())
    }

    #[test]
    fn a_full_product_validates_with_typed_attributes() {
        let p = parse(
            r#"{"id":"SKU-1","title":" Linen shirt ","category":"Apparel > Men > Shirts","price":"49.90",
            "currency":"usd","sale_price":39.9,"unit_cost":"20","inventory":{"quantity":3,"backorder":false},
            "attributes":{"material":"linen","weight":{"value":0.3,"unit":"kg"},"waterproof":false,"sizes":["S","M"]}}"#,
        )
        .unwrap();
        assert_eq!(p.title, "Linen shirt");
        assert_eq!(p.category, vec!["Apparel", "Men", "Shirts"]);
        assert_eq!(p.price.to_string(), "49.9");
        assert_eq!(p.currency.as_str(), "USD");
        assert_eq!(p.unit_margin().unwrap().to_string(), "19.9");
        assert_eq!(
            p.attributes["weight"],
            AttributeValue::Number {
                value: 0.3,
                unit: Some("kg".into())
            }
        );
        assert_eq!(p.attributes["sizes"].display_text(), "S, M");
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let errs = parse(
            r#"{"id":"","title":"","price":-3,"currency":"EURO","inventory":{"quantity":-1},
            "attributes":{"bad":null},"status":"gone"}"#,
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "id",
            "title",
            "price",
            "currency",
            "inventory.quantity",
            "attributes.bad",
            "status",
        ] {
            assert!(fields.contains(&f), "missing {f} in {errs:?}");
        }
    }

    #[test]
    fn sale_price_above_list_price_is_refused() {
        let errs = parse(r#"{"id":"a","title":"t","price":10,"currency":"EUR","sale_price":12}"#)
            .unwrap_err();
        assert_eq!(errs[0].field, "sale_price");
    }

    #[test]
    fn float_noise_in_prices_is_refused() {
        let errs =
            parse(r#"{"id":"a","title":"t","price":"19.990000001","currency":"EUR"}"#).unwrap_err();
        assert_eq!(errs[0].field, "price");
    }

    #[test]
    fn patch_revalidates_the_whole_product() {
        let p = parse(r#"{"id":"a","title":"t","price":10,"currency":"EUR"}"#).unwrap();
        let bad = ProductPatch {
            sale_price: Some(Decimal::from(11)),
            ..Default::default()
        };
        assert!(bad.apply(&p, Utc::now()).is_err());
        let good = ProductPatch {
            quantity: Some(5),
            price: Some(Decimal::from(12)),
            ..Default::default()
        };
        let q = good.apply(&p, Utc::now()).unwrap();
        assert_eq!(q.inventory.quantity, 5);
        assert_eq!(q.price, Decimal::from(12));
    }

    #[test]
    fn fingerprint_ignores_updated_at_only() {
        let p = parse(r#"{"id":"a","title":"t","price":10,"currency":"EUR"}"#).unwrap();
        let mut q = p.clone();
        q.updated_at = Utc::now() + chrono::Duration::days(1);
        assert_eq!(p.content_fingerprint(), q.content_fingerprint());
        q.price = Decimal::from(11);
        assert_ne!(p.content_fingerprint(), q.content_fingerprint());
    }
}
