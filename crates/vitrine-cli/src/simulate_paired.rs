//! The paired return-risk study of `vitrine simulate`: at every visit, the list Vitrine shows with the
//! return-risk term and the list it would show without it are built from the same learned state, and
//! the shopper's response to each is drawn with the same random numbers.
//!
//! Why: two whole runs (term on, term off) drift apart. Their models are trained on different histories,
//! so the difference between them mixes the term's effect with the noise of two trajectories, which in
//! seven simulated days is larger than the effect. Comparing both lists on one state isolates what the
//! term changes, and common random numbers cancel most of the shopper noise.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vitrine_sim::{DemoStore, ResponseSummary};

/// Draws of the shopper's response per list and visit: their mean is the list's expected outcome.
const DRAWS: u64 = 8;

/// The expected outcome of one list at one visit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Expected {
    /// Purchases.
    pub purchases: f64,
    /// Sum of the bought products' true return probabilities.
    pub returns: f64,
    /// Margin kept after returns, in USD.
    pub kept_margin: f64,
}

impl Expected {
    /// Mean outcome of `shown` over [`DRAWS`] responses seeded from `seed` (the same seeds for any list).
    pub fn of(demo: &DemoStore, shopper: usize, shown: &[usize], seed: u64) -> Self {
        let mut e = Self::default();
        for draw in 0..DRAWS {
            let mut rng =
                ChaCha8Rng::seed_from_u64(seed ^ (draw + 1).wrapping_mul(0xa076_1d64_78bd_642f));
            let (_, s): (_, ResponseSummary) = demo.respond(
                shopper,
                "what-if",
                shown,
                "what-if",
                demo.config.now,
                &mut rng,
            );
            e.purchases += f64::from(s.purchases);
            e.returns += s.return_probability;
            e.kept_margin += s.kept_margin;
        }
        let n = DRAWS as f64;
        Self {
            purchases: e.purchases / n,
            returns: e.returns / n,
            kept_margin: e.kept_margin / n,
        }
    }
}

/// Visit-by-visit pairs (with the term, without it).
#[derive(Debug, Clone, Default)]
pub struct PairedStudy {
    pairs: Vec<(Expected, Expected)>,
}

/// The study's verdict: return rates, the difference with its 95 % half-width, and the same for kept
/// margin per list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedResult {
    /// Visits compared.
    pub visits: usize,
    /// Visits whose two lists differ.
    pub changed: usize,
    /// Expected return rate of what is bought, with the term and without.
    pub rate_with: f64,
    /// See `rate_with`.
    pub rate_without: f64,
    /// `rate_with − rate_without` and its 95 % half-width.
    pub rate_diff: (f64, f64),
    /// Kept margin per list, with − without, and its 95 % half-width.
    pub margin_diff: (f64, f64),
    /// Purchases per list, with − without, and its 95 % half-width.
    pub purchase_diff: (f64, f64),
}

impl PairedStudy {
    /// Adds one visit's pair.
    pub fn add(&mut self, with: Expected, without: Expected) {
        self.pairs.push((with, without));
    }

    /// Merges another run's pairs.
    pub fn merge(&mut self, other: &PairedStudy) {
        self.pairs.extend_from_slice(&other.pairs);
    }

    /// The verdict, or `None` with fewer than two visits or no purchase.
    ///
    /// The return rate is a ratio of sums, so its difference's spread is taken by the delta method:
    /// each visit contributes `(R₁ − r₁·P₁)/P̄₁ − (R₀ − r₀·P₀)/P̄₀`.
    pub fn result(&self) -> Option<PairedResult> {
        let n = self.pairs.len();
        if n < 2 {
            return None;
        }
        let sum = |f: &dyn Fn(&(Expected, Expected)) -> f64| self.pairs.iter().map(f).sum::<f64>();
        let (p1, p0) = (sum(&|p| p.0.purchases), sum(&|p| p.1.purchases));
        if p1 <= 0.0 || p0 <= 0.0 {
            return None;
        }
        let (r1, r0) = (sum(&|p| p.0.returns) / p1, sum(&|p| p.1.returns) / p0);
        let (mean_p1, mean_p0) = (p1 / n as f64, p0 / n as f64);
        let linearised: Vec<f64> = self
            .pairs
            .iter()
            .map(|(a, b)| {
                (a.returns - r1 * a.purchases) / mean_p1 - (b.returns - r0 * b.purchases) / mean_p0
            })
            .collect();
        let margins: Vec<f64> = self
            .pairs
            .iter()
            .map(|(a, b)| a.kept_margin - b.kept_margin)
            .collect();
        let purchases: Vec<f64> = self
            .pairs
            .iter()
            .map(|(a, b)| a.purchases - b.purchases)
            .collect();
        Some(PairedResult {
            visits: n,
            changed: self.pairs.iter().filter(|(a, b)| a != b).count(),
            rate_with: r1,
            rate_without: r0,
            rate_diff: (r1 - r0, half_width(&linearised).1),
            margin_diff: half_width(&margins),
            purchase_diff: half_width(&purchases),
        })
    }
}

/// Mean and 95 % normal half-width of the mean.
fn half_width(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if n < 2.0 {
        return (values.first().copied().unwrap_or(0.0), f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, 1.96 * (var / n).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(purchases: f64, returns: f64, kept_margin: f64) -> Expected {
        Expected {
            purchases,
            returns,
            kept_margin,
        }
    }

    #[test]
    fn identical_lists_give_a_zero_difference_with_zero_spread() {
        let mut study = PairedStudy::default();
        for i in 0..50 {
            let x = e(1.0 + f64::from(i % 3), 0.1 * f64::from(i % 4), 10.0);
            study.add(x, x);
        }
        let r = study.result().expect("enough visits");
        assert_eq!(r.changed, 0);
        assert!(r.rate_diff.0.abs() < 1e-12 && r.rate_diff.1 < 1e-9);
        assert!(r.margin_diff.0.abs() < 1e-12 && r.margin_diff.1 < 1e-9);
    }

    #[test]
    fn a_consistent_drop_in_returns_is_significant_and_measured_as_a_rate() {
        let mut study = PairedStudy::default();
        for i in 0..200 {
            let noise = f64::from(i % 7) * 0.01;
            // Same purchases; with the term, what is bought returns 8 % instead of 10 %.
            study.add(e(2.0, 0.16 + noise, 20.0), e(2.0, 0.20 + noise, 20.0));
        }
        let r = study.result().expect("enough visits");
        assert_eq!(r.changed, 200);
        let mean_noise = (0..200).map(|i| f64::from(i % 7) * 0.01).sum::<f64>() / 200.0;
        assert!((r.rate_with - (0.16 + mean_noise) / 2.0).abs() < 1e-9);
        assert!((r.rate_diff.0 + 0.02).abs() < 1e-9, "{:?}", r.rate_diff);
        assert!(
            r.rate_diff.0 + r.rate_diff.1 < 0.0,
            "significant: {:?}",
            r.rate_diff
        );
        assert!(r.margin_diff.0.abs() < 1e-12);
    }

    #[test]
    fn too_few_visits_or_no_purchase_give_no_verdict() {
        let mut study = PairedStudy::default();
        study.add(e(1.0, 0.1, 1.0), e(1.0, 0.1, 1.0));
        assert!(study.result().is_none());
        study.add(e(0.0, 0.0, 0.0), e(0.0, 0.0, 0.0));
        study.pairs.iter_mut().for_each(|p| p.0.purchases = 0.0);
        assert!(study.result().is_none());
    }
}
