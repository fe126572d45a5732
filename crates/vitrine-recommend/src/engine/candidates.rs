//! Candidate generation per surface: each source proposes items with a score, summed over the anchors
//! (context items or the shopper's recent items, recency-decayed) and normalised per source so the ranker
//! sees comparable numbers whatever the traffic level.

use crate::catalog::ItemId;
use crate::features::SOURCES;
use crate::registry::ModelBundle;
use crate::seqrec::linear::decayed_inputs;
use crate::signals::Signals;
use crate::types::Surface;
use rustc_hash::FxHashMap as HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Source indices (positions in [`SOURCES`]).
pub(crate) const COVIS: usize = 0;
pub(crate) const TRANSITION: usize = 1;
pub(crate) const BASKET: usize = 2;
pub(crate) const SEQUENCE: usize = 3;
pub(crate) const CONTENT: usize = 4;
pub(crate) const TRENDING: usize = 5;
pub(crate) const POPULAR: usize = 6;

/// Candidates with one score per source.
#[derive(Debug, Default)]
pub(crate) struct CandidateSet {
    pub(crate) scores: HashMap<ItemId, [f32; 7]>,
}

impl CandidateSet {
    pub(crate) fn add(&mut self, item: ItemId, source: usize, score: f32) {
        if score > 0.0 && score.is_finite() {
            self.scores.entry(item).or_insert([0.0; 7])[source] += score;
        }
    }

    /// Divides each source's scores by that source's best, so every source tops out at 1.
    pub(crate) fn normalise(&mut self) {
        let mut best = [0f32; 7];
        for s in self.scores.values() {
            for (b, v) in best.iter_mut().zip(s) {
                *b = b.max(*v);
            }
        }
        for s in self.scores.values_mut() {
            for (v, b) in s.iter_mut().zip(best) {
                if b > 0.0 {
                    *v /= b;
                }
            }
        }
    }

    /// Keeps the `keep` candidates with the highest `score` (ties by item id), so ranking cost is bounded.
    pub(crate) fn keep_best(&mut self, keep: usize, score: &dyn Fn(&[f32; 7]) -> f32) {
        if self.scores.len() <= keep {
            return;
        }
        let mut all: Vec<(ItemId, f32)> = self.scores.iter().map(|(i, s)| (*i, score(s))).collect();
        all.select_nth_unstable_by(keep, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let kept: rustc_hash::FxHashSet<ItemId> = all[..keep].iter().map(|e| e.0).collect();
        self.scores.retain(|i, _| kept.contains(i));
    }

    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }
}

/// Source names with non-zero scores, for `explain`.
pub(crate) fn source_names(scores: &[f32; 7]) -> Vec<(&'static str, f32)> {
    SOURCES
        .iter()
        .zip(scores)
        .filter(|(_, s)| **s > 0.0)
        .map(|(n, s)| (*n, *s))
        .collect()
}

/// (trending, popular) lists: `(item, score)`, best first.
pub(crate) type Tops = (Vec<(ItemId, f32)>, Vec<(ItemId, f32)>);

/// Whole-catalog top lists (trending, popular) recomputed at most once a second, not per request.
///
/// When the lists are due, one request recomputes them (a few milliseconds over 100k items) while every
/// other request keeps using the previous lists. Without that, all requests arriving during the
/// recomputation redid it at once, and once a second a burst of answers waited on two busy cores (the
/// p99 of `similar` at low load was ten times its p50).
#[derive(Debug, Default)]
pub(crate) struct TopLists {
    cached: Mutex<Option<(Instant, std::sync::Arc<Tops>)>>,
    refreshing: std::sync::atomic::AtomicBool,
}

/// Items kept in each cached top list.
const TOP_LIST: usize = 2_000;

impl TopLists {
    /// (trending, popular), best first.
    pub(crate) fn get(&self, signals: &Signals) -> std::sync::Arc<Tops> {
        use std::sync::atomic::Ordering;
        if let Ok(guard) = self.cached.lock() {
            if let Some((at, lists)) = guard.as_ref() {
                let fresh = at.elapsed() < Duration::from_secs(1);
                if fresh
                    || self
                        .refreshing
                        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                        .is_err()
                {
                    // Fresh, or another request is already recomputing: the current lists serve.
                    return lists.clone();
                }
            }
        }
        let lists = self.compute(signals);
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Some((Instant::now(), lists.clone()));
        }
        self.refreshing.store(false, Ordering::Release);
        lists
    }

    fn compute(&self, signals: &Signals) -> std::sync::Arc<Tops> {
        let trending = signals.trending.top(TOP_LIST, signals.clock, &|_| true);
        let mut popular: Vec<(ItemId, f32)> = signals
            .stats
            .iter()
            .enumerate()
            .filter(|(_, s)| s.activity() > 0.0)
            .map(|(i, s)| (i as ItemId, (1.0 + s.activity() + 3.0 * s.purchases).ln()))
            .collect();
        if popular.len() > TOP_LIST {
            popular.select_nth_unstable_by(TOP_LIST, |a, b| b.1.total_cmp(&a.1));
            popular.truncate(TOP_LIST);
        }
        popular.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        std::sync::Arc::new((trending, popular))
    }
}

/// What candidate generation works from.
pub(crate) struct Anchors<'a> {
    pub(crate) surface: Surface,
    /// Context items (request `items`), oldest first.
    pub(crate) context: &'a [ItemId],
    /// Cart items.
    pub(crate) cart: &'a [ItemId],
    /// The shopper's recent items (user and session), oldest first.
    pub(crate) recent: &'a [ItemId],
    pub(crate) per_source: usize,
}

fn weighted(items: &[ItemId], tau: f32) -> Vec<(ItemId, f32)> {
    decayed_inputs(items, tau, 20)
}

/// Signal-based candidates (everything except content similarity, which the engine adds).
pub(crate) fn generate(
    a: &Anchors<'_>,
    signals: &Signals,
    bundle: &ModelBundle,
    tops: &Tops,
) -> CandidateSet {
    let mut set = CandidateSet::default();
    let k = a.per_source.max(1);
    let history: Vec<ItemId> = a.recent.iter().chain(a.context).copied().collect();
    let sequence = |set: &mut CandidateSet, anchors: &[(ItemId, f32)]| {
        if let Some(seq) = &bundle.sequence {
            for &(item, w) in anchors {
                if let Some(&row) = bundle.row_of.get(&item) {
                    for &(j, v) in seq.model.neighbours(row).iter().take(k) {
                        if let Some(Some(id)) = bundle.item_of.get(j as usize) {
                            set.add(*id, SEQUENCE, w * v);
                        }
                    }
                }
            }
        }
    };
    let graph = |set: &mut CandidateSet,
                 g: &crate::covis::CoVisitation,
                 source: usize,
                 anchors: &[(ItemId, f32)]| {
        for &(item, w) in anchors {
            for (j, v) in g.neighbours(item, k) {
                set.add(j, source, w * v);
            }
        }
    };
    match a.surface {
        Surface::Similar => {
            let anchors = weighted(a.context, 1.0);
            graph(&mut set, &signals.covis, COVIS, &anchors);
            graph(&mut set, &signals.transitions, TRANSITION, &anchors);
            sequence(&mut set, &anchors);
        }
        Surface::BoughtTogether => {
            let basket: Vec<ItemId> = a.cart.iter().chain(a.context).copied().collect();
            let anchors = weighted(&basket, 4.0);
            graph(&mut set, &signals.basket, BASKET, &anchors);
            graph(&mut set, &signals.covis, COVIS, &anchors);
        }
        Surface::ForYou | Surface::Next => {
            let tau = if a.surface == Surface::Next { 1.0 } else { 3.0 };
            let anchors = weighted(&history, tau);
            graph(&mut set, &signals.covis, COVIS, &anchors);
            let last: Vec<(ItemId, f32)> =
                weighted(&history, 1.0).into_iter().rev().take(3).collect();
            graph(&mut set, &signals.transitions, TRANSITION, &last);
            sequence(&mut set, &anchors);
            if a.surface == Surface::ForYou {
                for &(item, score) in tops.0.iter().take(k) {
                    set.add(item, TRENDING, score);
                }
            }
        }
        Surface::Trending => {
            for &(item, score) in tops.0.iter().take(4 * k) {
                set.add(item, TRENDING, score);
            }
        }
    }
    set
}
