//! Relevance evaluation on the Home Depot judgments (protocol in `../shared/datasets/README.md`): every
//! product title is indexed, each sampled query retrieves from the whole catalog, and NDCG@10 (gain =
//! relevance − 1 for judged products, 0 otherwise) and Recall@100 (of products rated ≥ 2.5) are averaged.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::collections::HashMap;
use std::path::Path;

/// One evaluation query and its judgments.
#[derive(Debug, Clone)]
pub struct JudgedQuery {
    /// The shopper's words.
    pub text: String,
    /// Product id → mean human relevance (1.0–3.0).
    pub judgments: HashMap<String, f64>,
}

/// The Home Depot data set.
#[derive(Debug, Clone)]
pub struct HomeDepot {
    /// (product id, title).
    pub products: Vec<(String, String)>,
    /// Queries with at least one judged product of relevance above 1.
    pub queries: Vec<JudgedQuery>,
}

/// Why the data set could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct DatasetError {
    /// File.
    pub path: String,
    /// What went wrong.
    pub reason: String,
}

fn read_csv(path: &Path) -> Result<Vec<csv::StringRecord>, DatasetError> {
    let err = |reason: String| DatasetError {
        path: path.display().to_string(),
        reason,
    };
    let mut r = csv::Reader::from_path(path).map_err(|e| err(e.to_string()))?;
    r.records()
        .enumerate()
        .map(|(i, rec)| rec.map_err(|e| err(format!("record {}: {e}", i + 1))))
        .collect()
}

impl HomeDepot {
    /// Reads `products.csv` and `judgments_dev.csv` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, DatasetError> {
        let products = read_csv(&dir.join("products.csv"))?
            .into_iter()
            .filter_map(|r| Some((r.get(0)?.to_string(), r.get(1)?.to_string())))
            .collect();
        let mut by_query: HashMap<String, HashMap<String, f64>> = HashMap::new();
        let path = dir.join("judgments_dev.csv");
        for (i, r) in read_csv(&path)?.into_iter().enumerate() {
            let (Some(pid), Some(term), Some(rel)) = (r.get(1), r.get(3), r.get(4)) else {
                return Err(DatasetError {
                    path: path.display().to_string(),
                    reason: format!("record {} has fewer than 5 columns", i + 1),
                });
            };
            let rel: f64 = rel.parse().map_err(|_| DatasetError {
                path: path.display().to_string(),
                reason: format!("record {}: relevance {rel:?} is not a number", i + 1),
            })?;
            by_query
                .entry(term.to_string())
                .or_default()
                .insert(pid.to_string(), rel);
        }
        let mut queries: Vec<JudgedQuery> = by_query
            .into_iter()
            .filter(|(_, j)| j.values().any(|r| *r > 1.0))
            .map(|(text, judgments)| JudgedQuery { text, judgments })
            .collect();
        queries.sort_by(|a, b| a.text.cmp(&b.text));
        Ok(Self { products, queries })
    }

    /// A reproducible random sample of `n` queries (all when `n` is larger than the set).
    pub fn sample(&self, n: usize, seed: u64) -> Vec<JudgedQuery> {
        let mut q = self.queries.clone();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        q.shuffle(&mut rng);
        q.truncate(n);
        q
    }
}

/// NDCG@k with gain = relevance − 1 for judged products and 0 for unjudged ones.
pub fn ndcg_at(ranked: &[String], judgments: &HashMap<String, f64>, k: usize) -> f64 {
    let gain = |id: &String| judgments.get(id).map_or(0.0, |r| (r - 1.0).max(0.0));
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, id)| gain(id) / (i as f64 + 2.0).log2())
        .sum();
    let mut ideal: Vec<f64> = judgments.values().map(|r| (r - 1.0).max(0.0)).collect();
    ideal.sort_by(|a, b| b.total_cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| g / (i as f64 + 2.0).log2())
        .sum();
    if idcg > 0.0 {
        dcg / idcg
    } else {
        0.0
    }
}

/// Share of products rated ≥ `threshold` found in the first `k`; `None` when the query has none.
pub fn recall_at(
    ranked: &[String],
    judgments: &HashMap<String, f64>,
    k: usize,
    threshold: f64,
) -> Option<f64> {
    let relevant: Vec<&String> = judgments
        .iter()
        .filter(|(_, r)| **r >= threshold)
        .map(|(id, _)| id)
        .collect();
    if relevant.is_empty() {
        return None;
    }
    let top: std::collections::HashSet<&String> = ranked.iter().take(k).collect();
    Some(relevant.iter().filter(|id| top.contains(*id)).count() as f64 / relevant.len() as f64)
}

/// Mean NDCG@10 and Recall@100 of one method.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RelevanceScores {
    /// Mean NDCG@10.
    pub ndcg_at_10: f64,
    /// Mean Recall@100 (queries with at least one product rated ≥ 2.5).
    pub recall_at_100: f64,
    /// Queries evaluated.
    pub queries: usize,
    /// Queries with a recall figure.
    pub recall_queries: usize,
}

/// Accumulates per-query figures.
#[derive(Debug, Default)]
pub struct Accumulator {
    ndcg: Vec<f64>,
    recall: Vec<f64>,
}

impl Accumulator {
    /// Adds one query's ranking.
    pub fn add(&mut self, ranked: &[String], judgments: &HashMap<String, f64>) {
        self.ndcg.push(ndcg_at(ranked, judgments, 10));
        if let Some(r) = recall_at(ranked, judgments, 100, 2.5) {
            self.recall.push(r);
        }
    }

    /// Per-query NDCG@10, for paired comparisons.
    pub fn ndcg_values(&self) -> &[f64] {
        &self.ndcg
    }

    /// The means.
    pub fn scores(&self) -> RelevanceScores {
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        RelevanceScores {
            ndcg_at_10: mean(&self.ndcg),
            recall_at_100: mean(&self.recall),
            queries: self.ndcg.len(),
            recall_queries: self.recall.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn j(pairs: &[(&str, f64)]) -> HashMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn ndcg_matches_hand_computation() {
        let judgments = j(&[("a", 3.0), ("b", 2.0), ("c", 1.0)]);
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!((ndcg_at(&ids(&["a", "b"]), &judgments, 10) - 1.0).abs() < 1e-12);
        // b first: (1/1 + 2/log2(3)) / (2/1 + 1/log2(3))
        let expected = (1.0 + 2.0 / 3f64.log2()) / (2.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at(&ids(&["b", "a"]), &judgments, 10) - expected).abs() < 1e-12);
        // Unjudged products count as zero gain.
        assert!(ndcg_at(&ids(&["x", "a"]), &judgments, 10) < 1.0);
        assert_eq!(ndcg_at(&ids(&["x"]), &j(&[("c", 1.0)]), 10), 0.0);
    }

    #[test]
    fn recall_counts_only_highly_rated() {
        let judgments = j(&[("a", 3.0), ("b", 2.67), ("c", 2.0)]);
        let ranked = vec!["a".to_string(), "c".to_string()];
        assert_eq!(recall_at(&ranked, &judgments, 100, 2.5), Some(0.5));
        assert_eq!(recall_at(&ranked, &j(&[("c", 2.0)]), 100, 2.5), None);
    }
}
