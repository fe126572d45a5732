//! Item-to-item co-visitation, updated one event at a time.
//!
//! When a shopper acts on item `j` after items `i₁ … iₖ` (most recent last), each pair `(i, j)` gains
//! `event weight × gap decay`, forwards (`i → j`, "what comes next") at full weight and backwards (`j → i`)
//! at `backward` weight. Neighbour lists are pruned to the strongest `max_neighbours` when they grow past
//! twice that, so memory is bounded and an update costs O(window). Scores are normalised by the source
//! item's total so a very popular item does not drown every list.

use rustc_hash::FxHashMap as HashMap;
use serde::{Deserialize, Serialize};

/// How co-visitation weighs pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoVisitConfig {
    /// How many previous items of the same shopper pair with a new one.
    pub window: usize,
    /// Weight of the reverse direction (j was seen after i, so i is related to j too).
    pub backward: f32,
    /// Each step further back multiplies the pair weight by this.
    pub gap_decay: f32,
    /// Neighbours kept per item.
    pub max_neighbours: usize,
    /// Exponent of the source total in the normalisation (0: raw counts, 1: conditional share).
    pub normalise: f32,
}

impl Default for CoVisitConfig {
    fn default() -> Self {
        Self {
            window: 8,
            backward: 0.5,
            gap_decay: 0.6,
            max_neighbours: 200,
            normalise: 0.5,
        }
    }
}

/// The co-visitation graph over dense item indices.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CoVisitation {
    config: CoVisitConfig,
    neighbours: Vec<HashMap<u32, f32>>,
    totals: Vec<f32>,
}

impl CoVisitation {
    /// An empty graph.
    pub fn new(config: CoVisitConfig) -> Self {
        Self {
            config,
            neighbours: Vec::new(),
            totals: Vec::new(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &CoVisitConfig {
        &self.config
    }

    fn ensure(&mut self, item: u32) {
        let needed = item as usize + 1;
        if self.neighbours.len() < needed {
            self.neighbours.resize_with(needed, HashMap::default);
            self.totals.resize(needed, 0.0);
        }
    }

    fn bump(&mut self, from: u32, to: u32, weight: f32) {
        self.ensure(from.max(to));
        let list = &mut self.neighbours[from as usize];
        *list.entry(to).or_insert(0.0) += weight;
        self.totals[from as usize] += weight;
        let limit = self.config.max_neighbours.max(1);
        if list.len() > 2 * limit {
            let mut entries: Vec<(u32, f32)> = list.drain().collect();
            entries.sort_by(|a, b| b.1.total_cmp(&a.1));
            entries.truncate(limit);
            list.extend(entries);
        }
    }

    /// Records that `item` followed `previous` (oldest first) with the event's `weight`.
    pub fn observe(&mut self, previous: &[u32], item: u32, weight: f32) {
        self.ensure(item);
        let start = previous.len().saturating_sub(self.config.window);
        let mut decay = 1.0;
        for &before in previous[start..].iter().rev() {
            if before != item {
                self.bump(before, item, weight * decay);
                if self.config.backward > 0.0 {
                    self.bump(item, before, weight * decay * self.config.backward);
                }
            }
            decay *= self.config.gap_decay;
        }
    }

    /// Feeds a whole sequence, every event with weight 1.
    pub fn observe_sequence(&mut self, sequence: &[u32]) {
        for t in 0..sequence.len() {
            self.observe(&sequence[..t], sequence[t], 1.0);
        }
    }

    /// Normalised neighbours of `item`, strongest first, at most `limit`.
    pub fn neighbours(&self, item: u32, limit: usize) -> Vec<(u32, f32)> {
        let Some(list) = self.neighbours.get(item as usize) else {
            return Vec::new();
        };
        let norm = self.totals[item as usize]
            .max(1e-6)
            .powf(self.config.normalise);
        let mut out: Vec<(u32, f32)> = list.iter().map(|(&j, &w)| (j, w / norm)).collect();
        out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(limit);
        out
    }

    /// Adds `weight ×` the normalised neighbours of `item` into `scores` (indexed by item).
    pub fn add_neighbours(&self, item: u32, weight: f32, scores: &mut [f32]) {
        let Some(list) = self.neighbours.get(item as usize) else {
            return;
        };
        let norm = self.totals[item as usize]
            .max(1e-6)
            .powf(self.config.normalise);
        for (&j, &w) in list {
            if let Some(s) = scores.get_mut(j as usize) {
                *s += weight * w / norm;
            }
        }
    }

    /// Items with at least one neighbour.
    pub fn items_with_neighbours(&self) -> usize {
        self.neighbours.iter().filter(|l| !l.is_empty()).count()
    }
}

/// Co-visitation as an offline next-item scorer: the shopper's recent items, decayed, vote for neighbours.
pub struct CoVisitScorer {
    /// The graph.
    pub graph: CoVisitation,
    /// Position decay of the shopper's items.
    pub tau: f32,
}

impl crate::seqrec::NextItemScorer for CoVisitScorer {
    fn score(&self, context: &[u32], scores: &mut [f32]) {
        for (item, weight) in crate::seqrec::linear::decayed_inputs(context, self.tau, 20) {
            self.graph.add_neighbours(item, weight, scores);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_pairs_outweigh_backward_and_decay_with_gap() {
        let mut g = CoVisitation::new(CoVisitConfig::default());
        g.observe_sequence(&[1, 2, 3]);
        let from1 = g.neighbours(1, 10);
        assert_eq!(from1[0].0, 2, "the next item is the strongest neighbour");
        let w12 = from1[0].1;
        let w13 = from1.iter().find(|e| e.0 == 3).unwrap().1;
        assert!(w13 < w12);
        let from2 = g.neighbours(2, 10);
        let back = from2.iter().find(|e| e.0 == 1).unwrap().1;
        let fwd = from2.iter().find(|e| e.0 == 3).unwrap().1;
        assert!(back < fwd);
    }

    #[test]
    fn neighbour_lists_stay_bounded() {
        let config = CoVisitConfig {
            max_neighbours: 5,
            window: 1,
            ..Default::default()
        };
        let mut g = CoVisitation::new(config);
        for j in 1..100 {
            g.observe(&[0], j, 1.0);
        }
        assert!(g.neighbours[0].len() <= 10);
    }
}
