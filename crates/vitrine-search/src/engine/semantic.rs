//! Semantic retrieval: embed the query, then rank products by cosine among those the filters admit.
//!
//! Two paths keep constraints inside retrieval: a selective filter set (at most `EXACT_VECTOR_LIMIT`
//! admissible products) is ranked exactly over its members; a broad one walks the HNSW graph with the
//! filter as a predicate. Which products a filter set admits is remembered per catalog generation, like
//! Lucene's filter cache: shoppers repeat the same constraints ("under $50", "for men") far more often
//! than the same query text, and finding the set costs two passes over the text index.

use super::{SearchEngine, EXACT_VECTOR_LIMIT};
use crate::filters::Filters;
use std::sync::Arc;

impl SearchEngine {
    /// The `k` nearest admissible products to the query text, and the query's vector.
    pub(super) async fn semantic(
        &self,
        text: &str,
        filters: &Filters,
        k: usize,
    ) -> Result<(Vec<(u64, f32)>, Vec<f32>), String> {
        let (Some(vectors), Some(embedder)) = (&self.vectors, &self.embedder) else {
            return Err("no embedding model configured".into());
        };
        if vectors.is_empty() {
            return Err("vector index is still being built".into());
        }
        let q = embedder
            .embed(vec![text.to_string()])
            .await
            .map_err(|e| e.to_string())?
            .pop()
            .ok_or("embedder returned no vector")?;
        let adapter = self.query_adapter.read().ok().and_then(|a| a.clone());
        let q = match adapter {
            Some(a) => a.apply(&q),
            None => q,
        };
        let docs = self
            .docs
            .read()
            .map_err(|_| "doc table poisoned".to_string())?;
        let check = filters.prepare();
        let accept = |key: u64| docs.get(&key).is_some_and(|d| check.accepts(d));
        let few = if filters.is_empty() {
            None
        } else {
            self.selective_set(filters)?
        };
        let hits = match few {
            Some(keys) => vectors.search_among(&q, &keys, k, &accept),
            None if filters.is_empty() => vectors.search(&q, k, None),
            None => vectors.search(&q, k, Some(&accept)),
        }
        .map_err(|e| e.to_string())?;
        let hits = hits
            .into_iter()
            .filter(|(_, s)| *s >= self.config.semantic_floor)
            .collect();
        Ok((hits, q))
    }

    /// The products the text index says a selective filter set admits, or `None` when it admits more
    /// than `EXACT_VECTOR_LIMIT` (the graph walk is then the faster path). Remembered per catalog
    /// generation, so a price, stock or catalog change is seen by the next search. The members are not
    /// checked against the doc table here: [`crate::vectors::VectorIndex::search_among`] checks only the
    /// best of them, which keeps both filter paths in step (lenient title matches, archived items).
    fn selective_set(&self, filters: &Filters) -> Result<Option<Arc<Vec<u64>>>, String> {
        let key = format!("{}|{filters:?}", self.generation());
        if let Some(known) = self.filter_sets.get(&key) {
            return Ok(known);
        }
        let few = self
            .lexical
            .filtered_keys(filters, EXACT_VECTOR_LIMIT)
            .map_err(|e| e.to_string())?
            .map(Arc::new);
        self.filter_sets.insert(key, few.clone());
        Ok(few)
    }
}
