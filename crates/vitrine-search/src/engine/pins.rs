//! Merchandiser pins: a product placed at a fixed position for a query, whatever its relevance.

use super::SearchEngine;
use crate::filters::Filters;
use crate::normalize;
use crate::rules::Rules;
use crate::types::{HitExplain, SearchHit};

impl SearchEngine {
    /// Moves each pinned product of `query` to its position (fetching it when retrieval did not find
    /// it), unless it is inactive or filtered out as out of stock; `explain` names the pin.
    pub(super) fn apply_pins(
        &self,
        hits: &mut Vec<SearchHit>,
        rules: &Rules,
        query: &str,
        filters: &Filters,
        explain: bool,
    ) {
        for (sku, pos) in rules.pins_for(query) {
            let key = normalize::doc_key(sku);
            let Some(d) = self.doc(key) else { continue };
            if !d.active || (filters.in_stock && !d.available) {
                continue;
            }
            let existing = hits.iter().position(|h| h.id == sku);
            let mut hit = match existing {
                Some(i) => hits.remove(i),
                None => self.hit(&d, 0.0, None),
            };
            if explain {
                let e = hit.explain.get_or_insert(HitExplain {
                    lexical: None,
                    lexical_rank: None,
                    semantic: None,
                    semantic_rank: None,
                    relevance: 0.0,
                    rules_factor: 1.0,
                    rules: Vec::new(),
                    personal_factor: 1.0,
                    score: 0.0,
                    ranker_features: None,
                    ranker_contributions: None,
                    ranker_base: None,
                });
                e.rules.push(format!("pinned(position {})", pos + 1));
            }
            let at = pos.min(hits.len());
            hits.insert(at, hit);
        }
    }
}
