//! Facet counts: how many of the best matches carry each value of the requested attributes, counted
//! from the codes each product carries ([`SearchDoc::facet_codes`]) rather than from its strings.

use super::SearchEngine;
use crate::doc::{facet_code, SearchDoc};
use crate::normalize;
use crate::types::{FacetCount, SearchRequest};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

impl SearchEngine {
    /// Counts per value of each requested facet (the configured defaults when the request names none)
    /// over the first `facet_sample` of `keys`, most frequent first.
    pub(super) fn facets(
        &self,
        docs: &FxHashMap<u64, Arc<SearchDoc>>,
        keys: &[u64],
        r: &SearchRequest,
    ) -> BTreeMap<String, Vec<FacetCount>> {
        let names: Vec<String> = if r.facets.is_empty() {
            self.config.default_facets.clone()
        } else {
            r.facets
                .iter()
                .map(|f| normalize::phrase(f).replace(' ', "_"))
                .collect()
        };
        // Precomputed codes while counting: this runs over up to `facet_sample` products per search, and
        // hashing or cloning names and values per product was the largest single cost of an uncached search.
        let wanted: Vec<u64> = names.iter().map(|n| facet_code(n, "")).collect();
        let mut counts: Vec<FxHashMap<u64, (&str, u32)>> = vec![FxHashMap::default(); names.len()];
        // Every product costs three cache misses before it can be counted: its map slot, its record and
        // its codes. Taken one product at a time, each miss is waited for in turn; two tight passes first
        // (find the records, then read where their codes are) let the processor overlap them.
        let found: Vec<&SearchDoc> = keys
            .iter()
            .take(self.config.facet_sample)
            .filter_map(|k| docs.get(k).map(Arc::as_ref))
            .collect();
        let codes: Vec<&[(u64, u64)]> = found.iter().map(|d| &*d.facet_codes).collect();
        for (d, codes) in found.iter().zip(codes) {
            for (j, &(name_code, value_code)) in codes.iter().enumerate() {
                if let Some(i) = wanted.iter().position(|&w| w == name_code) {
                    let slot = counts[i].entry(value_code).or_insert(("", 0));
                    if slot.1 == 0 {
                        slot.0 = d.facets.get(j).map_or("", |f| f.display.as_str());
                    }
                    slot.1 += 1;
                }
            }
        }
        names
            .iter()
            .zip(counts)
            .filter(|(_, values)| !values.is_empty())
            .map(|(name, values)| {
                let mut v: Vec<FacetCount> = values
                    .into_values()
                    .map(|(display, count)| FacetCount {
                        value: display.to_string(),
                        count,
                    })
                    .collect();
                v.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
                v.truncate(self.config.facet_values);
                (name.clone(), v)
            })
            .collect()
    }
}
