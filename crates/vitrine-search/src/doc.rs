//! The search view of a product: what filters, rules, facets and explanations need, kept in memory so
//! candidates from either index can be checked without touching the database.

use crate::normalize::{self, doc_key};
use rust_decimal::prelude::ToPrimitive;
use vitrine_core::{AttributeValue, Product, ProductStatus};

/// Attribute names that become facets and filterable constraints. Other attributes are searchable text.
pub const FACET_LIMIT_VALUE_LEN: usize = 60;

/// One filterable value of a product (`colour` = `navy blue`).
#[derive(Debug, Clone, PartialEq)]
pub struct FacetValue {
    /// Normalised attribute name (`brand`, `category`, `colour`, …).
    pub name: String,
    /// Normalised value, the form filters compare.
    pub value: String,
    /// The catalog's own spelling, for facet labels.
    pub display: String,
    /// [`facet_code`] of `name`: lets hot loops (facet counting, filter checks) compare one integer
    /// before any string.
    pub name_code: u64,
    /// [`facet_code`] of (`name`, `value`).
    pub value_code: u64,
}

impl FacetValue {
    /// A facet value from its normalised name and value and the catalog's spelling.
    pub fn new(name: &str, value: String, display: &str) -> Self {
        Self {
            name_code: facet_code(name, ""),
            value_code: facet_code(name, &value),
            name: name.to_string(),
            value,
            display: display.trim().to_string(),
        }
    }
}

/// A 64-bit code for a facet name (`value` empty) or a (name, value) pair: what hot loops (filter checks,
/// facet counting) compare instead of strings. SipHash-1-3 with fixed keys (deterministic, well mixed): two
/// of a million distinct values share a code with probability about 3 in 10^8, the price of not reading
/// three strings per value per product (session 10: the string check was a quarter of the filter cost).
pub fn facet_code(name: &str, value: &str) -> u64 {
    use std::hash::Hasher;
    // `DefaultHasher::new()` is SipHash-1-3 with fixed keys: the same code in every process of a build.
    let mut h = std::hash::DefaultHasher::new();
    h.write(name.as_bytes());
    h.write_u8(0xff);
    h.write(value.as_bytes());
    h.finish()
}

/// A product as search sees it.
#[derive(Debug, Clone)]
pub struct SearchDoc {
    /// Key shared by both indexes ([`doc_key`] of the SKU).
    pub key: u64,
    /// SKU.
    pub id: String,
    /// Title as written.
    pub title: String,
    /// Brand as written.
    pub brand: Option<String>,
    /// Category path as written.
    pub category: Vec<String>,
    /// Category path normalised, for category-prefix filters (checked per candidate, so not recomputed).
    pub category_normalized: Vec<String>,
    /// Price a shopper pays now (sale price when set), for filters and sorting.
    pub price: f64,
    /// ISO currency code.
    pub currency: String,
    /// Sellable now (stock or backorder).
    pub available: bool,
    /// Units on hand.
    pub quantity: i64,
    /// (price − cost) / price when the cost is known: what margin rules weigh.
    pub margin_rate: Option<f64>,
    /// Average rating when the catalog carries one (attribute `rating`), for "best rated".
    pub rating: Option<f64>,
    /// Last change in the source system, for "newest".
    pub updated_at_ms: i64,
    /// Filterable values, including brand and every category segment.
    pub facets: Vec<FacetValue>,
    /// (`name_code`, `value_code`) of each of `facets`, same order, packed together. Why: filter checks
    /// and facet counting scan thousands of products per search, and reading 16 bytes per value instead
    /// of a ~90-byte `FacetValue` (three strings) cut the cache lines each product costs by about five.
    pub facet_codes: Box<[(u64, u64)]>,
    /// Padded normalised title plus facet values, for phrase containment checks.
    pub haystack: String,
    /// Length of the padded title at the start of `haystack`.
    pub title_len: usize,
    /// Whether the product may be shown at all (archived products are not).
    pub active: bool,
}

impl SearchDoc {
    /// Builds the search view of a product.
    pub fn from_product(p: &Product) -> Self {
        let mut facets = Vec::new();
        let mut push = |name: &str, display: &str| {
            let value = normalize::phrase(display);
            if !value.is_empty() && value.len() <= FACET_LIMIT_VALUE_LEN {
                facets.push(FacetValue::new(name, value, display));
            }
        };
        if let Some(b) = &p.brand {
            push("brand", b);
        }
        for c in &p.category {
            push("category", c);
        }
        let mut rating = None;
        for (name, v) in &p.attributes {
            let name = normalize::phrase(name).replace(' ', "_");
            match v {
                AttributeValue::Text(t) => push(&name, t),
                AttributeValue::List(l) => l.iter().for_each(|t| push(&name, t)),
                AttributeValue::Bool(true) => push(&name, "yes"),
                AttributeValue::Bool(false) => push(&name, "no"),
                AttributeValue::Number { value, .. } => {
                    if name == "rating" {
                        rating = Some(*value);
                    }
                }
            }
        }
        let price = p.effective_price().to_f64().unwrap_or(0.0);
        let margin_rate = p
            .unit_margin()
            .and_then(|m| m.to_f64())
            .filter(|_| price > 0.0)
            .map(|m| m / price);
        let mut haystack = normalize::padded(&p.title);
        let title_len = haystack.len();
        for f in &facets {
            haystack.push_str(&f.value);
            haystack.push(' ');
        }
        Self {
            key: doc_key(&p.id),
            id: p.id.clone(),
            title: p.title.clone(),
            brand: p.brand.clone(),
            category: p.category.clone(),
            category_normalized: p.category.iter().map(|c| normalize::phrase(c)).collect(),
            price,
            currency: p.currency.to_string(),
            available: p.inventory.is_available(),
            quantity: p.inventory.quantity,
            margin_rate,
            rating,
            updated_at_ms: p.updated_at.timestamp_millis(),
            facet_codes: facets.iter().map(|f| (f.name_code, f.value_code)).collect(),
            facets,
            haystack,
            title_len,
            active: p.status == ProductStatus::Active,
        }
    }

    /// Whether the product has `name` = `value` (normalised).
    pub fn has_facet(&self, name: &str, value: &str) -> bool {
        self.has_facet_code(facet_code(name, value))
    }

    /// [`Self::has_facet`] with the code ([`facet_code`]) computed once by the caller: filters check
    /// thousands of products, and only the packed codes are read.
    pub fn has_facet_code(&self, code: u64) -> bool {
        self.facet_codes.iter().any(|&(_, c)| c == code)
    }

    /// Whether the product carries any value for `name`.
    pub fn has_facet_name(&self, name: &str) -> bool {
        self.facets.iter().any(|f| f.name == name)
    }
}

/// The text a product is embedded from: title first (it dominates relevance), then brand, category and
/// attribute values. The description is left out: it is long (embedding cost grows with length), it is
/// already searchable lexically, and titles carry the product's identity.
pub fn embedding_text(p: &Product) -> String {
    let mut s = p.title.clone();
    if let Some(b) = &p.brand {
        if !p.title.to_lowercase().contains(&b.to_lowercase()) {
            s.push_str(" | ");
            s.push_str(b);
        }
    }
    if !p.category.is_empty() {
        s.push_str(" | ");
        s.push_str(&p.category.join(" > "));
    }
    let attrs: Vec<String> = p
        .attributes
        .iter()
        .filter(|(_, v)| !matches!(v, AttributeValue::Number { .. }))
        .map(|(k, v)| format!("{k}: {}", v.display_text()))
        .collect();
    if !attrs.is_empty() {
        s.push_str(" | ");
        s.push_str(&attrs.join(", "));
    }
    s
}
