//! A learned ranker: gradient-boosted trees (forust) over features of each fused candidate — both
//! retrievers' scores and ranks, the exact cosine of every candidate (also those only BM25 found), and
//! query–title overlap (exact words, word prefixes, IDF-weighted shares, the most informative missing
//! word, the product-type word, word pairs, numbers, letter trigrams) and the soft word match of
//! [`crate::word_vectors`] (how well the title covers each query word by meaning). Trained on human relevance
//! judgments; used when `fusion = { method = "learned" }` and a model is loaded. The model file names
//! its features, so a model from another version is refused instead of misread.

use crate::doc::SearchDoc;
use crate::fusion::Fused;
use crate::normalize::{self, is_stop_word};
use crate::quantities;
use crate::word_vectors::{self, WordTable};
use rustc_hash::FxHashMap;
use std::cell::RefCell;

mod ranker;

pub use ranker::{
    ranker_feedback_set, LearnedRanker, TrainingGroup, RANKER_CONTEXT_FEATURES,
    RANKER_FEEDBACK_DEPTH,
};

/// Names of the features, in order (for docs and model files).
pub const FEATURES: [&str; N_FEATURES] = [
    "lexical_score",
    "lexical_relative",
    "lexical_log_rank",
    "cosine",
    "cosine_gap_to_best",
    "semantic_log_rank",
    "rrf",
    "query_terms_in_title",
    "query_prefixes_in_title",
    "query_pairs_in_title",
    "query_numbers_in_title",
    "query_terms",
    "title_terms",
    "title_starts_with_query_term",
    "idf_share_of_query_terms_in_title",
    "idf_share_of_query_prefixes_in_title",
    "highest_idf_of_a_missing_query_term",
    "last_query_word_in_title",
    "title_words_matched_by_query",
    "letter_trigram_jaccard",
    "share_of_query_words_spelling_corrected",
    "query_sizes_in_title",
    "cosine_to_other_top_results",
    "title_consensus_with_top_results",
    "soft_word_coverage",
    "soft_word_coverage_worst",
    "idf_share_soft_word_coverage",
    "soft_last_query_word",
    "soft_title_cover",
];

/// Length of a feature vector.
pub const N_FEATURES: usize = 29;

/// Columns of [`ListSignals`] in a feature row (`cosine_to_other_top_results`,
/// `title_consensus_with_top_results`).
const LIST_COSINE: usize = 22;
const LIST_CONSENSUS: usize = 23;

/// What the rest of the candidate list says about one candidate ([`crate::list_context`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ListSignals {
    /// Cosine with the sum of the other top results' vectors (0 without vectors).
    pub cosine_to_top: f64,
    /// Mean share of the other top results' titles holding each of this title's words.
    pub title_consensus: f64,
}

/// One candidate's features.
pub type FeatureRow = [f64; N_FEATURES];

/// What features are computed from, per query (built once, shared by all its candidates).
pub struct QueryContext {
    /// Relevance words of the query, stop words removed.
    tokens: Vec<String>,
    /// Inverse document frequency of each token in product titles (same order).
    idf: Vec<f64>,
    /// Letter trigrams of the query, spaces removed (so "sheetrock" meets "sheet rock").
    trigrams: Vec<[char; 3]>,
    /// Highest BM25 score among candidates.
    best_lexical: f32,
    /// Highest cosine among candidates.
    best_cosine: f32,
    /// Share of the query's words the speller replaced: a corrected word that matches a title
    /// perfectly is weaker evidence than a typed one (the correction may be wrong).
    corrected_share: f64,
    /// The sizes and other numbers the query states, as values ([`crate::quantities`]).
    sizes: Vec<f64>,
    /// Each title word's soft cover ([`word_vectors::title_cover`]), shared by the query's candidates.
    title_word_cover: RefCell<FxHashMap<Box<str>, f64>>,
}

impl QueryContext {
    /// Tokenises the query once; `idf` gives each token's title IDF (the text index knows it).
    pub fn new(
        text: &str,
        idf: impl Fn(&[String]) -> Vec<f64>,
        best_lexical: f32,
        best_cosine: f32,
    ) -> Self {
        let tokens: Vec<String> = normalize::tokens(text)
            .into_iter()
            .filter(|t| !is_stop_word(t))
            .collect();
        let mut idf = idf(&tokens);
        idf.resize(tokens.len(), 1.0);
        Self {
            sizes: quantities::values(text),
            trigrams: trigrams(&tokens.concat()),
            tokens,
            idf,
            best_lexical,
            best_cosine,
            corrected_share: 0.0,
            title_word_cover: RefCell::default(),
        }
    }

    /// Notes that `words` of the query were spelling corrections ([`crate::speller`]).
    pub fn with_corrections(mut self, words: usize) -> Self {
        self.corrected_share = words as f64 / self.tokens.len().max(1) as f64;
        self
    }
}

fn trigrams(letters: &str) -> Vec<[char; 3]> {
    let chars: Vec<char> = letters.chars().collect();
    let mut out: Vec<[char; 3]> = chars.windows(3).map(|w| [w[0], w[1], w[2]]).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether a title word continues the query word's first four letters (a cheap stem match: "drill"
/// and "drilling", "cabinet" and "cabinets").
fn prefix_matches(query_word: &str, title_word: &str) -> bool {
    let end = query_word
        .char_indices()
        .nth(4)
        .map_or(query_word.len(), |(i, _)| i);
    title_word.starts_with(&query_word[..end])
}

/// The feature vector of one candidate; `cosine` is computed for every candidate by the caller.
pub fn features(
    q: &QueryContext,
    f: &Fused,
    cosine: Option<f32>,
    list: ListSignals,
    d: &SearchDoc,
    words: Option<&WordTable>,
) -> FeatureRow {
    let q_tokens = &q.tokens;
    let t_tokens: Vec<&str> = d
        .title_padded()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let n = q_tokens.len().max(1) as f64;
    let exact_hits: Vec<bool> = q_tokens
        .iter()
        .map(|t| t_tokens.contains(&t.as_str()))
        .collect();
    let prefix_hits: Vec<bool> = q_tokens
        .iter()
        .map(|t| t_tokens.iter().any(|w| prefix_matches(t, w)))
        .collect();
    let share = |hits: &[bool]| hits.iter().filter(|h| **h).count() as f64 / n;
    let total_idf: f64 = q.idf.iter().sum();
    let idf_share = |hits: &[bool]| {
        if total_idf > 0.0 {
            hits.iter()
                .zip(&q.idf)
                .filter(|(h, _)| **h)
                .map(|(_, i)| i)
                .sum::<f64>()
                / total_idf
        } else {
            0.0
        }
    };
    let missing_idf = prefix_hits
        .iter()
        .zip(&q.idf)
        .filter(|(h, _)| !**h)
        .map(|(_, i)| *i)
        .fold(0.0, f64::max);
    // The product type is usually the query's last word ("cordless drill", "toilet seat").
    let last_word_at = q_tokens
        .iter()
        .rposition(|t| !t.chars().any(|c| c.is_ascii_digit()));
    let last_word = last_word_at.map_or(-1.0, |i| f64::from(prefix_hits[i]));
    let title_words = t_tokens.iter().filter(|w| !is_stop_word(w)).count();
    let title_matched = t_tokens
        .iter()
        .filter(|w| !is_stop_word(w) && q_tokens.iter().any(|t| prefix_matches(t, w)))
        .count() as f64
        / title_words.max(1) as f64;
    let title_trigrams = trigrams(&t_tokens.concat());
    let common = q
        .trigrams
        .iter()
        .filter(|g| title_trigrams.binary_search(g).is_ok())
        .count();
    let union = q.trigrams.len() + title_trigrams.len() - common;
    let jaccard = if union == 0 {
        0.0
    } else {
        common as f64 / union as f64
    };
    let pairs = if q_tokens.len() < 2 {
        -1.0
    } else {
        q_tokens
            .windows(2)
            .filter(|w| normalize::contains_phrase(d.title_padded(), &format!("{} {}", w[0], w[1])))
            .count() as f64
            / (q_tokens.len() - 1) as f64
    };
    let numbers: Vec<&String> = q_tokens
        .iter()
        .filter(|t| t.chars().any(|c| c.is_ascii_digit()))
        .collect();
    let numbers_in = if numbers.is_empty() {
        -1.0
    } else {
        numbers
            .iter()
            .filter(|t| t_tokens.contains(&t.as_str()))
            .count() as f64
            / numbers.len() as f64
    };
    let soft = words.map_or_else(
        || prefix_hits.iter().map(|h| f64::from(*h)).collect(),
        |table| word_vectors::soft_matches(table, q_tokens, &prefix_hits, &t_tokens),
    );
    let soft_mean = if q_tokens.is_empty() {
        -1.0
    } else {
        soft.iter().sum::<f64>() / n
    };
    let soft_worst = if q_tokens.is_empty() {
        -1.0
    } else {
        soft.iter().copied().fold(1.0, f64::min)
    };
    let soft_last = last_word_at.map_or(-1.0, |i| soft[i]);
    let cover = words.map_or(-1.0, |table| {
        word_vectors::title_cover(
            table,
            q_tokens,
            &t_tokens,
            |w| q_tokens.iter().any(|t| prefix_matches(t, w)),
            &q.title_word_cover,
        )
    });
    let soft_idf = if total_idf > 0.0 {
        soft.iter().zip(&q.idf).map(|(s, i)| s * i).sum::<f64>() / total_idf
    } else {
        0.0
    };
    let lex = f.lexical.map_or(0.0, |l| l.0 as f64);
    let cos = cosine.or(f.semantic.map(|s| s.0)).map_or(0.0, f64::from);
    [
        lex,
        if q.best_lexical > 0.0 {
            lex / q.best_lexical as f64
        } else {
            0.0
        },
        f.lexical.map_or(7.0, |l| (l.1 as f64).ln()),
        cos,
        cos - q.best_cosine as f64,
        f.semantic.map_or(7.0, |s| (s.1 as f64).ln()),
        f.lexical.map_or(0.0, |l| 1.0 / (60.0 + l.1 as f64))
            + f.semantic.map_or(0.0, |s| 1.0 / (60.0 + s.1 as f64)),
        share(&exact_hits),
        share(&prefix_hits),
        pairs,
        numbers_in,
        q_tokens.len() as f64,
        t_tokens.len() as f64,
        f64::from(
            q_tokens
                .first()
                .is_some_and(|t| t_tokens.first() == Some(&t.as_str())),
        ),
        idf_share(&exact_hits),
        idf_share(&prefix_hits),
        missing_idf,
        last_word,
        title_matched,
        jaccard,
        q.corrected_share,
        if q.sizes.is_empty() {
            -1.0
        } else {
            quantities::share_matched(&q.sizes, &quantities::values(&d.title))
        },
        list.cosine_to_top,
        list.title_consensus,
        soft_mean,
        soft_worst,
        soft_idf,
        soft_last,
        cover,
    ]
}

/// A feature row by feature name, for `explain`, with the ranker's context when its model read one
/// ([`RANKER_CONTEXT_FEATURES`]).
pub fn named(
    row: &FeatureRow,
    context: Option<&ListSignals>,
) -> std::collections::BTreeMap<String, f64> {
    let context = context.map(|c| [c.cosine_to_top, c.title_consensus]);
    FEATURES
        .iter()
        .zip(row)
        .chain(RANKER_CONTEXT_FEATURES.iter().zip(context.iter().flatten()))
        .map(|(name, value)| (name.to_string(), *value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(title: &str) -> SearchDoc {
        crate::test_support::doc("P1", title)
    }

    fn row(query: &str, title: &str, idf: &[f64]) -> FeatureRow {
        let idf = idf.to_vec();
        let q = QueryContext::new(query, move |_| idf.clone(), 10.0, 0.9);
        let f = Fused {
            key: 1,
            score: 0.0,
            lexical: Some((5.0, 3)),
            semantic: None,
        };
        features(&q, &f, Some(0.5), ListSignals::default(), &doc(title), None)
    }

    fn at(row: &FeatureRow, name: &str) -> f64 {
        row[FEATURES
            .iter()
            .position(|f| *f == name)
            .expect("known feature")]
    }

    #[test]
    fn missing_the_rare_word_costs_more_than_missing_the_common_one() {
        // "hampton" is rare (idf 8), "white" common (idf 1).
        let idf = [1.0, 8.0, 3.0];
        let has_rare = row(
            "white hampton cabinet",
            "Hampton Bay Cabinets in Natural",
            &idf,
        );
        let has_common = row("white hampton cabinet", "White Kitchen Cabinets", &idf);
        let share = "idf_share_of_query_prefixes_in_title";
        assert!(at(&has_rare, share) > at(&has_common, share));
        let missing = "highest_idf_of_a_missing_query_term";
        assert_eq!(at(&has_rare, missing), 1.0);
        assert_eq!(at(&has_common, missing), 8.0);
        assert_eq!(
            at(&has_rare, "last_query_word_in_title"),
            1.0,
            "cabinet ~ cabinets"
        );
        assert_eq!(at(&has_rare, "query_terms"), 3.0);
    }

    #[test]
    fn letter_trigrams_meet_across_a_split_word() {
        let joined = row("sheetrock", "Sheet Rock Drywall Panel", &[5.0]);
        let other = row("sheetrock", "Garden Hose Reel", &[5.0]);
        let j = "letter_trigram_jaccard";
        assert!(at(&joined, j) > 0.3, "{}", at(&joined, j));
        assert_eq!(at(&other, j), 0.0);
    }

    #[test]
    fn the_list_signal_columns_are_the_list_context_features() {
        assert_eq!(FEATURES[LIST_COSINE], "cosine_to_other_top_results");
        assert_eq!(FEATURES[LIST_CONSENSUS], "title_consensus_with_top_results");
    }
}
