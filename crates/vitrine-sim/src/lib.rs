//! # vitrine-sim — a demo store with shoppers you can experiment on
//!
//! [`DemoStore::generate`] builds a realistic catalog (category tree, coherent attributes, exact prices and
//! costs, out-of-stock and backorder items, readable titles and descriptions) and a population of shoppers
//! with latent tastes. [`DemoStore::simulate_day`] produces a day of organic browsing as real events, and
//! [`DemoStore::respond`] makes a shopper react to *any* ranked list, which is what later issues use to prove
//! that recommendations and experiments improve outcomes. Everything is deterministic for a seed, and the
//! ground truth ([`ItemTruth`], [`ShopperTruth`]) is public.

pub mod catalog;
pub mod shoppers;
pub mod vocabulary;

pub use catalog::ItemTruth;
pub use shoppers::{examination_probability, ShopperTruth};

use chrono::{DateTime, Duration, Utc};
use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use shoppers::sigmoid;
use vitrine_core::{Currency, Event, EventContext, EventType, Product};
use vocabulary::{COLOURS, LEAVES};

/// Size and seed of a demo store.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Products in the catalog.
    pub products: usize,
    /// Shoppers in the population.
    pub shoppers: usize,
    /// Days of history to simulate.
    pub days: u32,
    /// Everything is derived from this.
    pub seed: u64,
    /// The moment the simulated history ends ("now" of the demo).
    pub now: DateTime<Utc>,
}

/// What a shopper did with one shown list, summarised for reward accounting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseSummary {
    /// Clicks.
    pub clicks: u32,
    /// Add-to-carts.
    pub carts: u32,
    /// Purchases.
    pub purchases: u32,
    /// Purchases later returned.
    pub returns: u32,
    /// Margin of purchases that were kept, in USD.
    pub kept_margin: f64,
    /// Sum over purchases of their true return probability: the expected returns, free of the coin flip
    /// that decides each one (so policies compare with far less noise than by `returns`).
    pub return_probability: f64,
    /// Sum over purchases of the squared return probability (for its confidence interval).
    pub return_probability_sq: f64,
}

/// A generated store: catalog, its hidden truth, and the shoppers.
pub struct DemoStore {
    /// How it was made.
    pub config: DemoConfig,
    /// The catalog, in SKU order.
    pub products: Vec<Product>,
    /// Hidden truth per product, same order as `products`.
    pub items: Vec<ItemTruth>,
    /// The shopper population.
    pub shoppers: Vec<ShopperTruth>,
    by_leaf: Vec<Vec<usize>>,
}

impl DemoStore {
    /// Generates catalog and shoppers; deterministic for `config.seed` and `config.now`.
    pub fn generate(config: DemoConfig) -> Self {
        let mut products = Vec::with_capacity(config.products);
        let mut items = Vec::with_capacity(config.products);
        let mut by_leaf = vec![Vec::new(); LEAVES.len()];
        for i in 0..config.products {
            let (p, t) = catalog::product(config.seed, i as u64, config.now);
            by_leaf[t.leaf].push(i);
            products.push(p);
            items.push(t);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(1));
        let shoppers = (0..config.shoppers)
            .map(|i| ShopperTruth::generate(i, &mut rng))
            .collect();
        Self {
            config,
            products,
            items,
            shoppers,
            by_leaf,
        }
    }

    /// Index of a product by SKU (`SKU-0000042` → 42), for agents given ids.
    pub fn index_of(&self, sku: &str) -> Option<usize> {
        let i: usize = sku.strip_prefix("SKU-")?.parse().ok()?;
        (i < self.products.len()).then_some(i)
    }

    /// Ground-truth utility of product `item` for shopper `shopper`.
    pub fn utility(&self, shopper: usize, item: usize) -> f64 {
        self.shoppers[shopper].utility(&self.items[item])
    }

    /// Shopper `shopper` reacts to the ranked list `shown` (product indices) served under `request_id` at
    /// `at`: emits the impression and every consequence (click, view, cart, abandon, purchase, return, review).
    pub fn respond(
        &self,
        shopper: usize,
        session_id: &str,
        shown: &[usize],
        request_id: &str,
        at: DateTime<Utc>,
        rng: &mut ChaCha8Rng,
    ) -> (Vec<Event>, ResponseSummary) {
        let s = &self.shoppers[shopper];
        let mut summary = ResponseSummary::default();
        let mut t = at;
        let mut events = Vec::new();
        let emit = |events: &mut Vec<Event>,
                    ty: EventType,
                    ids: Vec<String>,
                    at: DateTime<Utc>,
                    rng: &mut ChaCha8Rng| {
            events.push(Event {
                event_id: format!("ev-{:016x}", rng.gen::<u64>()),
                event_type: ty,
                user_id: s.logged_in.then(|| s.user_id.clone()),
                session_id: Some(session_id.to_string()),
                product_ids: ids,
                quantity: None,
                price: None,
                currency: None,
                request_id: Some(request_id.to_string()),
                position: None,
                query: None,
                rating: None,
                review: None,
                context: EventContext {
                    device: Some(s.device.into()),
                    channel: Some("web".into()),
                    region: None,
                    referrer: None,
                },
                timestamp: at,
            });
            events.len() - 1
        };
        let shown_ids: Vec<String> = shown.iter().map(|&i| self.products[i].id.clone()).collect();
        emit(&mut events, EventType::Impression, shown_ids, t, rng);
        let usd = Currency::parse("USD").ok();
        for (pos, &item) in shown.iter().enumerate() {
            if summary.clicks >= 3 || !rng.gen_bool(examination_probability(pos)) {
                continue;
            }
            let u = s.utility(&self.items[item]);
            if !rng.gen_bool(sigmoid(u - 1.8).clamp(0.0, 1.0)) {
                continue;
            }
            let id = self.products[item].id.clone();
            t += Duration::seconds(rng.gen_range(5..60));
            let k = emit(&mut events, EventType::Click, vec![id.clone()], t, rng);
            events[k].position = Some(pos as u32);
            summary.clicks += 1;
            emit(
                &mut events,
                EventType::View,
                vec![id.clone()],
                t + Duration::seconds(1),
                rng,
            );
            let truth = &self.items[item];
            if !truth.available || !rng.gen_bool(sigmoid(u - 0.8).clamp(0.0, 1.0)) {
                continue;
            }
            t += Duration::seconds(rng.gen_range(10..120));
            let k = emit(&mut events, EventType::AddToCart, vec![id.clone()], t, rng);
            events[k].quantity = Some(1);
            summary.carts += 1;
            if !rng.gen_bool(sigmoid(u + 0.2).clamp(0.0, 1.0)) {
                if rng.gen_bool(0.4) {
                    let k = emit(
                        &mut events,
                        EventType::RemoveFromCart,
                        vec![id.clone()],
                        t + Duration::minutes(3),
                        rng,
                    );
                    events[k].quantity = Some(1);
                }
                continue;
            }
            t += Duration::minutes(rng.gen_range(1..10));
            let price = self.products[item].effective_price();
            let k = emit(&mut events, EventType::Purchase, vec![id.clone()], t, rng);
            events[k].quantity = Some(1);
            events[k].price = Some(price);
            events[k].currency = usd;
            summary.purchases += 1;
            let p_return = (truth.return_rate * s.return_propensity).clamp(0.0, 0.95);
            summary.return_probability += p_return;
            summary.return_probability_sq += p_return * p_return;
            let returned = rng.gen_bool(p_return);
            if returned {
                let k = emit(
                    &mut events,
                    EventType::Return,
                    vec![id.clone()],
                    t + Duration::days(rng.gen_range(2..14)),
                    rng,
                );
                events[k].quantity = Some(1);
                events[k].price = Some(price);
                events[k].currency = usd;
                summary.returns += 1;
            } else {
                summary.kept_margin += truth.margin;
            }
            if rng.gen_bool(0.15) {
                let rating = if returned {
                    1 + rng.gen_range(0..2)
                } else {
                    (3.0 + u.clamp(-2.0, 2.0)).round().clamp(1.0, 5.0) as u8
                };
                let k = emit(
                    &mut events,
                    EventType::Review,
                    vec![id],
                    t + Duration::days(rng.gen_range(3..20)),
                    rng,
                );
                events[k].rating = Some(rating);
                events[k].review = Some(review_text(rating).into());
            }
        }
        (events, summary)
    }

    /// One day of organic browsing (category pages and searches in the shop's default order) for every
    /// shopper who visits that day. `day` counts from 0 = `config.days` days before `config.now`.
    pub fn simulate_day(&self, day: u32) -> Vec<Event> {
        let mut rng = ChaCha8Rng::seed_from_u64(
            self.config.seed ^ (u64::from(day) + 1).wrapping_mul(0xa076_1d64_78bd_642f),
        );
        let day_start =
            self.config.now - Duration::days(i64::from(self.config.days.saturating_sub(day)));
        let mut events = Vec::new();
        for (si, s) in self.shoppers.iter().enumerate() {
            let visits = poisson(s.visits_per_day, &mut rng);
            for v in 0..visits {
                let session = format!("S-{si:06}-{day}-{v}");
                let mut at = day_start + Duration::seconds(rng.gen_range(0..86_000));
                for _page in 0..rng.gen_range(1..4) {
                    let leaf = sample_index(&s.leaf_affinity, &mut rng);
                    let pool = &self.by_leaf[leaf];
                    if pool.is_empty() {
                        continue;
                    }
                    let request_id = format!("browse-{:016x}", rng.gen::<u64>());
                    if rng.gen_bool(0.3) {
                        let colour = COLOURS[s.favourite_colours[0]];
                        let noun = LEAVES[leaf].nouns[rng.gen_range(0..LEAVES[leaf].nouns.len())];
                        events.push(Event {
                            event_id: format!("ev-{:016x}", rng.gen::<u64>()),
                            event_type: EventType::Search,
                            user_id: s.logged_in.then(|| s.user_id.clone()),
                            session_id: Some(session.clone()),
                            product_ids: vec![],
                            quantity: None,
                            price: None,
                            currency: None,
                            request_id: Some(request_id.clone()),
                            position: None,
                            query: Some(format!("{colour} {}", noun.to_lowercase())),
                            rating: None,
                            review: None,
                            context: EventContext {
                                device: Some(s.device.into()),
                                channel: Some("web".into()),
                                region: None,
                                referrer: None,
                            },
                            timestamp: at,
                        });
                    }
                    let mut shown: Vec<usize> = pool
                        .choose_multiple(&mut rng, pool.len().min(20))
                        .copied()
                        .collect();
                    shown.shuffle(&mut rng);
                    let (mut page_events, _) =
                        self.respond(si, &session, &shown, &request_id, at, &mut rng);
                    at = page_events.iter().map(|e| e.timestamp).max().unwrap_or(at)
                        + Duration::seconds(30);
                    events.append(&mut page_events);
                }
            }
        }
        events
    }

    /// Price and margin helper for reward accounting in later experiments.
    pub fn margin_of(&self, item: usize) -> Decimal {
        self.products[item].unit_margin().unwrap_or_default()
    }
}

fn review_text(rating: u8) -> &'static str {
    match rating {
        5 => "Love it, exactly as described.",
        4 => "Good quality, fits well.",
        3 => "It's okay, nothing special.",
        2 => "Not what I expected.",
        _ => "Disappointed, sent it back.",
    }
}

fn poisson(lambda: f64, rng: &mut ChaCha8Rng) -> u32 {
    let l = (-lambda).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.gen::<f64>();
        if p <= l || k > 20 {
            return k;
        }
        k += 1;
    }
}

fn sample_index(weights: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.gen::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        x -= w;
        if x <= 0.0 {
            return i;
        }
    }
    weights.len() - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> DemoStore {
        DemoStore::generate(DemoConfig {
            products: 600,
            shoppers: 80,
            days: 3,
            seed: 11,
            now: DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000),
        })
    }

    #[test]
    fn simulation_is_deterministic_and_covers_the_funnel() {
        let a = store().simulate_day(1);
        let b = store().simulate_day(1);
        assert_eq!(a, b);
        let kinds: std::collections::HashSet<_> = (0..3)
            .flat_map(|d| store().simulate_day(d))
            .map(|e| e.event_type)
            .collect();
        for k in [
            EventType::Impression,
            EventType::Click,
            EventType::View,
            EventType::AddToCart,
            EventType::Purchase,
            EventType::Search,
        ] {
            assert!(kinds.contains(&k), "no {k:?} events");
        }
    }

    #[test]
    fn shoppers_prefer_what_their_truth_says() {
        // The agent must respond to ranking: showing each shopper their best items yields more clicks than
        // showing their worst ones. This is what later learning experiments rely on.
        let s = store();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut best_clicks, mut worst_clicks) = (0, 0);
        for shopper in 0..s.shoppers.len() {
            let mut order: Vec<usize> = (0..s.products.len()).collect();
            order.sort_by(|&a, &b| s.utility(shopper, b).total_cmp(&s.utility(shopper, a)));
            let (_, best) = s.respond(shopper, "x", &order[..20], "r", s.config.now, &mut rng);
            let (_, worst) = s.respond(
                shopper,
                "x",
                &order[order.len() - 20..],
                "r",
                s.config.now,
                &mut rng,
            );
            best_clicks += best.clicks;
            worst_clicks += worst.clicks;
        }
        assert!(
            best_clicks > 3 * worst_clicks.max(1),
            "best {best_clicks} vs worst {worst_clicks}"
        );
    }

    #[test]
    fn every_generated_event_passes_domain_validation() {
        let s = store();
        for e in s.simulate_day(0) {
            let json = serde_json::to_string(&e).unwrap();
            let input: vitrine_core::EventInput = serde_json::from_str(&json).unwrap();
            input
                .validate(s.config.now)
                .unwrap_or_else(|errs| panic!("{errs:?} in {json}"));
        }
    }
}
