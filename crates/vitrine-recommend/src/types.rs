//! Requests and answers of the recommendation surfaces (shared with the HTTP layer through serde).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Default number of items in an answer.
pub const DEFAULT_COUNT: usize = 20;
/// Largest number of items one answer may hold.
pub const MAX_COUNT: usize = 50;

/// The five places recommendations appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Surface {
    /// Item → similar items (product page).
    Similar,
    /// Basket completion (cart page).
    BoughtTogether,
    /// Home feed for a shopper or session.
    ForYou,
    /// Session-based: what this shopper wants next.
    Next,
    /// Time-decayed popularity, optionally per category.
    Trending,
}

impl Surface {
    /// Every surface.
    pub const ALL: [Surface; 5] = [
        Self::Similar,
        Self::BoughtTogether,
        Self::ForYou,
        Self::Next,
        Self::Trending,
    ];

    /// The snake_case name used in URLs and logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Similar => "similar",
            Self::BoughtTogether => "bought_together",
            Self::ForYou => "for_you",
            Self::Next => "next",
            Self::Trending => "trending",
        }
    }

    /// Parses a URL segment.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.as_str() == text)
    }

    /// A small integer for features.
    pub fn code(&self) -> f32 {
        Self::ALL.iter().position(|s| s == self).unwrap_or(0) as f32
    }
}

/// Hard filters on what may be recommended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RecFilters {
    /// Category path prefix (`Apparel > Men`).
    pub category: Option<String>,
    /// Lowest effective price.
    pub price_min: Option<f64>,
    /// Highest effective price.
    pub price_max: Option<f64>,
    /// Only items that can be bought now.
    pub in_stock: Option<bool>,
}

/// Where the request comes from; used as ranking features and for cold-start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RecContext {
    /// `mobile`, `desktop`, `app`.
    pub device: Option<String>,
    /// `web`, `app`, `email`.
    pub channel: Option<String>,
    /// Region or country code.
    pub region: Option<String>,
}

impl RecContext {
    /// Device as a small integer feature (0 unknown, 1 desktop, 2 mobile, 3 app, 4 other).
    pub fn device_code(&self) -> f32 {
        match self.device.as_deref() {
            None => 0.0,
            Some("desktop") => 1.0,
            Some("mobile") => 2.0,
            Some("app") => 3.0,
            Some(_) => 4.0,
        }
    }
}

/// A recommendation request (the surface comes from the URL).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RecRequest {
    /// Logged-in shopper.
    pub user_id: Option<String>,
    /// Anonymous session.
    pub session_id: Option<String>,
    /// Context products (the product page's item for `similar`, the items just seen for `next`).
    pub items: Vec<String>,
    /// Products in the cart (for `bought_together`, and excluded from every surface).
    pub cart: Vec<String>,
    /// Items wanted (default 20, 1–50).
    pub count: Option<usize>,
    /// Hard filters.
    pub filters: RecFilters,
    /// Device, channel, region.
    pub context: RecContext,
    /// Include each item's sources, model scores and rules.
    pub explain: bool,
}

/// Why one item is where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecExplain {
    /// Candidate sources that proposed it, with their normalised scores.
    pub sources: Vec<SourceScore>,
    /// Model probabilities (absent under the untrained heuristic).
    pub p_click: Option<f32>,
    /// p(add_to_cart | shown).
    pub p_cart: Option<f32>,
    /// p(purchase | shown).
    pub p_purchase: Option<f32>,
    /// p(return | purchase).
    pub p_return: Option<f32>,
    /// Score before rules.
    pub model_score: f32,
    /// Rules that changed its score or place.
    pub rules: Vec<String>,
    /// Probability that this item was placed here by the logging policy (exploration-aware).
    pub propensity: f32,
}

/// A candidate source's contribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SourceScore {
    /// `covis`, `transition`, `basket`, `sequence`, `content`, `trending`, `popular`.
    pub source: String,
    /// Normalised score (1 = the strongest candidate of that source in this answer).
    pub score: f32,
}

/// One recommended item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecItem {
    /// Product id.
    pub product_id: String,
    /// Final score (higher first).
    pub score: f32,
    /// Whether exploration placed it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub explored: bool,
    /// With `explain=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<RecExplain>,
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecResponse {
    /// Send it back on clicks, carts and purchases for exact attribution.
    pub request_id: String,
    /// The surface asked.
    pub surface: Surface,
    /// Ranked items.
    pub items: Vec<RecItem>,
    /// Model version that ranked (`None`: the untrained heuristic).
    pub model_version: Option<i64>,
    /// Why a fallback was used (unknown shopper, no signal for the item, filters too narrow …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fallbacks: Vec<String>,
}
