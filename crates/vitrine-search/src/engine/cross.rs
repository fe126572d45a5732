//! The cross-encoder stage: after the learned ranker, the top of the list is read again by a model that
//! sees the query and each title together ([`vitrine_models::CrossEncoder`]), and re-ordered by a blend of
//! both scores.
//!
//! Why a blend and not the cross-encoder alone: the ranker knows things the cross-encoder does not (both
//! retrievers' ranks, the rest of the list, sizes as values), and on the Home Depot judgments neither
//! alone is best (docs/search.md, session 24). Both scores are standardised within the list so one share
//! weighs them whatever their scales.
//!
//! Invariant: only the first `top` candidates move, and they stay above the rest: they are given back the
//! ranker's own scores of those positions, in their new order.

use super::SearchEngine;
use crate::fusion::Fused;
use std::sync::Arc;
use vitrine_models::CrossEncoder;

/// A cross-encoder and how it is used.
#[derive(Clone)]
pub struct CrossStage {
    /// The model.
    pub model: CrossEncoder,
    /// Candidates at the top of the ranker's list it re-orders (each costs one forward pass).
    pub top: usize,
    /// Weight of the cross-encoder's standardised score against the ranker's (0: ranker only, 1: the
    /// cross-encoder only).
    pub share: f64,
}

/// Scores standardised within one list (mean 0, deviation 1), so two scorers on different scales can be
/// mixed by one weight.
pub fn standardised(scores: &[f64]) -> Vec<f64> {
    let n = scores.len().max(1) as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
    let sd = var.sqrt().max(1e-9);
    scores.iter().map(|s| (s - mean) / sd).collect()
}

/// The order (indexes into the lists) of `(1 − share)·ranker + share·cross`, both standardised; ties keep
/// the ranker's order.
pub fn blend_order(ranker: &[f64], cross: &[f32], share: f64) -> Vec<usize> {
    let r = standardised(ranker);
    let c = standardised(&cross.iter().map(|&x| f64::from(x)).collect::<Vec<_>>());
    let mut order: Vec<(f64, usize)> = r
        .iter()
        .zip(&c)
        .enumerate()
        .map(|(i, (r, c))| ((1.0 - share) * r + share * c, i))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    order.into_iter().map(|(_, i)| i).collect()
}

impl SearchEngine {
    /// Installs (or, with `None`, removes) the cross-encoder stage used after the learned ranker; cached
    /// answers are dropped.
    pub fn set_cross_encoder(&self, stage: Option<CrossStage>) {
        if let Ok(mut c) = self.cross.write() {
            *c = stage.map(Arc::new);
        }
        self.invalidate();
    }

    /// Re-orders the head of `fused` (sorted by the ranker) with the installed stage, if any. An error
    /// leaves the ranker's order and is reported to the caller as a notice.
    pub(super) async fn cross_rerank(
        &self,
        query: &str,
        fused: &mut [Fused],
    ) -> Result<(), String> {
        let Some(stage) = self.cross.read().ok().and_then(|c| c.clone()) else {
            return Ok(());
        };
        let head = fused.len().min(stage.top);
        if head < 2 || query.trim().is_empty() {
            return Ok(());
        }
        let titles: Vec<String> = {
            let docs = self.docs.read().map_err(|_| "search state unavailable")?;
            fused[..head]
                .iter()
                .map(|f| {
                    docs.get(&f.key)
                        .map_or_else(String::new, |d| d.title.clone())
                })
                .collect()
        };
        let query = query.to_string();
        let model = stage.model.clone();
        let cross = tokio::task::spawn_blocking(move || model.score_blocking(&query, &titles))
            .await
            .map_err(|e| format!("cross-encoder task: {e}"))?
            .map_err(|e| e.to_string())?;
        let ranker: Vec<f64> = fused[..head].iter().map(|f| f64::from(f.score)).collect();
        let order = blend_order(&ranker, &cross, stage.share);
        let before: Vec<Fused> = fused[..head].to_vec();
        for (slot, &i) in order.iter().enumerate() {
            fused[slot] = Fused {
                score: before[slot].score,
                ..before[i].clone()
            };
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_moves_the_order_from_ranker_to_cross_encoder() {
        let ranker = [3.0, 2.0, 1.0];
        let cross = [0.0f32, 1.0, 5.0];
        assert_eq!(blend_order(&ranker, &cross, 0.0), [0, 1, 2]);
        assert_eq!(blend_order(&ranker, &cross, 1.0), [2, 1, 0]);
        // Standardised, the ranker's scores are (1.22, 0, −1.22) and the cross-encoder's about
        // (−0.93, −0.46, 1.39): an even blend gives (0.15, −0.23, 0.08).
        assert_eq!(blend_order(&ranker, &cross, 0.5), [0, 2, 1]);
    }

    #[test]
    fn equal_scores_standardise_to_zero_without_dividing_by_zero() {
        assert_eq!(standardised(&[2.0, 2.0]), [0.0, 0.0]);
    }
}
