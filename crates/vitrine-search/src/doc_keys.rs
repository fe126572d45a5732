//! Product keys of a text-index segment as a plain array indexed by document id.
//!
//! Why: every search turns up to 1,000 text hits into product keys, and building a selective filter
//! set turns up to 5,000. Read from tantivy's fast-field column, each key goes through a dynamic codec
//! (`MonotonicMappingColumn::get_val`): 4 % of an uncached search's CPU by profile. A segment never
//! renumbers its documents, so its keys are read once into a `Vec<u64>` (8 bytes a document, 0.8 MB
//! for 100,000 products) and reused until the segment leaves the index.

use crate::SearchError;
use rustc_hash::FxHashMap;
use std::sync::{Arc, Mutex};
use tantivy::index::SegmentId;
use tantivy::{DocId, Searcher, SegmentReader};

/// The fast field holding a document's product key.
pub(crate) const KEY_FIELD: &str = "key";

/// Keys by document id for the segments searched recently, shared by all searches of one index.
#[derive(Default)]
pub(crate) struct DocKeys {
    by_segment: Mutex<FxHashMap<SegmentId, Arc<SegmentKeys>>>,
}

/// One segment's keys: `None` for a document without one (cannot happen for indexed products).
pub(crate) struct SegmentKeys {
    keys: Vec<Option<u64>>,
}

impl SegmentKeys {
    /// The product key of document `doc`.
    pub(crate) fn get(&self, doc: DocId) -> Option<u64> {
        self.keys.get(doc as usize).copied().flatten()
    }
}

impl DocKeys {
    /// The keys of `reader`'s segment, read from its column on first use. Entries of segments that
    /// `searcher` no longer holds (merged or deleted) are dropped when a new segment is read.
    pub(crate) fn of(
        &self,
        searcher: &Searcher,
        reader: &SegmentReader,
    ) -> Result<Arc<SegmentKeys>, SearchError> {
        let id = reader.segment_id();
        if let Some(known) = self
            .by_segment
            .lock()
            .ok()
            .and_then(|m| m.get(&id).cloned())
        {
            return Ok(known);
        }
        let column = reader
            .fast_fields()
            .u64(KEY_FIELD)
            .map_err(|e| SearchError::Index(e.to_string()))?;
        let keys = Arc::new(SegmentKeys {
            keys: (0..reader.max_doc()).map(|doc| column.first(doc)).collect(),
        });
        if let Ok(mut map) = self.by_segment.lock() {
            let live: Vec<SegmentId> = searcher
                .segment_readers()
                .iter()
                .map(SegmentReader::segment_id)
                .collect();
            map.retain(|s, _| live.contains(s));
            map.insert(id, keys.clone());
        }
        Ok(keys)
    }

    /// How many segments' keys are held (tests check that merged segments are let go).
    #[cfg(test)]
    pub(crate) fn segments(&self) -> usize {
        self.by_segment.lock().map_or(0, |m| m.len())
    }
}

#[cfg(test)]
mod tests {
    use crate::filters::Filters;
    use crate::lexical::LexicalIndex;
    use crate::test_support::{doc, index_titles, sorted_hits};

    fn add(index: &LexicalIndex, ids: &[&str], watermark: i64) -> Vec<u64> {
        let docs: Vec<_> = ids
            .iter()
            .map(|id| doc(id, &format!("linen shirt {id}")))
            .collect();
        index_titles(index, &docs, watermark);
        docs.iter().map(|d| d.key).collect()
    }

    fn found(index: &LexicalIndex) -> Vec<u64> {
        sorted_hits(index, "shirt", &Filters::default())
    }

    #[test]
    fn hits_carry_their_own_keys_across_new_and_merged_segments() {
        let index = LexicalIndex::open(None).expect("index");
        let mut want = add(&index, &["a", "b", "c"], 1);
        want.sort_unstable();
        assert_eq!(found(&index), want);
        // A second segment, and a replaced product (its old document is deleted, not renumbered).
        let mut more = add(&index, &["d", "a"], 2);
        want.extend(more.drain(..1));
        want.sort_unstable();
        assert_eq!(found(&index), want);
        assert_eq!(index.doc_keys_segments(), 2);
        // Merged into one segment: the two old segments' keys are let go, the answer is unchanged.
        index.compact().expect("compact");
        assert_eq!(found(&index), want);
        assert_eq!(index.doc_keys_segments(), 1);
    }
}
