//! Request and response of a search, independent of HTTP (the server maps them to JSON).

use crate::filters::Filters;
use crate::query::{ParsedQuery, SortOrder};
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Which retrievers run; the evaluation compares them, the API uses `Hybrid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Retrieval {
    /// Lexical and semantic, fused.
    #[default]
    Hybrid,
    /// BM25 only.
    Lexical,
    /// Embeddings only.
    Semantic,
}

/// A shopper's leanings, from their recent events: normalised facet value → weight in 0..1.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Affinity {
    /// ("brand", "acme") → 0.6 …
    pub weights: BTreeMap<(String, String), f64>,
}

impl Affinity {
    /// A stable short label of the strongest leanings, used as the cache segment.
    pub fn segment(&self) -> String {
        let mut top: Vec<_> = self.weights.iter().collect();
        top.sort_by(|a, b| b.1.total_cmp(a.1).then(a.0.cmp(b.0)));
        top.iter()
            .take(3)
            .map(|((n, v), w)| format!("{n}={v}:{:.1}", **w))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// One search.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Free text (may be empty: browse).
    pub query: String,
    /// Explicit filters (facet selections, price slider…).
    pub filters: Filters,
    /// Explicit order; otherwise the query's sort words, otherwise relevance.
    pub sort: Option<SortOrder>,
    /// Results skipped (pagination).
    pub offset: usize,
    /// Results returned.
    pub limit: usize,
    /// Attributes to count values of; empty = the configured defaults.
    pub facets: Vec<String>,
    /// Include score breakdowns.
    pub explain: bool,
    /// Give each hit its title with the searched words marked (`highlighted_title`).
    pub highlight: bool,
    /// Retrievers to use.
    pub retrieval: Retrieval,
    /// Personalisation, when the shopper is known.
    pub affinity: Option<Affinity>,
    /// Skip query understanding: the whole query is relevance text (evaluation baseline).
    pub raw: bool,
    /// Fusion override (evaluation and experiments); the configured method otherwise.
    pub fusion: Option<crate::Fusion>,
}

/// Score breakdown of one result.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct HitExplain {
    /// BM25 score, if the text index found it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lexical: Option<f32>,
    /// Rank in the lexical list (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lexical_rank: Option<usize>,
    /// Cosine similarity, if the vector index found it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantic: Option<f32>,
    /// Rank in the semantic list (1-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantic_rank: Option<usize>,
    /// Fused relevance before rules.
    pub relevance: f32,
    /// Product of rule multipliers.
    pub rules_factor: f64,
    /// Rules that changed this result.
    pub rules: Vec<String>,
    /// Personalisation multiplier.
    pub personal_factor: f64,
    /// Final score.
    pub score: f64,
    /// The learned ranker's inputs for this product, by feature name (only when the learned ranker
    /// ordered the answer): what it saw, such as how well the title covers each query word.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranker_features: Option<std::collections::BTreeMap<String, f64>>,
    /// How much each of those features added to the learned ranker's score (same names); with
    /// `ranker_base` they sum to it. Positive pushed the product up, negative down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranker_contributions: Option<std::collections::BTreeMap<String, f64>>,
    /// The part of the learned ranker's score no feature explains (its mean output).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranker_base: Option<f64>,
}

/// One result.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct SearchHit {
    /// SKU.
    pub id: String,
    /// Title.
    pub title: String,
    /// Brand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    /// Current price.
    pub price: f64,
    /// Currency.
    pub currency: String,
    /// Sellable now.
    pub in_stock: bool,
    /// Final score (higher is better; comparable within one response).
    pub score: f64,
    /// Why it is here (`explain=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<HitExplain>,
    /// The title as HTML, escaped, with the words that match the search in `<mark>`
    /// (`highlight=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlighted_title: Option<String>,
}

/// A facet value and how many matched products carry it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct FacetCount {
    /// The catalog's spelling.
    pub value: String,
    /// Matched products with this value.
    pub count: u32,
}

/// A search answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SearchResponse {
    /// What Vitrine understood.
    pub parsed: ParsedQuery,
    /// Order applied.
    pub sort: SortOrder,
    /// Matched products in all (the text index's matched set plus semantic-only candidates).
    pub total: usize,
    /// The requested page.
    pub hits: Vec<SearchHit>,
    /// Value counts over the matched set (at most the best `facet_sample` matches).
    pub facets: BTreeMap<String, Vec<FacetCount>>,
    /// Degradations, e.g. semantic retrieval unavailable.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
    /// Catalog generation the answer reflects.
    pub generation: u64,
    /// This answer as JSON, made on first use ([`Self::json`]). The engine builds an answer once and
    /// never changes it afterwards (cached answers are shared behind an `Arc`); code that edits a field
    /// after `json()` was called must start from a fresh `OnceLock`.
    #[serde(skip)]
    pub json: std::sync::OnceLock<String>,
}

impl SearchResponse {
    /// This answer as a JSON object, serialized once: a cached answer is sent again and again, and
    /// serializing its hits and facets was most of a cache hit's work.
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| {
            // Plain data (strings, numbers, maps with string keys): serialization cannot fail.
            serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
        })
    }
}
