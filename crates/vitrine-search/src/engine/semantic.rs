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

/// A query embedding under way on the embedder's worker (see [`SearchEngine::start_query_vector`]).
pub(super) type PendingVector = tokio::task::JoinHandle<Result<Vec<f32>, String>>;

impl SearchEngine {
    /// Starts embedding the query text and returns at once. Why: the text index is searched on this
    /// thread meanwhile, so a search waits for the longer of the two instead of their sum (the embedder
    /// runs its forward passes on its own worker). `None` when there is no semantic side to start.
    pub(super) fn start_query_vector(&self, text: &str) -> Option<PendingVector> {
        let embedder = self.embedder.clone()?;
        if self.vectors.as_ref().is_none_or(|v| v.is_empty()) {
            return None;
        }
        let text = text.to_string();
        Some(tokio::spawn(async move {
            embedder
                .embed(vec![text])
                .await
                .map_err(|e| e.to_string())?
                .pop()
                .ok_or_else(|| "embedder returned no vector".to_string())
        }))
    }

    /// The `k` nearest admissible products to the query text, and the query's vector.
    pub(super) async fn semantic(
        &self,
        text: &str,
        filters: &Filters,
        k: usize,
    ) -> Result<(Vec<(u64, f32)>, Vec<f32>), String> {
        let pending = self.start_query_vector(text);
        self.semantic_from(pending, filters, k).await
    }

    /// [`Self::semantic`] with the query's embedding already started.
    pub(super) async fn semantic_from(
        &self,
        pending: Option<PendingVector>,
        filters: &Filters,
        k: usize,
    ) -> Result<(Vec<(u64, f32)>, Vec<f32>), String> {
        let (Some(vectors), Some(_)) = (&self.vectors, &self.embedder) else {
            return Err("no embedding model configured".into());
        };
        if vectors.is_empty() {
            return Err("vector index is still being built".into());
        }
        let q = pending
            .ok_or("vector index is still being built")?
            .await
            .map_err(|e| format!("query embedding stopped: {e}"))??;
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
