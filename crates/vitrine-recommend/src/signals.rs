//! Live signals, updated one event at a time (no recompute per event): co-visitation, sequential
//! transitions, baskets, trending with time decay, per-item funnel counts and every shopper's recent items.
//! An event changes the next answer for its shopper as soon as [`Signals::observe`] returns.

use crate::catalog::{ItemId, ItemTable};
use crate::covis::{CoVisitConfig, CoVisitation};
use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use vitrine_core::{Event, EventType};

/// How much each event type says about interest (co-visitation and trending weights).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventWeights {
    /// Product page view.
    pub view: f32,
    /// Click on a shown product.
    pub click: f32,
    /// Add to cart.
    pub add_to_cart: f32,
    /// Purchase.
    pub purchase: f32,
    /// Review with rating ≥ 4.
    pub good_review: f32,
}

impl Default for EventWeights {
    fn default() -> Self {
        Self {
            view: 1.0,
            click: 1.0,
            add_to_cart: 3.0,
            purchase: 5.0,
            good_review: 2.0,
        }
    }
}

impl EventWeights {
    /// Weight of an event for interest signals (0: not an interest signal).
    pub fn of(&self, event: &Event) -> f32 {
        match event.event_type {
            EventType::View => self.view,
            EventType::Click => self.click,
            EventType::AddToCart => self.add_to_cart,
            EventType::Purchase => self.purchase,
            EventType::Review if event.rating.unwrap_or(0) >= 4 => self.good_review,
            _ => 0.0,
        }
    }
}

/// Signal settings (`[recommend.signals]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalsConfig {
    /// Interest weight per event type.
    pub weights: EventWeights,
    /// Trending half-life in hours.
    pub trending_half_life_hours: f64,
    /// Recent items kept per shopper and per session.
    pub history: usize,
    /// Co-visitation (any interest event, both directions).
    pub covis: CoVisitConfig,
    /// Sequential transitions (forward only, short window).
    pub transitions: CoVisitConfig,
    /// Baskets (cart and purchase events only).
    pub basket: CoVisitConfig,
    /// Sessions idle longer than this many hours are forgotten.
    pub session_ttl_hours: i64,
    /// Days within which a purchase can come back. Return rates count a purchase younger than this only
    /// in part, because its return may not have happened yet.
    pub return_window_days: f64,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        Self {
            weights: EventWeights::default(),
            trending_half_life_hours: 24.0,
            history: 30,
            covis: CoVisitConfig {
                backward: 1.0,
                window: 10,
                ..Default::default()
            },
            transitions: CoVisitConfig {
                backward: 0.0,
                window: 3,
                gap_decay: 0.5,
                ..Default::default()
            },
            basket: CoVisitConfig {
                backward: 1.0,
                window: 10,
                gap_decay: 0.9,
                ..Default::default()
            },
            session_ttl_hours: 24,
            // The EU right of withdrawal; many shops allow 30.
            return_window_days: 14.0,
        }
    }
}

/// Funnel counts of one item (all shoppers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemStats {
    /// Times shown.
    pub impressions: f32,
    /// Page views.
    pub views: f32,
    /// Clicks.
    pub clicks: f32,
    /// Add-to-carts.
    pub carts: f32,
    /// Purchases.
    pub purchases: f32,
    /// Returns.
    pub returns: f32,
}

impl ItemStats {
    /// Smoothed click-through rate.
    pub fn ctr(&self) -> f32 {
        (self.clicks + 0.5) / (self.impressions + 20.0)
    }
    /// Smoothed purchases per interaction.
    pub fn conversion(&self) -> f32 {
        (self.purchases + 0.2) / (self.views + self.clicks + 10.0)
    }
    /// Smoothed returns per purchase.
    pub fn return_rate(&self) -> f32 {
        (self.returns + 0.5) / (self.purchases + 5.0)
    }

    /// All interest events.
    pub fn activity(&self) -> f32 {
        self.views + self.clicks + self.carts + self.purchases
    }
}

/// Purchases of one item or category, weighted by how much of their return window has passed.
///
/// Why: returns arrive days after the purchase. Dividing returns by all purchases makes whatever sold in
/// the last days look return-free, and a ranker that favours low return rates would then favour exactly the
/// items it just sold. A purchase of age `a` counts `min(a / window, 1)`: under returns spread evenly over
/// the window that is the share of its return that can have arrived, so returns ÷ exposure is unbiased.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReturnExposure {
    /// Purchases whose window had closed when last looked at.
    matured: f32,
    /// Times of the other purchases (unix seconds), in arrival order.
    open: VecDeque<i64>,
    /// Sum of `open`, so exposure needs no walk over it.
    open_sum: f64,
}

impl ReturnExposure {
    fn add(&mut self, at: i64, now: i64, window: i64) {
        while self.open.front().is_some_and(|&t| now - t >= window) {
            if let Some(t) = self.open.pop_front() {
                self.open_sum -= t as f64;
                self.matured += 1.0;
            }
        }
        self.open.push_back(at);
        self.open_sum += at as f64;
    }

    /// Matured-equivalent purchases at `now`.
    pub fn exposure(&self, now: i64, window: i64) -> f32 {
        let window = window.max(1);
        // Purchases that matured since the last `add` sit at the front: count them whole.
        let (mut whole, mut whole_sum) = (0usize, 0f64);
        for &t in self.open.iter().take_while(|&&t| now - t >= window) {
            whole += 1;
            whole_sum += t as f64;
        }
        let partial = (self.open.len() - whole) as f64;
        let ages = partial * now as f64 - (self.open_sum - whole_sum);
        self.matured + whole as f32 + (ages / window as f64).max(0.0) as f32
    }
}

/// One shopper's (or session's) recent behaviour.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShopperState {
    /// Recent interest events, oldest first: (item, type, unix seconds).
    pub recent: VecDeque<(ItemId, EventType, i64)>,
    /// Items bought (for "exclude already bought").
    pub purchased: Vec<ItemId>,
    /// Items in the cart now.
    pub cart: Vec<ItemId>,
    /// Last activity, unix seconds.
    pub last_seen: i64,
}

impl ShopperState {
    /// Recent item ids, oldest first, without repeats of the same item back to back.
    pub fn recent_items(&self) -> Vec<ItemId> {
        let mut out: Vec<ItemId> = Vec::with_capacity(self.recent.len());
        for &(item, _, _) in &self.recent {
            if out.last() != Some(&item) {
                out.push(item);
            }
        }
        out
    }
}

/// Decayed trending score per item, kept current by one multiply per event.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Trending {
    score: Vec<f32>,
    at: Vec<i64>,
    half_life_secs: f64,
}

impl Trending {
    fn add(&mut self, item: ItemId, weight: f32, now: i64) {
        let i = item as usize;
        if self.score.len() <= i {
            self.score.resize(i + 1, 0.0);
            self.at.resize(i + 1, now);
        }
        self.score[i] = self.decayed(i, now) + weight;
        self.at[i] = now.max(self.at[i]);
    }

    fn decayed(&self, i: usize, now: i64) -> f32 {
        let age = (now - self.at[i]).max(0) as f64;
        self.score[i] * (0.5f64).powf(age / self.half_life_secs.max(1.0)) as f32
    }

    /// Score of an item at `now` (unix seconds).
    pub fn score(&self, item: ItemId, now: i64) -> f32 {
        let i = item as usize;
        if i >= self.score.len() {
            return 0.0;
        }
        self.decayed(i, now)
    }

    /// The `k` hottest items accepted by `keep`, hottest first.
    pub fn top(&self, k: usize, now: i64, keep: &dyn Fn(ItemId) -> bool) -> Vec<(ItemId, f32)> {
        let mut all: Vec<(ItemId, f32)> = (0..self.score.len())
            .filter(|&i| self.score[i] > 0.0 && keep(i as ItemId))
            .map(|i| (i as ItemId, self.decayed(i, now)))
            .collect();
        if all.len() > k {
            all.select_nth_unstable_by(k, |a, b| b.1.total_cmp(&a.1));
            all.truncate(k);
        }
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all
    }
}

/// Everything learned online from the event stream (serialisable: a snapshot spares restarts the replay).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Signals {
    config: SignalsConfig,
    /// Co-visitation graph.
    pub covis: CoVisitation,
    /// Sequential transitions.
    pub transitions: CoVisitation,
    /// Basket co-occurrence.
    pub basket: CoVisitation,
    /// Trending.
    pub trending: Trending,
    /// Funnel counts by item.
    pub stats: Vec<ItemStats>,
    /// Funnel counts pooled by category path (the prior for items with little evidence).
    category_stats: HashMap<String, ItemStats>,
    /// Return exposure by item.
    item_exposure: Vec<ReturnExposure>,
    /// Return exposure by category path.
    category_exposure: HashMap<String, ReturnExposure>,
    users: HashMap<String, ShopperState>,
    sessions: HashMap<String, ShopperState>,
    /// Events applied.
    pub events_seen: u64,
    /// Newest event time seen (unix seconds): "now" for decay when replaying history.
    pub clock: i64,
}

impl Signals {
    /// Empty signals.
    pub fn new(config: SignalsConfig) -> Self {
        Self {
            covis: CoVisitation::new(config.covis),
            transitions: CoVisitation::new(config.transitions),
            basket: CoVisitation::new(config.basket),
            trending: Trending {
                half_life_secs: config.trending_half_life_hours * 3600.0,
                ..Default::default()
            },
            stats: Vec::new(),
            category_stats: HashMap::default(),
            item_exposure: Vec::new(),
            category_exposure: HashMap::default(),
            users: HashMap::default(),
            sessions: HashMap::default(),
            events_seen: 0,
            clock: 0,
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SignalsConfig {
        &self.config
    }

    /// A shopper's state by user id.
    pub fn user(&self, user_id: &str) -> Option<&ShopperState> {
        self.users.get(user_id)
    }

    /// A session's state.
    pub fn session(&self, session_id: &str) -> Option<&ShopperState> {
        self.sessions.get(session_id)
    }

    /// Drops what is held about one shopper and their sessions (erasure). Anonymous aggregates (item
    /// counts, co-visitation weights) stay: they name no one.
    pub fn forget(&mut self, user_id: &str, session_ids: &[String]) {
        self.users.remove(user_id);
        for s in session_ids {
            self.sessions.remove(s);
        }
    }

    /// Shoppers and sessions tracked.
    pub fn tracked(&self) -> (usize, usize) {
        (self.users.len(), self.sessions.len())
    }

    fn stats_mut(&mut self, item: ItemId) -> &mut ItemStats {
        let i = item as usize;
        if self.stats.len() <= i {
            self.stats.resize(i + 1, ItemStats::default());
        }
        &mut self.stats[i]
    }

    /// Stats of one item (zero when never seen).
    pub fn item_stats(&self, item: ItemId) -> ItemStats {
        self.stats.get(item as usize).copied().unwrap_or_default()
    }

    /// Stats pooled over every item of a category (zero when none was seen).
    pub fn category_stats(&self, category: &str) -> ItemStats {
        self.category_stats
            .get(category)
            .copied()
            .unwrap_or_default()
    }

    /// Returns per purchase of `item`, counting purchases by [`ReturnExposure`] and shrunk towards its
    /// category's rate by five matured purchases (the category's own rate is shrunk towards 10 %).
    ///
    /// Why: a young shop has a handful of purchases per item, too few to tell a 5 % from a 25 % item, while
    /// its category (fit-sensitive apparel against chargers) already knows; evidence moves it item by item.
    pub fn pooled_return_rate(&self, item: ItemId, category: &str) -> f32 {
        let window = self.return_window_secs();
        let now = self.clock;
        let exposure = |e: Option<&ReturnExposure>| e.map_or(0.0, |e| e.exposure(now, window));
        let c_returns = self.category_stats.get(category).map_or(0.0, |c| c.returns);
        let c_rate = (c_returns + 0.5) / (exposure(self.category_exposure.get(category)) + 5.0);
        let returns = self.item_stats(item).returns;
        (returns + 5.0 * c_rate) / (exposure(self.item_exposure.get(item as usize)) + 5.0)
    }

    fn return_window_secs(&self) -> i64 {
        (self.config.return_window_days * 86_400.0) as i64
    }

    fn count_purchase_exposure(&mut self, items: &ItemTable, item: ItemId, at: i64) {
        let (now, window) = (self.clock, self.return_window_secs());
        let i = item as usize;
        if self.item_exposure.len() <= i {
            self.item_exposure
                .resize_with(i + 1, ReturnExposure::default);
        }
        self.item_exposure[i].add(at, now, window);
        if let Some(meta) = items.get(item) {
            if let Some(c) = self.category_exposure.get_mut(meta.category.as_str()) {
                c.add(at, now, window);
            } else {
                let mut c = ReturnExposure::default();
                c.add(at, now, window);
                self.category_exposure.insert(meta.category.clone(), c);
            }
        }
    }

    /// Applies `count` to an item's stats and to its category's.
    fn count(&mut self, items: &ItemTable, item: ItemId, count: impl Fn(&mut ItemStats)) {
        count(self.stats_mut(item));
        if let Some(meta) = items.get(item) {
            if let Some(c) = self.category_stats.get_mut(meta.category.as_str()) {
                count(c);
            } else {
                let mut c = ItemStats::default();
                count(&mut c);
                self.category_stats.insert(meta.category.clone(), c);
            }
        }
    }

    /// Counts items as shown once more (recommendation answers, logged by the engine).
    pub fn count_impressions(&mut self, ids: &[ItemId]) {
        for &id in ids {
            self.stats_mut(id).impressions += 1.0;
        }
    }

    /// Applies one event. Products unknown to `items` are skipped (they cannot be recommended anyway).
    pub fn observe(&mut self, items: &ItemTable, event: &Event) {
        self.events_seen += 1;
        let now = event.timestamp.timestamp();
        self.clock = self.clock.max(now);
        let ids: Vec<ItemId> = event
            .product_ids
            .iter()
            .filter_map(|s| items.id(s))
            .collect();
        match event.event_type {
            EventType::Impression => {
                for &id in &ids {
                    self.count(items, id, |s| s.impressions += 1.0);
                }
                return;
            }
            EventType::Return => {
                for &id in &ids {
                    self.count(items, id, |s| s.returns += 1.0);
                }
                return;
            }
            EventType::RemoveFromCart => {
                for key in [&event.user_id, &event.session_id].into_iter().flatten() {
                    for state in [self.users.get_mut(key), self.sessions.get_mut(key)]
                        .into_iter()
                        .flatten()
                    {
                        state.cart.retain(|i| !ids.contains(i));
                    }
                }
                return;
            }
            _ => {}
        }
        let weight = self.config.weights.of(event);
        if weight <= 0.0 || ids.is_empty() {
            return;
        }
        let event_type = event.event_type;
        for &id in &ids {
            self.count(items, id, |s| match event_type {
                EventType::View => s.views += 1.0,
                EventType::Click => s.clicks += 1.0,
                EventType::AddToCart => s.carts += 1.0,
                EventType::Purchase => s.purchases += 1.0,
                _ => {}
            });
            if event_type == EventType::Purchase {
                self.count_purchase_exposure(items, id, now);
            }
            self.trending.add(id, weight, now);
        }
        let basket_event = matches!(event.event_type, EventType::AddToCart | EventType::Purchase);
        // The user history drives the graphs (it spans sessions); a session without a user drives them instead.
        let driver = match (&event.user_id, &event.session_id) {
            (Some(u), _) => self.users.get(u).cloned().unwrap_or_default(),
            (None, Some(s)) => self.sessions.get(s).cloned().unwrap_or_default(),
            (None, None) => ShopperState::default(),
        };
        let previous = driver.recent_items();
        let basket_previous: Vec<ItemId> = driver
            .recent
            .iter()
            .filter(|(_, t, _)| matches!(t, EventType::AddToCart | EventType::Purchase))
            .map(|(i, _, _)| *i)
            .collect();
        for &id in &ids {
            self.covis.observe(&previous, id, weight);
            if previous.last() != Some(&id) {
                self.transitions.observe(&previous, id, weight);
            }
            if basket_event {
                self.basket.observe(&basket_previous, id, weight);
            }
        }
        let history = self.config.history.max(1);
        let update = |state: &mut ShopperState| {
            for &id in &ids {
                state.recent.push_back((id, event.event_type, now));
                if event.event_type == EventType::Purchase && !state.purchased.contains(&id) {
                    state.purchased.push(id);
                }
                match event.event_type {
                    EventType::AddToCart if !state.cart.contains(&id) => state.cart.push(id),
                    EventType::Purchase => state.cart.retain(|i| *i != id),
                    _ => {}
                }
            }
            while state.recent.len() > history {
                state.recent.pop_front();
            }
            if state.purchased.len() > 4 * history {
                state.purchased.remove(0);
            }
            state.last_seen = now;
        };
        if let Some(u) = &event.user_id {
            update(self.users.entry(u.clone()).or_default());
        }
        if let Some(s) = &event.session_id {
            update(self.sessions.entry(s.clone()).or_default());
        }
        if self.events_seen.is_multiple_of(50_000) {
            let cutoff = self.clock - self.config.session_ttl_hours * 3600;
            self.sessions.retain(|_, s| s.last_seen >= cutoff);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ItemMeta;
    use chrono::{TimeZone, Utc};

    pub(crate) fn table(n: usize) -> ItemTable {
        let mut t = ItemTable::default();
        for i in 0..n {
            t.upsert(ItemMeta {
                sku: format!("P{i}"),
                category: if i % 2 == 0 {
                    "A > B".into()
                } else {
                    "C".into()
                },
                brand: format!("b{}", i % 3),
                price: 10.0 + i as f64,
                margin: Some(3.0),
                stock: 5,
                backorder: false,
                active: true,
            });
        }
        t
    }

    fn event(ty: EventType, user: &str, sku: &str, secs: i64) -> Event {
        Event {
            event_id: format!("{user}-{sku}-{secs}-{}", ty.as_str()),
            event_type: ty,
            user_id: Some(user.into()),
            session_id: Some(format!("s-{user}")),
            product_ids: vec![sku.into()],
            quantity: None,
            price: None,
            currency: None,
            request_id: None,
            position: None,
            query: None,
            rating: None,
            review: None,
            context: Default::default(),
            timestamp: Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap(),
        }
    }

    #[test]
    fn one_event_updates_graphs_history_and_trending() {
        let items = table(4);
        let mut s = Signals::new(SignalsConfig::default());
        s.observe(&items, &event(EventType::View, "u1", "P0", 0));
        s.observe(&items, &event(EventType::View, "u1", "P1", 10));
        s.observe(&items, &event(EventType::Purchase, "u1", "P1", 20));
        assert_eq!(s.covis.neighbours(0, 5)[0].0, 1);
        assert_eq!(s.transitions.neighbours(0, 5)[0].0, 1);
        assert!(
            s.transitions.neighbours(1, 5).is_empty(),
            "transitions are forward only"
        );
        let u = s.user("u1").unwrap();
        assert_eq!(u.recent_items(), vec![0, 1]);
        assert_eq!(u.purchased, vec![1]);
        assert!(s.trending.score(1, 1_700_000_020) > s.trending.score(0, 1_700_000_020));
        assert_eq!(s.item_stats(1).purchases, 1.0);
    }

    #[test]
    fn trending_decays_by_half_life() {
        let items = table(2);
        let mut s = Signals::new(SignalsConfig::default());
        s.observe(&items, &event(EventType::View, "u", "P0", 0));
        let now = 1_700_000_000;
        let later = now + 24 * 3600;
        assert!((s.trending.score(0, later) - 0.5 * s.trending.score(0, now)).abs() < 1e-4);
        assert_eq!(s.trending.top(5, later, &|_| true)[0].0, 0);
        assert!(s.trending.top(5, later, &|i| i != 0).is_empty());
    }

    #[test]
    fn an_item_without_purchases_inherits_its_categorys_return_rate() {
        let items = table(6);
        let mut s = Signals::new(SignalsConfig::default());
        // Category "A > B" (P0, P2, P4): P0 bought ten times, returned six.
        for k in 0..10 {
            s.observe(&items, &event(EventType::Purchase, "u", "P0", k));
        }
        for k in 0..6 {
            s.observe(&items, &event(EventType::Return, "u", "P0", 20 + k));
        }
        // Category "C" (P1): bought ten times, never returned.
        for k in 0..10 {
            s.observe(&items, &event(EventType::Purchase, "v", "P1", k));
        }
        let a = s.category_stats("A > B");
        assert_eq!((a.purchases, a.returns), (10.0, 6.0));
        // Fifteen days on, every purchase's return window has closed.
        s.clock += 15 * 86_400;
        let p2 = s.pooled_return_rate(2, "A > B");
        let p3 = s.pooled_return_rate(3, "C");
        assert!(
            p2 > 0.3 && p3 < 0.1,
            "unbought items take their category's rate: {p2} {p3}"
        );
        // Evidence moves an item away from its category.
        assert!(s.pooled_return_rate(0, "A > B") > p2);
    }

    #[test]
    fn purchases_count_towards_return_rates_as_their_window_passes() {
        let window = 14 * 86_400;
        let mut e = ReturnExposure::default();
        e.add(0, 0, window);
        e.add(7 * 86_400, 7 * 86_400, window);
        // At day 7: one purchase half-way (0.5), one just made (0).
        assert!((e.exposure(7 * 86_400, window) - 0.5).abs() < 1e-6);
        // At day 14: the first has matured (1), the second is half-way.
        assert!((e.exposure(14 * 86_400, window) - 1.5).abs() < 1e-6);
        // A later purchase folds the matured one into the count.
        e.add(21 * 86_400, 21 * 86_400, window);
        assert!((e.exposure(21 * 86_400, window) - 2.0).abs() < 1e-6);
        assert!((e.exposure(40 * 86_400, window) - 3.0).abs() < 1e-6);
    }
}
