//! The price constraint as a remembered document set per index segment.
//!
//! Why: tantivy answers a price range by unpacking the whole price column of every segment, on every
//! search. In the 100,000-product benchmark that scan was the second largest cost of an uncached search
//! (8.7 % of the server's time, session 18 profile), although shoppers' price constraints repeat far more
//! than their words ("under $50", "between $20 and $40"). A segment never changes once written (an
//! update writes a new segment; deletions are applied by tantivy on top of any scorer), so the set of its
//! documents within a price range can be kept and reused until the segment is merged away. Entries of
//! merged-away segments are simply never asked for again and go with the next clear.

use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};
use tantivy::index::SegmentId;
use tantivy::query::{
    BitSetDocSet, ConstScorer, EnableScoring, Explanation, Query, Scorer, Weight,
};
use tantivy::{DocId, Score, SegmentReader, TantivyError};
use tantivy_common::BitSet;

/// Memory the remembered sets may take before they are all dropped (a 100,000-document segment's set
/// is 12.5 KB, so this holds thousands of ranges of a catalog that size).
const MAX_BYTES: usize = 32 << 20;

/// The fast field the constraint reads (the text index's schema declares it under this name).
pub(crate) const PRICE_FIELD: &str = "price";

/// The per-segment sets of documents within a price range, shared by all searches of one index.
#[derive(Default)]
pub struct PriceSets {
    inner: Mutex<Sets>,
}

#[derive(Default)]
struct Sets {
    by_range: FxHashMap<(SegmentId, u64, u64), Arc<BitSet>>,
    bytes: usize,
}

impl PriceSets {
    /// The documents of the segment whose price lies in `lo..=hi`, computed on the first request.
    fn get(&self, reader: &SegmentReader, lo: f64, hi: f64) -> tantivy::Result<Arc<BitSet>> {
        let key = (reader.segment_id(), lo.to_bits(), hi.to_bits());
        if let Some(known) = self
            .inner
            .lock()
            .ok()
            .and_then(|s| s.by_range.get(&key).cloned())
        {
            return Ok(known);
        }
        let column = reader.fast_fields().f64(PRICE_FIELD)?;
        let mut docs = Vec::new();
        column.get_docids_for_value_range(lo..=hi, 0..reader.max_doc(), &mut docs);
        let mut set = BitSet::with_max_value(reader.max_doc());
        for doc in docs {
            set.insert(doc);
        }
        let set = Arc::new(set);
        if let Ok(mut sets) = self.inner.lock() {
            let size = reader.max_doc() as usize / 8 + 64;
            if sets.bytes + size > MAX_BYTES {
                sets.by_range.clear();
                sets.bytes = 0;
            }
            // A concurrent search may have stored the same range meanwhile: count its bytes once.
            if sets.by_range.insert(key, set.clone()).is_none() {
                sets.bytes += size;
            }
        }
        Ok(set)
    }

    /// How many ranges are remembered (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().map_or(0, |s| s.by_range.len())
    }
}

/// A query matching the products priced within `lo..=hi` (bounds inclusive; infinite for an open side),
/// served from [`PriceSets`].
#[derive(Clone)]
pub struct PriceRangeQuery {
    lo: f64,
    hi: f64,
    sets: Arc<PriceSets>,
}

impl PriceRangeQuery {
    /// A price constraint; `None` bounds are open.
    pub fn new(min: Option<f64>, max: Option<f64>, sets: Arc<PriceSets>) -> Self {
        Self {
            lo: min.unwrap_or(f64::NEG_INFINITY),
            hi: max.unwrap_or(f64::INFINITY),
            sets,
        }
    }
}

impl std::fmt::Debug for PriceRangeQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PriceRange({}..={})", self.lo, self.hi)
    }
}

impl Query for PriceRangeQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for PriceRangeQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let set = self.sets.get(reader, self.lo, self.hi)?;
        Ok(Box::new(ConstScorer::new(
            BitSetDocSet::from((*set).clone()),
            boost,
        )))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self.sets.get(reader, self.lo, self.hi)?.contains(doc) {
            Ok(Explanation::new("price within the range", 1.0))
        } else {
            Err(TantivyError::InvalidArgument(format!(
                "document {doc} is not priced within {self:?}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::filters::Filters;
    use crate::lexical::LexicalIndex;
    use crate::test_support::{doc, index_titles, sorted_hits};

    fn index_at(index: &LexicalIndex, priced: &[(&str, f64)], watermark: i64) {
        let docs: Vec<_> = priced
            .iter()
            .map(|(id, price)| {
                let mut d = doc(id, &format!("linen shirt {id}"));
                d.price = *price;
                d
            })
            .collect();
        index_titles(index, &docs, watermark);
    }

    fn within(index: &LexicalIndex, min: Option<f64>, max: Option<f64>) -> Vec<u64> {
        let filters = Filters {
            price_min: min,
            price_max: max,
            ..Default::default()
        };
        sorted_hits(index, "shirt", &filters)
    }

    fn keys(ids: &[&str]) -> Vec<u64> {
        let mut k: Vec<u64> = ids.iter().map(|id| crate::normalize::doc_key(id)).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn bounds_are_inclusive_and_open_sides_unbounded() {
        let index = LexicalIndex::open(None).expect("index");
        index_at(
            &index,
            &[("a", 5.0), ("b", 20.0), ("c", 40.0), ("d", 80.0)],
            1,
        );
        assert_eq!(within(&index, Some(20.0), Some(40.0)), keys(&["b", "c"]));
        assert_eq!(within(&index, None, Some(20.0)), keys(&["a", "b"]));
        assert_eq!(within(&index, Some(40.5), None), keys(&["d"]));
        assert_eq!(within(&index, Some(90.0), None), keys(&[]));
        // The same range again is answered from the remembered set, with the same products.
        let remembered = index.price_sets_len();
        assert_eq!(within(&index, Some(20.0), Some(40.0)), keys(&["b", "c"]));
        assert_eq!(index.price_sets_len(), remembered);
    }

    #[test]
    fn a_price_change_is_seen_by_the_next_search_of_a_remembered_range() {
        let index = LexicalIndex::open(None).expect("index");
        index_at(&index, &[("a", 5.0), ("b", 20.0), ("c", 40.0)], 1);
        assert_eq!(within(&index, None, Some(25.0)), keys(&["a", "b"]));
        // "c" drops to 15 and "b" rises to 30: the update lands in a new segment and deletes the old rows.
        index_at(&index, &[("b", 30.0), ("c", 15.0)], 2);
        assert_eq!(within(&index, None, Some(25.0)), keys(&["a", "c"]));
    }
}
