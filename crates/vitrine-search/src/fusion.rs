//! Hybrid fusion of lexical and semantic candidate lists. Two methods, chosen per engine by the
//! homedepot evaluation (`vitrine eval search` prints both): reciprocal-rank fusion, which needs no score
//! calibration, and a weighted sum of min-max normalised scores, which keeps score gaps.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How the two lists are combined.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Fusion {
    /// Σ 1 / (k + rank).
    Rrf {
        /// Damping constant (60 in the original paper).
        k: f32,
    },
    /// w · lexical + (1 − w) · semantic, each min-max normalised over its list.
    Weighted {
        /// Weight of the lexical score.
        lexical_weight: f32,
    },
    /// The learned ranker ([`crate::ltr`]) re-orders the RRF union; RRF when no model is loaded.
    Learned,
}

impl Default for Fusion {
    /// The best untrained fusion on the Home Depot judgments (docs/search.md): weighted, lexical 0.7.
    fn default() -> Self {
        Fusion::Weighted {
            lexical_weight: 0.7,
        }
    }
}

/// One fused candidate with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused {
    /// Product key.
    pub key: u64,
    /// Fused relevance (higher is better).
    pub score: f32,
    /// BM25 score and 1-based rank in the lexical list.
    pub lexical: Option<(f32, usize)>,
    /// Cosine similarity and 1-based rank in the semantic list.
    pub semantic: Option<(f32, usize)>,
}

fn min_max(list: &[(u64, f32)]) -> impl Fn(f32) -> f32 {
    let max = list.iter().map(|x| x.1).fold(f32::NEG_INFINITY, f32::max);
    let min = list.iter().map(|x| x.1).fold(f32::INFINITY, f32::min);
    let span = max - min;
    move |s| {
        if span > 1e-9 {
            (s - min) / span
        } else {
            1.0
        }
    }
}

/// Combines the lists (each best first) into one, best first; ties keep the lexical order.
pub fn fuse(lexical: &[(u64, f32)], semantic: &[(u64, f32)], how: Fusion) -> Vec<Fused> {
    let mut by_key: HashMap<u64, Fused> = HashMap::with_capacity(lexical.len() + semantic.len());
    for (rank, (key, s)) in lexical.iter().enumerate() {
        by_key.entry(*key).or_insert(Fused {
            key: *key,
            score: 0.0,
            lexical: Some((*s, rank + 1)),
            semantic: None,
        });
    }
    for (rank, (key, s)) in semantic.iter().enumerate() {
        let e = by_key.entry(*key).or_insert(Fused {
            key: *key,
            score: 0.0,
            lexical: None,
            semantic: None,
        });
        if e.semantic.is_none() {
            e.semantic = Some((*s, rank + 1));
        }
    }
    let lex_norm = min_max(lexical);
    let sem_norm = min_max(semantic);
    let mut out: Vec<Fused> = by_key
        .into_values()
        .map(|mut f| {
            f.score = match how {
                Fusion::Learned => {
                    f.lexical.map_or(0.0, |(_, r)| 1.0 / (60.0 + r as f32))
                        + f.semantic.map_or(0.0, |(_, r)| 1.0 / (60.0 + r as f32))
                }
                Fusion::Rrf { k } => {
                    f.lexical.map_or(0.0, |(_, r)| 1.0 / (k + r as f32))
                        + f.semantic.map_or(0.0, |(_, r)| 1.0 / (k + r as f32))
                }
                Fusion::Weighted { lexical_weight: w } => {
                    w * f.lexical.map_or(0.0, |(s, _)| lex_norm(s))
                        + (1.0 - w) * f.semantic.map_or(0.0, |(s, _)| sem_norm(s))
                }
            };
            f
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(rank_of(a).cmp(&rank_of(b)))
            .then(a.key.cmp(&b.key))
    });
    out
}

fn rank_of(f: &Fused) -> usize {
    f.lexical
        .map(|l| l.1)
        .or(f.semantic.map(|s| s.1 + 100_000))
        .unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_wins_and_sources_are_kept() {
        let lex = [(1, 10.0), (2, 8.0), (3, 1.0)];
        let sem = [(2, 0.9), (4, 0.8), (1, 0.3)];
        for how in [Fusion::Rrf { k: 60.0 }, Fusion::default()] {
            let f = fuse(&lex, &sem, how);
            assert_eq!(f.len(), 4);
            assert_eq!(f[0].key, 2, "{how:?}: in both lists near the top");
            let four = f.iter().find(|x| x.key == 4).unwrap();
            assert_eq!(four.lexical, None);
            assert_eq!(four.semantic, Some((0.8, 2)));
        }
    }

    #[test]
    fn one_empty_list_keeps_the_other_order() {
        let lex = [(5, 3.0), (6, 2.0), (7, 1.0)];
        let f = fuse(&lex, &[], Fusion::default());
        assert_eq!(f.iter().map(|x| x.key).collect::<Vec<_>>(), [5, 6, 7]);
        let f = fuse(&[], &[(9, 0.5), (8, 0.4)], Fusion::Rrf { k: 60.0 });
        assert_eq!(f.iter().map(|x| x.key).collect::<Vec<_>>(), [9, 8]);
    }
}
