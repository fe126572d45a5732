//! A learned ranker: gradient-boosted trees (forust) over features of each fused candidate — both
//! retrievers' scores and ranks, the exact cosine of every candidate (also those only BM25 found), and
//! query–title overlap (exact words, word prefixes, IDF-weighted shares, the most informative missing
//! word, the product-type word, word pairs, numbers, letter trigrams) and the soft word match of
//! [`crate::word_vectors`] (how well the title covers each query word by meaning). Trained on human relevance
//! judgments; used when `fusion = { method = "learned" }` and a model is loaded. The model file names
//! its features, so a model from another version is refused instead of misread.

use crate::doc::SearchDoc;
use crate::fusion::Fused;
use crate::lambdamart::{LambdaParams, RankingGroup, TreeEnsemble};
use crate::normalize::{self, is_stop_word};
use crate::quantities;
use crate::word_vectors::{self, WordTable};
use crate::SearchError;
use forust_ml::{GradientBooster, Matrix};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::sync::Arc;

/// The on-disk ranker: the feature names it expects, forust's JSON and the listwise trees.
#[derive(Serialize, Deserialize)]
struct ModelFile {
    features: Vec<String>,
    booster: String,
    /// Absent from pointwise-only models (and from files saved before listwise trees existed).
    #[serde(default)]
    listwise: Option<TreeEnsemble>,
}

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

/// A feature row by feature name, for `explain`.
pub fn named(row: &FeatureRow) -> std::collections::BTreeMap<String, f64> {
    FEATURES
        .iter()
        .zip(row)
        .map(|(name, value)| (name.to_string(), *value))
        .collect()
}

/// A trained model: a pointwise first stage (forust, squared loss on the grade) and, optionally,
/// listwise trees ([`crate::lambdamart`]) whose outputs are added to its scores.
///
/// Squared loss spends the first stage's capacity on telling the few relevant candidates from the
/// hundreds of irrelevant ones; the order within the top, which is all NDCG@10 sees, gets little of it.
/// The listwise trees start from the first stage's order and learn the corrections NDCG rewards.
#[derive(Clone)]
pub struct LearnedRanker {
    booster: Arc<GradientBooster>,
    listwise: Option<Arc<TreeEnsemble>>,
}

/// One training query's candidates and their graded labels.
pub struct TrainingGroup {
    /// Feature rows of the query's candidates.
    pub rows: Vec<FeatureRow>,
    /// Graded relevance of each row (same order).
    pub labels: Vec<f64>,
}

fn model_err(e: impl std::fmt::Display) -> SearchError {
    SearchError::Config(format!("learned ranker: {e}"))
}

fn column_major(rows: &[FeatureRow]) -> Vec<f64> {
    let cols = FEATURES.len();
    let mut out = Vec::with_capacity(rows.len() * cols);
    for c in 0..cols {
        out.extend(rows.iter().map(|r| r[c]));
    }
    out
}

fn fit(
    rows: &[FeatureRow],
    labels: &[f64],
    trees: usize,
    seed: u64,
) -> Result<GradientBooster, SearchError> {
    let data = column_major(rows);
    let matrix = Matrix::new(&data, rows.len(), FEATURES.len());
    let mut booster = GradientBooster::default()
        .set_objective_type(forust_ml::objective::ObjectiveType::SquaredLoss)
        .set_iterations(trees)
        .set_learning_rate(0.1)
        .set_max_depth(6)
        .set_min_leaf_weight(20.0)
        .set_subsample(0.8)
        .set_seed(seed)
        .set_parallel(true);
    booster
        .fit_unweighted(&matrix, labels, None)
        .map_err(model_err)?;
    Ok(booster)
}

fn predict_with(booster: &GradientBooster, rows: &[FeatureRow]) -> Vec<f64> {
    if rows.is_empty() {
        return Vec::new();
    }
    let data = column_major(rows);
    booster.predict(&Matrix::new(&data, rows.len(), FEATURES.len()), false)
}

impl LearnedRanker {
    /// Trains the first stage on rows of [`features`] with graded labels (squared loss on the grade).
    pub fn train(
        rows: &[FeatureRow],
        labels: &[f64],
        trees: usize,
        seed: u64,
    ) -> Result<Self, SearchError> {
        Ok(Self {
            booster: Arc::new(fit(rows, labels, trees, seed)?),
            listwise: None,
        })
    }

    /// A copy of this ranker with listwise trees trained on `groups`, starting from the first stage's
    /// scores; `gain` maps a label to what NDCG counts for it (the metric's own gain).
    ///
    /// The first stage scores its own training queries better than it will score new ones, so trees
    /// grown over those in-sample scores learn corrections for a ranker that serving never sees;
    /// [`Self::with_listwise_cross_fitted`] avoids that.
    pub fn with_listwise(
        &self,
        groups: &[TrainingGroup],
        gain: impl Fn(f64) -> f64,
        params: &LambdaParams,
    ) -> Self {
        let bases = groups
            .iter()
            .map(|g| predict_with(&self.booster, &g.rows))
            .collect();
        self.listwise_over(groups, bases, gain, params)
    }

    /// Like [`Self::with_listwise`], but every group's starting scores come from a first stage
    /// trained without it (`folds` first stages, each on the other folds' groups, with this ranker's
    /// `trees` and `seed`): the trees then learn on scores like the ones new queries get, and a
    /// held-out share of the groups (`params.validation_every`) can honestly choose how many to keep.
    /// The fold stages are then dropped: serving keeps the full first stage (measured: averaging the
    /// fold stages into it doubled the ranker's cost and did not change NDCG@10).
    pub fn with_listwise_cross_fitted(
        &self,
        groups: &[TrainingGroup],
        gain: impl Fn(f64) -> f64,
        params: &LambdaParams,
        folds: usize,
        trees: usize,
        seed: u64,
    ) -> Result<Self, SearchError> {
        if folds < 2 {
            return Ok(self.with_listwise(groups, gain, params));
        }
        let mut bases = vec![Vec::new(); groups.len()];
        for fold in 0..folds {
            let others = groups.iter().enumerate().filter(|(i, _)| i % folds != fold);
            let (mut rows, mut labels) = (Vec::new(), Vec::new());
            for (_, g) in others {
                rows.extend_from_slice(&g.rows);
                labels.extend_from_slice(&g.labels);
            }
            let booster = fit(&rows, &labels, trees, seed.wrapping_add(fold as u64 + 1))?;
            for (i, g) in groups.iter().enumerate().filter(|(i, _)| i % folds == fold) {
                bases[i] = predict_with(&booster, &g.rows);
            }
        }
        Ok(self.listwise_over(groups, bases, gain, params))
    }

    fn listwise_over(
        &self,
        groups: &[TrainingGroup],
        bases: Vec<Vec<f64>>,
        gain: impl Fn(f64) -> f64,
        params: &LambdaParams,
    ) -> Self {
        let ranking: Vec<RankingGroup<'_, N_FEATURES>> = groups
            .iter()
            .zip(bases)
            .filter(|(g, _)| !g.rows.is_empty())
            .map(|(g, base)| RankingGroup {
                rows: &g.rows,
                gains: g.labels.iter().map(|&l| gain(l)).collect(),
                base,
            })
            .collect();
        Self {
            booster: self.booster.clone(),
            listwise: Some(Arc::new(TreeEnsemble::train(&ranking, params))),
        }
    }

    /// Number of listwise trees (0 for a pointwise-only ranker).
    pub fn listwise_trees(&self) -> usize {
        self.listwise.as_ref().map_or(0, |l| l.len())
    }

    /// Scores candidates (higher is better): the first stage plus the listwise trees, if any.
    pub fn predict(&self, rows: &[FeatureRow]) -> Vec<f64> {
        let mut scores = predict_with(&self.booster, rows);
        if let Some(listwise) = &self.listwise {
            for (s, r) in scores.iter_mut().zip(rows) {
                *s += listwise.predict(r);
            }
        }
        scores
    }

    /// How much each feature added to this candidate's [`Self::predict`] score, by name, and the part
    /// no feature explains (the model's mean output): they sum to the score. They are Shapley values
    /// (TreeSHAP, path-dependent, as XGBoost's `pred_contribs`): a feature's credit does not depend
    /// on where in a tree it is tested. Listwise trees saved before session 30 lack the row counts
    /// this needs and are credited per split instead (Saabas). `None` for listwise trees saved
    /// before they recorded their means.
    ///
    /// Why: a merchandiser asking why a product ranks where it does needs the reasons in the
    /// score's own units, not 29 inputs to guess from.
    pub fn contributions(
        &self,
        row: &FeatureRow,
    ) -> Option<(std::collections::BTreeMap<String, f64>, f64)> {
        self.contributions_of(std::slice::from_ref(row))?.pop()
    }

    /// [`Self::contributions`] of many candidates in one pass: an explained page of 50 hits is one
    /// call into the model, not 50.
    pub fn contributions_of(
        &self,
        rows: &[FeatureRow],
    ) -> Option<Vec<(std::collections::BTreeMap<String, f64>, f64)>> {
        if rows.is_empty() {
            return Some(Vec::new());
        }
        let data = column_major(rows);
        // forust's TreeSHAP asserts on a path state that a well-formed model cannot reach; should a
        // model file reach it anyway, the answer loses its explanation rather than the request.
        let all = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.booster.predict_contributions(
                &Matrix::new(&data, rows.len(), FEATURES.len()),
                forust_ml::gradientbooster::ContributionsMethod::Shapley,
                true,
            )
        }))
        .ok()?;
        // One row of the output per candidate: each feature's share, then the bias. Exact Shapley
        // values cost a few milliseconds a candidate, so candidates are explained in parallel.
        all.par_chunks_exact(FEATURES.len() + 1)
            .zip(rows.par_iter())
            .map(|(first, row)| {
                let (mut by_feature, mut base) =
                    (first[..FEATURES.len()].to_vec(), first[FEATURES.len()]);
                if let Some(listwise) = &self.listwise {
                    let (extra, extra_base) = listwise.contributions(row)?;
                    by_feature.iter_mut().zip(extra).for_each(|(c, e)| *c += e);
                    base += extra_base;
                }
                let named = FEATURES
                    .iter()
                    .zip(by_feature)
                    .map(|(name, c)| (name.to_string(), c))
                    .collect();
                Some((named, base))
            })
            .collect()
    }

    /// Saves the model as JSON, with the feature names it was trained on.
    pub fn save(&self, path: &std::path::Path) -> Result<(), SearchError> {
        let file = ModelFile {
            features: FEATURES.iter().map(|s| s.to_string()).collect(),
            booster: self.booster.json_dump().map_err(model_err)?,
            listwise: self.listwise.as_deref().cloned(),
        };
        let json = serde_json::to_string(&file).map_err(model_err)?;
        std::fs::write(path, json).map_err(|e| SearchError::Io(path.display().to_string(), e))
    }

    /// Loads a model saved by [`Self::save`]; a model trained on other features is refused (its
    /// trees would read the wrong columns and rank garbage).
    pub fn load(path: &std::path::Path) -> Result<Self, SearchError> {
        let json = std::fs::read_to_string(path)
            .map_err(|e| SearchError::Io(path.display().to_string(), e))?;
        let file: ModelFile = serde_json::from_str(&json).map_err(|e| {
            model_err(format!(
                "{}: not a ranker saved by this version ({e}); retrain with `vitrine eval search --save-ranker`",
                path.display()
            ))
        })?;
        if file.features != FEATURES {
            return Err(model_err(format!(
                "{} was trained on features {:?}, this version computes {:?}; retrain with `vitrine eval search --save-ranker`",
                path.display(),
                file.features,
                FEATURES
            )));
        }
        Ok(Self {
            booster: Arc::new(GradientBooster::from_json(&file.booster).map_err(model_err)?),
            listwise: file.listwise.map(Arc::new),
        })
    }
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
    fn saved_models_round_trip_and_other_feature_sets_are_refused() {
        let rows: Vec<FeatureRow> = (0..200)
            .map(|i| {
                let mut r = [0.0; N_FEATURES];
                r[0] = f64::from(i % 10);
                r
            })
            .collect();
        let labels: Vec<f64> = rows.iter().map(|r| r[0] / 3.0).collect();
        let model = LearnedRanker::train(&rows, &labels, 20, 1).expect("trains");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ranker.json");
        model.save(&path).expect("saves");
        let loaded = LearnedRanker::load(&path).expect("loads");
        assert_eq!(model.predict(&rows), loaded.predict(&rows));
        let p = model.predict(&rows);
        assert!(p[9] > p[1], "learned the order of the label");
        // The explanation sums to the score and names the one feature the label follows.
        let (by_feature, base) = loaded.contributions(&rows[9]).expect("explained");
        let sum = base + by_feature.values().sum::<f64>();
        assert!((sum - p[9]).abs() < 1e-6, "{sum} vs {}", p[9]);
        assert!(by_feature["lexical_score"] > 0.0, "{by_feature:?}");
        assert!(by_feature
            .iter()
            .filter(|(name, _)| *name != "lexical_score")
            .all(|(_, c)| c.abs() < 1e-9));
        // A page explained in one call gives each candidate its own explanation, in order.
        let page = loaded.contributions_of(&rows[..12]).expect("explained");
        assert_eq!(page.len(), 12);
        for (i, (by_feature, base)) in page.iter().enumerate() {
            let sum = base + by_feature.values().sum::<f64>();
            assert!((sum - p[i]).abs() < 1e-6, "row {i}: {sum} vs {}", p[i]);
            assert_eq!(page[i], loaded.contributions(&rows[i]).expect("explained"));
        }

        let mut file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("reads")).expect("json");
        file["features"] = serde_json::json!(["lexical_score"]);
        std::fs::write(&path, file.to_string()).expect("writes");
        let err = LearnedRanker::load(&path)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("retrain"), "{err}");
        std::fs::write(&path, "{\"trees\": []}").expect("writes");
        assert!(
            LearnedRanker::load(&path).is_err(),
            "an old-format file is refused"
        );
    }

    #[test]
    fn listwise_trees_reorder_what_the_pointwise_stage_ties_and_survive_a_round_trip() {
        // Feature 0 separates relevant from irrelevant; within the relevant ones only feature 1 orders
        // them, by a small share of the label that squared loss with few trees hardly sees.
        let mut groups = Vec::new();
        for q in 0..60 {
            let mut rows = Vec::new();
            let mut labels = Vec::new();
            for i in 0..30 {
                let mut r = [0.0; N_FEATURES];
                let relevant = i < 6;
                r[0] = if relevant { 10.0 } else { 0.0 };
                r[1] = f64::from((i * 7 + q) % 10);
                rows.push(r);
                labels.push(if relevant { 1.5 + r[1] / 10.0 } else { 1.0 });
            }
            groups.push(TrainingGroup { rows, labels });
        }
        let rows: Vec<FeatureRow> = groups.iter().flat_map(|g| g.rows.clone()).collect();
        let labels: Vec<f64> = groups.iter().flat_map(|g| g.labels.clone()).collect();
        let first = LearnedRanker::train(&rows, &labels, 3, 1).expect("trains");
        let params = LambdaParams {
            rounds: 40,
            learning_rate: 0.3,
            min_rows_in_leaf: 5,
            ..LambdaParams::default()
        };
        let gain = |l: f64| (l - 1.0).max(0.0);
        let in_sample = first.with_listwise(&groups, gain, &params);
        let cross_fitted = first
            .with_listwise_cross_fitted(&groups, gain, &params, 3, 3, 1)
            .expect("trains");
        // The row a model puts on top of a group.
        let top = |model: &LearnedRanker, g: &TrainingGroup| {
            let scores = model.predict(&g.rows);
            let best = (0..scores.len())
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .expect("rows");
            g.rows[best]
        };
        for model in [&cross_fitted, &in_sample] {
            let best = top(model, &groups[1]);
            assert!(best[1] >= 8.0, "{:?}", &best[..2]);
        }
        let listwise = in_sample;
        let g = &groups[0];
        let scores = listwise.predict(&g.rows);
        let best = top(&listwise, g);
        assert!(
            best[0] == 10.0 && best[1] >= 8.0,
            "the best relevant row on top: {:?}",
            &best[..2]
        );

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ranker.json");
        listwise.save(&path).expect("saves");
        let loaded = LearnedRanker::load(&path).expect("loads");
        assert_eq!(scores, loaded.predict(&g.rows));
        cross_fitted.save(&path).expect("saves");
        let loaded = LearnedRanker::load(&path).expect("loads");
        assert_eq!(cross_fitted.predict(&g.rows), loaded.predict(&g.rows));
    }
}
