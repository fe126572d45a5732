//! Simulated shoppers: latent tastes (category affinity, price sensitivity, brand and colour preference)
//! and a funnel model that turns "what was shown" into impressions, clicks, carts, purchases, returns and
//! reviews. The truth is public so experiments can check that Vitrine learns it.

use crate::catalog::ItemTruth;
use crate::vocabulary::{BRANDS, COLOURS, LEAVES};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The hidden tastes of one shopper.
#[derive(Debug, Clone)]
pub struct ShopperTruth {
    /// Stable user id (`U-000001`).
    pub user_id: String,
    /// Whether the shopper browses logged in (otherwise only session ids are sent).
    pub logged_in: bool,
    /// Affinity per leaf category (sums to 1).
    pub leaf_affinity: Vec<f64>,
    /// 0 = indifferent to price, 1 = very price-driven.
    pub price_sensitivity: f64,
    /// Preferred brand per department (department index, brand index).
    pub favourite_brands: Vec<(usize, usize)>,
    /// Preferred colours (indices into [`COLOURS`]).
    pub favourite_colours: Vec<usize>,
    /// Expected visits per day.
    pub visits_per_day: f64,
    /// Multiplier on item return rates (serial returners > 1).
    pub return_propensity: f64,
    /// `mobile` or `desktop`.
    pub device: &'static str,
}

impl ShopperTruth {
    /// Draws a shopper; each has a handful of strong category interests, like real customers.
    pub fn generate(index: usize, rng: &mut ChaCha8Rng) -> Self {
        let mut affinity: Vec<f64> = (0..LEAVES.len())
            .map(|_| rng.gen::<f64>().powi(6))
            .collect();
        for _ in 0..2 {
            let strong = rng.gen_range(0..LEAVES.len());
            affinity[strong] += 1.0;
        }
        let total: f64 = affinity.iter().sum();
        affinity.iter_mut().for_each(|a| *a /= total);
        let favourite_brands = (0..2)
            .map(|_| {
                let d = rng.gen_range(0..BRANDS.len());
                (d, rng.gen_range(0..BRANDS[d].1.len()))
            })
            .collect();
        let favourite_colours = (0..2).map(|_| rng.gen_range(0..COLOURS.len())).collect();
        Self {
            user_id: format!("U-{index:06}"),
            logged_in: rng.gen_bool(0.7),
            leaf_affinity: affinity,
            price_sensitivity: rng.gen::<f64>(),
            favourite_brands,
            favourite_colours,
            visits_per_day: 0.15 + rng.gen::<f64>() * 0.6,
            return_propensity: if rng.gen_bool(0.1) {
                2.5
            } else {
                0.6 + rng.gen::<f64>() * 0.6
            },
            device: if rng.gen_bool(0.6) {
                "mobile"
            } else {
                "desktop"
            },
        }
    }

    /// Ground-truth utility of an item for this shopper: higher means more likely to click and buy.
    pub fn utility(&self, item: &ItemTruth) -> f64 {
        let leaf = &LEAVES[item.leaf];
        let dept = BRANDS
            .iter()
            .position(|(d, _)| *d == leaf.path[0])
            .unwrap_or(0);
        let affinity = (self.leaf_affinity[item.leaf] * LEAVES.len() as f64)
            .ln()
            .max(-3.0);
        let brand = if self.favourite_brands.contains(&(dept, item.brand)) {
            0.8
        } else {
            0.0
        };
        let colour = if self.favourite_colours.contains(&item.colour) {
            0.5
        } else {
            0.0
        };
        let price = -self.price_sensitivity * (item.price / leaf.median_price).ln() * 1.5;
        affinity + brand + colour + price + 0.6 * item.quality
    }
}

/// Chance that the shopper even looks at position `p` (0-based): the usual position-bias curve.
pub fn examination_probability(position: usize) -> f64 {
    1.0 / (1.0 + position as f64).powf(0.8)
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}
