//! # vitrine-search — product search that understands shoppers
//!
//! Hybrid retrieval over the catalog: a tantivy full-text index (BM25 with field boosts, stemming,
//! synonyms, typo tolerance) and an HNSW vector index (usearch, int8) over product embeddings from
//! `vitrine-models`, fused ([`fusion`]), then merchandising [`rules`] and optional personalisation.
//! Queries are parsed first ([`query`]): price, attributes from the catalog's own vocabulary, negation,
//! sort and stock intents become filters applied *inside* both retrievers.
//!
//! ## Data flow
//! store change feed → [`sync`] → doc table + text index (fast) and vector index (embedding, slower) →
//! [`SearchEngine::search`] → parse → filters → lexical ∥ semantic → fuse → rules → sort → pins → page.
//!
//! ## Invariants
//! - Indexes are derived: everything can be rebuilt from the store (`vitrine reindex`).
//! - Each index records the change-feed position it reflects together with its own durable save, so after
//!   a crash it re-applies (idempotently) rather than skips.
//! - A cached answer is only served for the catalog generation it was computed on.
//! - No input makes search panic; unknown filter fields are refused by the API layer before they get here.

pub mod adapter;
pub mod cache;
pub mod doc;
mod doc_keys;
pub mod engine;
pub mod eval;
pub mod eval_qu;
pub mod filters;
pub mod fusion;
pub mod highlight;
pub mod lambdamart;
pub mod lexical;
pub mod list_context;
pub mod ltr;
pub mod normalize;
pub mod price_filter;
pub mod quantities;
pub mod query;
pub mod reload;
pub mod rules;
pub mod speller;
pub mod suggest;
pub mod sync;
pub mod synonyms;
pub mod title_terms;
mod top_by_key;
mod tree_shap;
pub mod types;
pub mod vectors;
pub mod vocab;
pub mod word_vectors;

pub use engine::{blend_order, standardised, CrossStage, SearchEngine, SearchStats};
pub use filters::Filters;
pub use fusion::Fusion;
pub use query::{ParsedQuery, SortOrder};
pub use rules::Rules;
pub use types::*;
pub use vectors::HnswParams;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Why a search operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The index library reported an error.
    #[error("search index: {0}")]
    Index(String),
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// A lock was poisoned by a panic elsewhere.
    #[error("search state is unavailable after an internal panic")]
    Poisoned,
    /// Embedding failed.
    #[error("embedding model: {0}")]
    Model(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
    /// Bad configuration (rules, synonyms).
    #[error("search configuration: {0}")]
    Config(String),
}

/// The `[search]` table of the config file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Whether the server builds and serves search.
    pub enabled: bool,
    /// How lexical and semantic lists are fused.
    pub fusion: Fusion,
    /// Candidates taken from each retriever for the learned ranker's pool.
    pub candidates: usize,
    /// Semantic candidates when no learned ranker re-ranks them (weighted or RRF fusion). The vector
    /// walk's cost grows with how many it must return, and with these fusions a product beyond the first
    /// 100 of the semantic list almost never reaches a page: on the Home Depot judgments, 100 instead of
    /// 200 moved weighted-fusion NDCG@10 by 0.0002 (docs/search.md, session 20).
    pub semantic_candidates: usize,
    /// Facet counts cover at most this many of the best matches.
    pub facet_sample: usize,
    /// Values listed per facet.
    pub facet_values: usize,
    /// Cached answers (0 disables the cache).
    pub cache_capacity: usize,
    /// Synonyms file (default: the shipped list).
    pub synonyms: Option<PathBuf>,
    /// Merchandising rules file (re-read when it changes).
    pub rules: Option<PathBuf>,
    /// HNSW parameters.
    pub hnsw: HnswParams,
    /// Facets computed when the request names none.
    pub default_facets: Vec<String>,
    /// Strength of personalisation (0 disables it).
    pub personalization_weight: f64,
    /// Largest page.
    pub max_page_size: usize,
    /// Semantic-only candidates below this cosine similarity are dropped.
    pub semantic_floor: f32,
    /// Learned ranker model (from `vitrine eval search --save-ranker`), used by `fusion = "learned"`.
    pub ranker: Option<PathBuf>,
    /// Cross-encoder checkpoint (from `vitrine eval search --save-cross-encoder`) that re-reads the top
    /// of the learned ranker's list with the query (`engine/cross.rs`); off when unset. It costs one
    /// transformer pass per re-read product, so it is for catalogs where relevance is worth ~100 ms.
    pub cross_encoder: Option<PathBuf>,
    /// Products at the top of the ranker's list the cross-encoder re-orders.
    pub cross_encoder_top: usize,
    /// Weight of the cross-encoder against the ranker (0–1; `vitrine eval search` prints the share it
    /// chose on held-out training queries).
    pub cross_encoder_share: f64,
    /// Learned query-embedding map (from `vitrine eval search --save-adapter`), applied to every query
    /// vector before vector search; see `adapter.rs`.
    pub query_adapter: Option<PathBuf>,
    /// Correct misspelled query words against the catalog's title words before retrieval
    /// (`speller.rs`).
    pub spelling: bool,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            fusion: Fusion::default(),
            candidates: 200,
            semantic_candidates: 100,
            facet_sample: 1_000,
            facet_values: 20,
            cache_capacity: 20_000,
            synonyms: None,
            rules: None,
            hnsw: HnswParams::default(),
            default_facets: [
                "brand", "category", "colour", "color", "gender", "material", "size",
            ]
            .map(String::from)
            .to_vec(),
            personalization_weight: 0.2,
            max_page_size: 100,
            semantic_floor: 0.0,
            ranker: None,
            cross_encoder: None,
            cross_encoder_top: 30,
            cross_encoder_share: 0.5,
            query_adapter: None,
            spelling: true,
        }
    }
}

/// Where the indexes live, next to the database: `<db dir>/search/`.
pub fn index_dir(db_path: &std::path::Path) -> PathBuf {
    db_path
        .parent()
        .map(|p| p.join("search"))
        .unwrap_or_else(|| PathBuf::from("search"))
}

/// Helpers shared by the crate's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::doc::SearchDoc;
    use vitrine_core::ProductInput;

    /// The search view of an in-stock $10 product with this id and title.
    pub fn doc(id: &str, title: &str) -> SearchDoc {
        let input: ProductInput = serde_json::from_value(serde_json::json!({
            "id": id, "title": title, "price": "10", "currency": "USD", "inventory": {"quantity": 1}
        }))
        .expect("valid product");
        SearchDoc::from_product(&input.validate(chrono::Utc::now()).expect("valid product"))
    }

    /// A seeded stream of numbers in [0, 1) (a 64-bit LCG: enough for synthetic features).
    pub fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// `v` scaled to length 1, as the encoder returns its vectors.
    pub fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    /// Indexes `docs` (title only) into `index` as one commit at `watermark`.
    pub fn index_titles(index: &crate::lexical::LexicalIndex, docs: &[SearchDoc], watermark: i64) {
        let batch: Vec<crate::lexical::LexicalDoc<'_>> = docs
            .iter()
            .map(|d| crate::lexical::LexicalDoc {
                doc: d,
                description: "",
                attributes_text: "",
            })
            .collect();
        index.upsert(&batch).expect("upsert");
        index.commit(watermark).expect("commit");
    }

    /// The keys of the text hits for `text` under `filters` (at most 100), sorted.
    pub fn sorted_hits(
        index: &crate::lexical::LexicalIndex,
        text: &str,
        filters: &crate::filters::Filters,
    ) -> Vec<u64> {
        let mut keys: Vec<u64> = index
            .search(
                &crate::lexical::LexicalQuery {
                    text,
                    filters,
                    synonyms: &crate::synonyms::Synonyms::default(),
                },
                100,
            )
            .expect("search")
            .hits
            .into_iter()
            .map(|h| h.0)
            .collect();
        keys.sort_unstable();
        keys
    }
}
