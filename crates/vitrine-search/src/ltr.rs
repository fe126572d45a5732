//! A learned ranker: gradient-boosted trees (forust) over features of each fused candidate — both
//! retrievers' scores and ranks, the exact cosine of every candidate (also those only BM25 found), and
//! query–title overlap (exact, prefix, numbers, word pairs). Trained on human relevance judgments; used
//! when `fusion = { method = "learned" }` and a model is loaded.

use crate::doc::SearchDoc;
use crate::fusion::Fused;
use crate::normalize::{self, is_stop_word};
use crate::SearchError;
use forust_ml::{GradientBooster, Matrix};

/// Names of the features, in order (for docs and model files).
pub const FEATURES: [&str; 14] = [
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
];

/// What features are computed from, per query.
pub struct QueryContext<'a> {
    /// Relevance words of the query.
    pub text: &'a str,
    /// Highest BM25 score among candidates.
    pub best_lexical: f32,
    /// Highest cosine among candidates.
    pub best_cosine: f32,
}

/// The feature vector of one candidate; `cosine` is computed for every candidate by the caller.
pub fn features(q: &QueryContext<'_>, f: &Fused, cosine: Option<f32>, d: &SearchDoc) -> [f64; 14] {
    let q_tokens: Vec<String> = normalize::tokens(q.text)
        .into_iter()
        .filter(|t| !is_stop_word(t))
        .collect();
    let t_tokens: Vec<&str> = d
        .title_padded()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let n = q_tokens.len().max(1) as f64;
    let exact = q_tokens
        .iter()
        .filter(|t| t_tokens.contains(&t.as_str()))
        .count() as f64
        / n;
    let prefix = q_tokens
        .iter()
        .filter(|t| {
            let p: String = t.chars().take(4).collect();
            t_tokens.iter().any(|w| w.starts_with(&p))
        })
        .count() as f64
        / n;
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
        exact,
        prefix,
        pairs,
        numbers_in,
        q_tokens.len() as f64,
        t_tokens.len() as f64,
        f64::from(
            q_tokens
                .first()
                .is_some_and(|t| t_tokens.first() == Some(&t.as_str())),
        ),
    ]
}

/// A trained model.
pub struct LearnedRanker {
    booster: GradientBooster,
}

fn model_err(e: impl std::fmt::Display) -> SearchError {
    SearchError::Config(format!("learned ranker: {e}"))
}

impl LearnedRanker {
    /// Trains on rows of [`features`] with graded labels (squared loss on the relevance grade).
    pub fn train(
        rows: &[[f64; 14]],
        labels: &[f64],
        trees: usize,
        seed: u64,
    ) -> Result<Self, SearchError> {
        let cols = FEATURES.len();
        let mut column_major = Vec::with_capacity(rows.len() * cols);
        for c in 0..cols {
            column_major.extend(rows.iter().map(|r| r[c]));
        }
        let matrix = Matrix::new(&column_major, rows.len(), cols);
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
        Ok(Self { booster })
    }

    /// Scores candidates (higher is better).
    pub fn predict(&self, rows: &[[f64; 14]]) -> Vec<f64> {
        if rows.is_empty() {
            return Vec::new();
        }
        let cols = FEATURES.len();
        let mut column_major = Vec::with_capacity(rows.len() * cols);
        for c in 0..cols {
            column_major.extend(rows.iter().map(|r| r[c]));
        }
        self.booster
            .predict(&Matrix::new(&column_major, rows.len(), cols), false)
    }

    /// Saves the model as JSON.
    pub fn save(&self, path: &std::path::Path) -> Result<(), SearchError> {
        let json = self.booster.json_dump().map_err(model_err)?;
        std::fs::write(path, json).map_err(|e| SearchError::Io(path.display().to_string(), e))
    }

    /// Loads a model saved by [`Self::save`].
    pub fn load(path: &std::path::Path) -> Result<Self, SearchError> {
        let json = std::fs::read_to_string(path)
            .map_err(|e| SearchError::Io(path.display().to_string(), e))?;
        Ok(Self {
            booster: GradientBooster::from_json(&json).map_err(model_err)?,
        })
    }
}
