//! A top-k collector that orders equal scores by product key.
//!
//! Why: tantivy's `TopDocs` breaks ties by document address, which depends on the segment each
//! product landed in, and the index is built by parallel writers. Identical titles are common
//! (Home Depot repeats a title a few times; generated catalogs far more), so which of several equal
//! scores a limit kept changed between two builds of the same catalog, and with it the learned
//! ranker's candidate pool and every relevance figure. Ordering by key inside the collector is exact
//! however many products share the score at the cut. It stays as cheap as `TopDocs`: a match below
//! the running threshold costs one comparison, and keys are read only for the few hits kept.

use crate::doc_keys::SegmentKeys;
use rustc_hash::FxHashMap;
use std::cmp::Ordering;
use std::sync::Arc;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::index::SegmentId;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

/// The `limit` best matches as (product key, score): higher score first, then smaller key.
pub(crate) struct TopByScoreThenKey {
    pub limit: usize,
    /// Each searched segment's keys by document id.
    pub keys: Arc<FxHashMap<SegmentId, Arc<SegmentKeys>>>,
}

/// One segment's share of [`TopByScoreThenKey`].
pub(crate) struct SegmentTop {
    limit: usize,
    keys: Option<Arc<SegmentKeys>>,
    /// Candidates at or above `threshold`; cut back to `limit` when it doubles.
    buffer: Vec<(Score, DocId)>,
    /// The score of the `limit`-th hit after the last cut: anything below can never be kept.
    threshold: Score,
}

/// Best first: higher score, then smaller key.
fn best_first(a: &(u64, Score), b: &(u64, Score)) -> Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

impl SegmentTop {
    /// Keeps the `limit` best of the buffer and raises the threshold to the last one's score.
    fn cut(&mut self) {
        let Some(keys) = &self.keys else {
            self.buffer.clear();
            return;
        };
        let mut keyed: Vec<(u64, Score, DocId)> = self
            .buffer
            .iter()
            .filter_map(|&(score, doc)| keys.get(doc).map(|k| (k, score, doc)))
            .collect();
        if keyed.len() > self.limit {
            keyed.select_nth_unstable_by(self.limit - 1, |a, b| {
                best_first(&(a.0, a.1), &(b.0, b.1))
            });
            keyed.truncate(self.limit);
            self.threshold = keyed.iter().map(|h| h.1).fold(Score::INFINITY, Score::min);
        }
        self.buffer = keyed.into_iter().map(|(_, s, d)| (s, d)).collect();
    }
}

impl SegmentCollector for SegmentTop {
    type Fruit = Vec<(u64, Score)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        // Equal to the threshold still competes: its key may be smaller than the last one kept.
        if score < self.threshold {
            return;
        }
        self.buffer.push((score, doc));
        if self.buffer.len() >= 2 * self.limit.max(16) {
            self.cut();
        }
    }

    fn harvest(mut self) -> Self::Fruit {
        self.cut();
        let Some(keys) = &self.keys else {
            return Vec::new();
        };
        self.buffer
            .iter()
            .filter_map(|&(score, doc)| keys.get(doc).map(|k| (k, score)))
            .collect()
    }
}

impl Collector for TopByScoreThenKey {
    type Fruit = Vec<(u64, Score)>;
    type Child = SegmentTop;

    fn for_segment(
        &self,
        _segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentTop> {
        Ok(SegmentTop {
            limit: self.limit.max(1),
            keys: self.keys.get(&reader.segment_id()).cloned(),
            buffer: Vec::new(),
            threshold: Score::NEG_INFINITY,
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, segments: Vec<Vec<(u64, Score)>>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(u64, Score)> = segments.into_iter().flatten().collect();
        all.sort_unstable_by(best_first);
        all.truncate(self.limit.max(1));
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use crate::filters::Filters;
    use crate::lexical::{LexicalIndex, LexicalQuery};
    use crate::synonyms::Synonyms;
    use crate::test_support::{doc, index_titles};

    /// Every cut of the ranking, at any limit, is the head of the full ranking: the running
    /// threshold never drops a hit that belongs in the top, equal scores included.
    #[test]
    fn any_limit_gives_the_head_of_the_full_order() {
        let index = LexicalIndex::open(None).expect("index");
        // Three segments of 150 products; titles repeat (equal scores) and vary in length
        // (different scores).
        for segment in 0..3 {
            let docs: Vec<_> = (0..150)
                .map(|i| {
                    let n = segment * 150 + i;
                    let filler = " brass".repeat((n * 7) % 5);
                    doc(&format!("P-{n}"), &format!("Desk Lamp{filler}"))
                })
                .collect();
            index_titles(&index, &docs, segment as i64 + 1);
        }
        let q = LexicalQuery {
            text: "desk lamp",
            filters: &Filters::default(),
            synonyms: &Synonyms::default(),
        };
        let all = index.search(&q, 1_000).expect("search");
        assert_eq!(all.total, 450);
        assert_eq!(all.hits.len(), 450);
        assert!(all
            .hits
            .windows(2)
            .all(|w| w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0)));
        for limit in [1, 3, 10, 40, 100, 449] {
            let top = index.search(&q, limit).expect("search");
            assert_eq!(top.hits, all.hits[..limit], "limit {limit}");
        }
    }
}
