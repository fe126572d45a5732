//! Multi-objective ranking: four gradient-boosted models (forust) estimate p(click | shown),
//! p(add_to_cart | shown), p(purchase | shown) and p(return | purchase); a configurable blend turns them into
//! one score, so the retailer chooses what to optimise.

use crate::features::{RETURN_RATE_POOLED, WIDTH};
use forust_ml::{GradientBooster, Matrix};
use serde::{Deserialize, Serialize};

/// What the final score optimises (`[recommend.objective]`):
/// `click·p(click) + cart·p(cart) + purchase_margin·p(purchase)·margin·(1 − return_risk·p(return))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Objective {
    /// Value of an expected click.
    pub click: f32,
    /// Value of an expected add-to-cart.
    pub cart: f32,
    /// Weight of expected kept margin.
    pub purchase_margin: f32,
    /// How much the return risk discounts margin (0 switches the return term off).
    pub return_risk: f32,
}

impl Default for Objective {
    fn default() -> Self {
        Self {
            click: 0.05,
            cart: 0.2,
            purchase_margin: 1.0,
            // Matches the default rewards: a return takes back the margin and costs 0.2 of it in handling
            // (`return_margin` −1.2), so a purchase is worth margin · (1 − 1.2 · p(return)).
            return_risk: 1.2,
        }
    }
}

/// The four probabilities of one candidate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Probabilities {
    /// p(click | shown).
    pub click: f32,
    /// p(add_to_cart | shown).
    pub cart: f32,
    /// p(purchase | shown).
    pub purchase: f32,
    /// p(return | purchase).
    pub ret: f32,
}

impl Objective {
    /// The blended score of one candidate whose unit margin is `margin`.
    pub fn score(&self, p: &Probabilities, margin: f32) -> f32 {
        self.click * p.click
            + self.cart * p.cart
            + self.purchase_margin
                * p.purchase
                * margin.max(0.0)
                * (1.0 - self.return_risk * p.ret).max(0.0)
    }
}

/// One binary classifier.
pub struct Classifier {
    booster: GradientBooster,
    /// Share of positives in its training data (the fallback prediction).
    pub base_rate: f32,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("base_rate", &self.base_rate)
            .finish()
    }
}

/// Errors training or loading a model.
#[derive(Debug, thiserror::Error)]
#[error("ranker: {0}")]
pub struct RankerError(pub String);

fn column_major(rows: &[[f32; WIDTH]]) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows.len() * WIDTH);
    for c in 0..WIDTH {
        out.extend(rows.iter().map(|r| f64::from(r[c])));
    }
    out
}

fn sigmoid(x: f64) -> f32 {
    (1.0 / (1.0 + (-x).exp())) as f32
}

/// Tree depth and least leaf weight (hessian sum) for a model learning from `positives` positive rows.
///
/// Why it scales: the rarer the outcome, the fewer examples each leaf's estimate rests on. The return model
/// learns from returns among purchases, often a few hundred rows in a young shop; at the depth and leaf
/// size the click model can afford it fits noise, and a noisy p(return) ranks worse than none (seen in the
/// simulator as lower margin with the return term on). A leaf must hold about a twentieth of the
/// positives' evidence, and trees stay shallow until there are thousands of positives.
fn capacity(positives: usize) -> (usize, f32) {
    let depth = match positives {
        0..=499 => 2,
        500..=4_999 => 3,
        _ => 5,
    };
    // A log-loss hessian is p(1 − p) ≤ 0.25 per row, so a leaf weight of w needs ≥ 4w rows.
    let min_leaf = (positives as f32 / 80.0).clamp(5.0, 50.0);
    (depth, min_leaf)
}

impl Classifier {
    /// Trains with log-loss; `None` when there are too few positives or negatives to learn anything.
    pub fn train(
        rows: &[[f32; WIDTH]],
        labels: &[f64],
        weights: &[f64],
        trees: usize,
        seed: u64,
    ) -> Result<Option<Self>, RankerError> {
        let positives = labels.iter().filter(|l| **l > 0.5).count();
        if positives < 10 || rows.len() - positives < 10 {
            return Ok(None);
        }
        let data = column_major(rows);
        let matrix = Matrix::new(&data, rows.len(), WIDTH);
        let (depth, min_leaf) = capacity(positives);
        let mut booster = GradientBooster::default()
            .set_objective_type(forust_ml::objective::ObjectiveType::LogLoss)
            .set_iterations(trees)
            .set_learning_rate(0.1)
            .set_max_depth(depth)
            .set_min_leaf_weight(min_leaf)
            .set_subsample(0.8)
            .set_seed(seed)
            .set_parallel(true);
        booster
            .fit(&matrix, labels, weights, None)
            .map_err(|e| RankerError(e.to_string()))?;
        Ok(Some(Self {
            booster,
            base_rate: positives as f32 / rows.len() as f32,
        }))
    }

    /// Probabilities for `rows`.
    pub fn predict(&self, rows: &[[f32; WIDTH]]) -> Vec<f32> {
        if rows.is_empty() {
            return Vec::new();
        }
        let data = column_major(rows);
        self.predict_matrix(&Matrix::new(&data, rows.len(), WIDTH))
    }

    fn predict_matrix(&self, matrix: &Matrix<'_, f64>) -> Vec<f32> {
        self.booster
            .predict(matrix, false)
            .into_iter()
            .map(sigmoid)
            .collect()
    }

    /// Serialises the model.
    pub fn to_json(&self) -> Result<serde_json::Value, RankerError> {
        let dump = self
            .booster
            .json_dump()
            .map_err(|e| RankerError(e.to_string()))?;
        Ok(serde_json::json!({ "base_rate": self.base_rate, "booster": dump }))
    }

    /// Reads a model written by [`Self::to_json`].
    pub fn from_json(value: &serde_json::Value) -> Result<Self, RankerError> {
        let dump = value["booster"]
            .as_str()
            .ok_or_else(|| RankerError("missing booster".into()))?;
        Ok(Self {
            booster: GradientBooster::from_json(dump).map_err(|e| RankerError(e.to_string()))?,
            base_rate: value["base_rate"].as_f64().unwrap_or(0.0) as f32,
        })
    }
}

/// The four models; a missing one (too little data) falls back to its base rate or to the heuristic.
#[derive(Debug, Default)]
pub struct Rankers {
    /// p(click | shown).
    pub click: Option<Classifier>,
    /// p(add_to_cart | shown).
    pub cart: Option<Classifier>,
    /// p(purchase | shown).
    pub purchase: Option<Classifier>,
    /// p(return | purchase).
    pub ret: Option<Classifier>,
}

impl Rankers {
    /// True when at least the click or purchase model exists, so the blend is meaningful.
    pub fn usable(&self) -> bool {
        self.click.is_some() || self.purchase.is_some()
    }

    /// Probabilities for every row. Without a return model (a young shop has too few returns to fit one),
    /// p(return) is the item's pooled return rate: its own returns per purchase shrunk to its category's.
    pub fn predict(&self, rows: &[[f32; WIDTH]]) -> Vec<Probabilities> {
        if rows.is_empty() {
            return Vec::new();
        }
        // One column-major copy serves all four models.
        let data = column_major(rows);
        let matrix = Matrix::new(&data, rows.len(), WIDTH);
        let get = |m: &Option<Classifier>| m.as_ref().map(|c| c.predict_matrix(&matrix));
        let (click, cart, purchase, ret) = (
            get(&self.click),
            get(&self.cart),
            get(&self.purchase),
            get(&self.ret),
        );
        (0..rows.len())
            .map(|i| Probabilities {
                click: click.as_ref().map_or(0.0, |v| v[i]),
                cart: cart.as_ref().map_or(0.0, |v| v[i]),
                purchase: purchase.as_ref().map_or(0.0, |v| v[i]),
                ret: ret.as_ref().map_or(rows[i][RETURN_RATE_POOLED], |v| v[i]),
            })
            .collect()
    }

    /// Serialises all present models.
    pub fn to_json(&self) -> Result<serde_json::Value, RankerError> {
        let one = |m: &Option<Classifier>| m.as_ref().map(Classifier::to_json).transpose();
        Ok(serde_json::json!({
            "click": one(&self.click)?,
            "cart": one(&self.cart)?,
            "purchase": one(&self.purchase)?,
            "return": one(&self.ret)?,
        }))
    }

    /// Reads models written by [`Self::to_json`].
    pub fn from_json(value: &serde_json::Value) -> Result<Self, RankerError> {
        let one = |k: &str| {
            let v = &value[k];
            if v.is_null() {
                Ok(None)
            } else {
                Classifier::from_json(v).map(Some)
            }
        };
        Ok(Self {
            click: one("click")?,
            cart: one("cart")?,
            purchase: one("purchase")?,
            ret: one("return")?,
        })
    }
}

/// Area under the ROC curve (ties count half); `None` without both classes.
pub fn auc(scores: &[f32], labels: &[f64]) -> Option<f64> {
    let mut pairs: Vec<(f32, bool)> = scores
        .iter()
        .zip(labels)
        .map(|(s, l)| (*s, *l > 0.5))
        .collect();
    let pos = pairs.iter().filter(|p| p.1).count() as f64;
    let neg = pairs.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return None;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut i) = (0.0, 0);
    while i < pairs.len() {
        let mut j = i;
        while j < pairs.len() && pairs[j].0 == pairs[i].0 {
            j += 1;
        }
        let avg_rank = (i + j + 1) as f64 / 2.0;
        rank_sum += avg_rank * pairs[i..j].iter().filter(|p| p.1).count() as f64;
        i = j;
    }
    Some((rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_grows_with_the_evidence() {
        let (d_small, l_small) = capacity(200);
        let (d_mid, _) = capacity(2_000);
        let (d_big, l_big) = capacity(100_000);
        assert!(d_small < d_mid && d_mid < d_big);
        assert!(l_small >= 5.0 && l_big <= 50.0 && l_small <= l_big);
    }

    #[test]
    fn return_risk_discounts_margin_and_can_be_switched_off() {
        let p = Probabilities {
            click: 0.1,
            cart: 0.05,
            purchase: 0.02,
            ret: 0.5,
        };
        let on = Objective::default();
        let off = Objective {
            return_risk: 0.0,
            ..on
        };
        assert!(on.score(&p, 10.0) < off.score(&p, 10.0));
    }

    #[test]
    fn auc_is_one_for_perfect_order_and_half_for_ties() {
        assert_eq!(auc(&[0.1, 0.2, 0.9], &[0.0, 0.0, 1.0]), Some(1.0));
        assert_eq!(auc(&[0.5, 0.5], &[0.0, 1.0]), Some(0.5));
        assert_eq!(auc(&[0.5], &[1.0]), None);
    }

    #[test]
    fn a_classifier_learns_a_separable_signal_and_round_trips() {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..400 {
            let mut r = [0f32; WIDTH];
            r[0] = (i % 10) as f32;
            rows.push(r);
            labels.push(if i % 10 >= 7 { 1.0 } else { 0.0 });
        }
        let w = vec![1.0; rows.len()];
        let c = Classifier::train(&rows, &labels, &w, 20, 1)
            .unwrap()
            .unwrap();
        let p = c.predict(&rows[..10]);
        assert!(p[9] > 0.8 && p[0] < 0.2, "{p:?}");
        let back = Classifier::from_json(&c.to_json().unwrap()).unwrap();
        assert_eq!(back.predict(&rows[..10]), p);
    }
}
