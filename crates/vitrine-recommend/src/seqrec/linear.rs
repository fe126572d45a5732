//! The trained sequence model: a closed-form linear item-to-item model over position-decayed histories.
//!
//! Why this and not a transformer: on this 2-core CPU a SASRec-style model needs many epochs of
//! back-propagation through a softmax over every item, while this model is one Cholesky solve (seconds for
//! 12k items) and measured better on the published full-ranking protocol (see `docs/recommend.md`). It
//! follows SLIST (Choi et al., WWW 2021): two least-squares objectives share one weight matrix `B`:
//!
//! - *transitions*: the decayed history before each position predicts the item at that position
//!   (`‖Y − X B‖²`), which captures order ("after the cleanser comes the toner");
//! - *whole-sequence similarity*: each history reconstructs itself (`‖S − S B‖²`, EASE-like), which
//!   captures taste regardless of order.
//!
//! `B = (α SᵀS + (1−α) XᵀX + λI)⁻¹ (α SᵀS + (1−α) XᵀY)`. Scoring a shopper is `x · B` for their decayed
//! recent items; in production the rows are pruned to their strongest entries ([`LinearSeqModel::prune`]).

use super::{NextItemScorer, Sequence};
use faer::linalg::solvers::Solve;
use faer::{Mat, Side};
use serde::{Deserialize, Serialize};

/// Hyper-parameters of the linear sequence model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearSeqConfig {
    /// Weight of the whole-sequence (similarity) objective, 0–1; the rest goes to transitions.
    pub alpha: f32,
    /// Ridge regularisation (larger: smoother, favours popular items less).
    pub lambda: f32,
    /// Position decay of inputs while training: an item `d` steps back weighs `exp(−d/tau)`.
    pub tau_train: f32,
    /// Position decay of the shopper's items while scoring.
    pub tau_infer: f32,
    /// Most recent items used as input.
    pub max_inputs: usize,
}

impl Default for LinearSeqConfig {
    fn default() -> Self {
        Self {
            alpha: 0.3,
            lambda: 10.0,
            tau_train: 2.0,
            tau_infer: 2.0,
            max_inputs: 20,
        }
    }
}

/// Errors fitting the model.
#[derive(Debug, thiserror::Error)]
pub enum LinearSeqError {
    /// Dense training needs `items²` floats several times over.
    #[error("{items} items is too many for the dense solve (limit {limit}); train on the most active items")]
    TooManyItems {
        /// Items requested.
        items: usize,
        /// Limit.
        limit: usize,
    },
    /// The regularised Gram matrix was not positive definite (λ must be > 0).
    #[error("the regularised Gram matrix is not positive definite; increase lambda")]
    NotPositiveDefinite,
}

/// Largest item count the dense solve accepts (≈ 3 × 1.6 GB of f32 at the limit).
pub const MAX_DENSE_ITEMS: usize = 20_000;

/// A fitted model: row `i` holds how much having seen item `i` recently predicts every other item.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearSeqModel {
    /// The configuration it was fitted with.
    pub config: LinearSeqConfig,
    items: usize,
    /// Either dense rows (`items × items`, row-major) or pruned rows.
    rows: Rows,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Rows {
    Dense(Vec<f32>),
    Sparse(Vec<Vec<(u32, f32)>>),
}

/// Decayed weights of the last `max_inputs` items of `history`, most recent weighing 1.
pub fn decayed_inputs(history: &[u32], tau: f32, max_inputs: usize) -> Vec<(u32, f32)> {
    let start = history.len().saturating_sub(max_inputs);
    let last = history.len().saturating_sub(1);
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(history.len() - start);
    for (pos, &item) in history.iter().enumerate().skip(start) {
        let weight = (-((last - pos) as f32) / tau.max(1e-3)).exp();
        match out.iter_mut().find(|(i, _)| *i == item) {
            Some(entry) => entry.1 += weight,
            None => out.push((item, weight)),
        }
    }
    out
}

impl LinearSeqModel {
    /// Fits the model on `sequences` of dense item indices `< items`; `progress` is called with the
    /// share done (0–1) between the stages.
    pub fn fit(
        sequences: &[Sequence],
        items: usize,
        config: LinearSeqConfig,
        progress: &mut dyn FnMut(f32),
    ) -> Result<Self, LinearSeqError> {
        if items > MAX_DENSE_ITEMS {
            return Err(LinearSeqError::TooManyItems {
                items,
                limit: MAX_DENSE_ITEMS,
            });
        }
        let mut gram = Mat::<f32>::zeros(items, items);
        let mut target = Mat::<f32>::zeros(items, items);
        let alpha = config.alpha.clamp(0.0, 1.0);
        for (n, seq) in sequences.iter().enumerate() {
            if alpha > 0.0 && seq.len() > 1 {
                let whole = decayed_inputs(seq, f32::INFINITY, usize::MAX);
                for &(a, wa) in &whole {
                    for &(b, wb) in &whole {
                        let v = alpha * wa * wb;
                        gram[(a as usize, b as usize)] += v;
                        target[(a as usize, b as usize)] += v;
                    }
                }
            }
            for t in 1..seq.len() {
                let x = decayed_inputs(&seq[..t], config.tau_train, config.max_inputs);
                let y = seq[t] as usize;
                for &(a, wa) in &x {
                    for &(b, wb) in &x {
                        gram[(a as usize, b as usize)] += (1.0 - alpha) * wa * wb;
                    }
                    target[(a as usize, y)] += (1.0 - alpha) * wa;
                }
            }
            if n.is_multiple_of(4096) {
                progress(0.2 * n as f32 / sequences.len().max(1) as f32);
            }
        }
        for i in 0..items {
            gram[(i, i)] += config.lambda;
        }
        progress(0.2);
        let llt = gram
            .llt(Side::Lower)
            .map_err(|_| LinearSeqError::NotPositiveDefinite)?;
        drop(gram);
        progress(0.4);
        let solved = llt.solve(&target);
        drop(target);
        progress(0.9);
        let mut rows = vec![0f32; items * items];
        for i in 0..items {
            for j in 0..items {
                rows[i * items + j] = solved[(i, j)];
            }
        }
        progress(1.0);
        Ok(Self {
            config,
            items,
            rows: Rows::Dense(rows),
        })
    }

    /// Number of items the model knows.
    pub fn items(&self) -> usize {
        self.items
    }

    /// Keeps only each row's `keep` largest entries, so a 20k-item model takes megabytes, not gigabytes.
    pub fn prune(&mut self, keep: usize) {
        if let Rows::Dense(dense) = &self.rows {
            let items = self.items;
            let sparse = (0..items)
                .map(|i| top_entries(&dense[i * items..(i + 1) * items], keep))
                .collect();
            self.rows = Rows::Sparse(sparse);
        }
    }

    /// Adds `weight × row(item)` into `scores`.
    pub fn add_row(&self, item: u32, weight: f32, scores: &mut [f32]) {
        let i = item as usize;
        if i >= self.items {
            return;
        }
        match &self.rows {
            Rows::Dense(dense) => {
                let row = &dense[i * self.items..(i + 1) * self.items];
                for (s, r) in scores.iter_mut().zip(row) {
                    *s += weight * r;
                }
            }
            Rows::Sparse(sparse) => {
                for &(j, v) in &sparse[i] {
                    scores[j as usize] += weight * v;
                }
            }
        }
    }

    /// The pruned neighbours of `item` (empty for a dense model or an unknown item).
    pub fn neighbours(&self, item: u32) -> &[(u32, f32)] {
        match &self.rows {
            Rows::Sparse(sparse) => sparse.get(item as usize).map(Vec::as_slice).unwrap_or(&[]),
            Rows::Dense(_) => &[],
        }
    }
}

/// The `keep` largest positive entries of `row`, best first.
pub fn top_entries(row: &[f32], keep: usize) -> Vec<(u32, f32)> {
    let mut entries: Vec<(u32, f32)> = row
        .iter()
        .enumerate()
        .filter(|(_, v)| **v > 0.0)
        .map(|(j, &v)| (j as u32, v))
        .collect();
    if entries.len() > keep {
        entries.select_nth_unstable_by(keep, |a, b| b.1.total_cmp(&a.1));
        entries.truncate(keep);
    }
    entries.sort_by(|a, b| b.1.total_cmp(&a.1));
    entries
}

impl NextItemScorer for LinearSeqModel {
    fn score(&self, context: &[u32], scores: &mut [f32]) {
        for (item, weight) in decayed_inputs(context, self.config.tau_infer, self.config.max_inputs)
        {
            self.add_row(item, weight, scores);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_an_order_that_is_always_followed() {
        // 0 → 1 → 2 in every sequence, and 3 → 4 elsewhere: after 0 and 1, the model must expect 2.
        let mut seqs = Vec::new();
        for _ in 0..50 {
            seqs.push(vec![0, 1, 2]);
            seqs.push(vec![3, 4, 0]);
        }
        let model = LinearSeqModel::fit(&seqs, 5, LinearSeqConfig::default(), &mut |_| {}).unwrap();
        let mut scores = vec![0.0; 5];
        model.score(&[0, 1], &mut scores);
        let best = (0..5)
            .filter(|i| *i > 1)
            .max_by(|a, b| scores[*a].total_cmp(&scores[*b]));
        assert_eq!(best, Some(2), "scores {scores:?}");
        let mut pruned = model.clone();
        pruned.prune(2);
        let mut again = vec![0.0; 5];
        pruned.score(&[0, 1], &mut again);
        assert!(again[2] > again[3] && again[2] > again[4]);
    }

    #[test]
    fn decay_weighs_recent_items_more_and_merges_repeats() {
        let x = decayed_inputs(&[7, 8, 7], 1.0, 10);
        assert_eq!(x.len(), 2);
        let w7 = x.iter().find(|e| e.0 == 7).unwrap().1;
        let w8 = x.iter().find(|e| e.0 == 8).unwrap().1;
        assert!(w7 > 1.0 && w8 < 1.0);
        assert_eq!(decayed_inputs(&[1, 2, 3], 1.0, 1), vec![(3, 1.0)]);
    }

    #[test]
    fn refuses_an_impossible_size() {
        let err = LinearSeqModel::fit(
            &[],
            MAX_DENSE_ITEMS + 1,
            LinearSeqConfig::default(),
            &mut |_| {},
        );
        assert!(matches!(err, Err(LinearSeqError::TooManyItems { .. })));
    }
}
