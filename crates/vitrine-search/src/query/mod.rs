//! Query understanding: free text → what the shopper asked for (price, attributes, exclusions, sort,
//! stock) plus the words left to rank by. The result is returned in every response so merchandisers can
//! see what Vitrine understood.

mod parse;
mod price;

pub use parse::{parse_query, MAX_QUERY_CHARS};
pub use price::{parse_price, PriceMatch};

use serde::Serialize;
use utoipa::ToSchema;

/// How results should be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Best match first (the default).
    Relevance,
    /// Lowest price first.
    PriceAsc,
    /// Highest price first.
    PriceDesc,
    /// Most recently added or changed first.
    Newest,
    /// Highest rating first.
    Rating,
}

impl SortOrder {
    /// Parses the snake_case name used by the API.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "relevance" => Self::Relevance,
            "price_asc" => Self::PriceAsc,
            "price_desc" => Self::PriceDesc,
            "newest" => Self::Newest,
            "rating" => Self::Rating,
            _ => return None,
        })
    }
}

/// A price constraint read from the query.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct PriceConstraint {
    /// Lowest acceptable price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest acceptable price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// An attribute the shopper asked for ("navy blue" → colour = navy blue).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AttributeConstraint {
    /// Attribute name.
    pub name: String,
    /// Normalised value.
    pub value: String,
    /// The catalog's spelling.
    pub display: String,
    /// The words of the query that produced it.
    pub matched: String,
}

/// Something the shopper does not want ("not slim fit", "without hood", "non-leather").
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Exclusion {
    /// Attribute name when the phrase is a known value; `None` means "any product mentioning it".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Normalised phrase or value.
    pub value: String,
}

/// What Vitrine understood from the query text.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, Default)]
pub struct ParsedQuery {
    /// The query as received (trimmed).
    pub original: String,
    /// The words left for relevance after constraints and operators were taken out.
    pub text: String,
    /// Price constraint, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceConstraint>,
    /// "cheap", "affordable", "budget": lower prices preferred among relevant results.
    pub cheap: bool,
    /// Required attribute values (values of one attribute are alternatives; attributes combine with AND).
    pub attributes: Vec<AttributeConstraint>,
    /// Excluded values and phrases.
    pub exclusions: Vec<Exclusion>,
    /// Order asked for in words ("cheapest", "newest", "best rated").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortOrder>,
    /// "in stock", "available now".
    pub in_stock: bool,
    /// Misspelled words read as catalog words ("refridgerator" → "refrigerator"); `text` holds the
    /// corrected words.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<crate::speller::Correction>,
}
