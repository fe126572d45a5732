//! The vector index: HNSW (usearch) over product embeddings, stored int8-quantized, cosine metric,
//! with filtered graph search so constraints are enforced during traversal. It remembers which text each
//! vector was made from, so price or stock changes never pay for a re-embedding.

use crate::SearchError;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};

mod flat;
use flat::FlatVectors;

/// HNSW parameters; chosen by `vitrine bench vectors` (recall@10 ≥ 0.95 against exact search).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HnswParams {
    /// Graph degree (M).
    pub connectivity: usize,
    /// Candidate list size while building (efConstruction).
    pub expansion_add: usize,
    /// Candidate list size while searching (ef).
    pub expansion_search: usize,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 96,
        }
    }
}

/// Concurrent searches the index prepares scratch space for.
const SEARCH_THREADS: usize = 256;

struct Inner {
    index: Index,
    /// key → hash of the text its vector was computed from.
    sources: HashMap<u64, u64>,
    /// The same vectors as `index`, as contiguous rows for exact scoring.
    flat: FlatVectors,
    watermark: i64,
}

/// HNSW index of product vectors.
pub struct VectorIndex {
    inner: RwLock<Inner>,
    dir: Option<PathBuf>,
    /// The embedding model the vectors come from; vectors of another model are not comparable.
    model: String,
    dimensions: usize,
    params: HnswParams,
}

fn options(dimensions: usize, p: HnswParams) -> IndexOptions {
    IndexOptions {
        dimensions,
        metric: MetricKind::Cos,
        quantization: ScalarKind::I8,
        connectivity: p.connectivity,
        expansion_add: p.expansion_add,
        expansion_search: p.expansion_search,
        multi: false,
    }
}

/// Quantizes a vector to int8 with its own scale (largest component → ±127). Cosine ignores scale, so the
/// index compares these directly; usearch's built-in conversion maps [-1, 1] to [-127, 127], which leaves
/// unit-length embeddings (components around ±0.05) only a few levels and costs recall.
fn to_i8(v: &[f32]) -> Vec<i8> {
    let m = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if m > 0.0 { 127.0 / m } else { 0.0 };
    v.iter()
        .map(|x| (x * scale).round().clamp(-127.0, 127.0) as i8)
        .collect()
}

/// usearch answers cosine *distances*; callers rank by similarity (1 − distance).
fn similarities(m: usearch::ffi::Matches) -> Vec<(u64, f32)> {
    m.keys
        .into_iter()
        .zip(m.distances)
        .map(|(key, d)| (key, 1.0 - d))
        .collect()
}

fn usearch_err(e: impl std::fmt::Display) -> SearchError {
    SearchError::Index(format!("vector index: {e}"))
}

impl VectorIndex {
    /// Opens the index saved in `dir` (or creates it); `None` keeps it in memory. `model` names the
    /// embedding model (and weights): an index saved for another model is rebuilt, because its vectors
    /// cannot be compared with the new model's queries.
    pub fn open(
        dir: Option<&Path>,
        dimensions: usize,
        params: HnswParams,
        model: &str,
    ) -> Result<Self, SearchError> {
        let index = Index::new(&options(dimensions, params)).map_err(usearch_err)?;
        let mut inner = Inner {
            index,
            sources: HashMap::new(),
            flat: FlatVectors::new(dimensions),
            watermark: 0,
        };
        if let Some(d) = dir {
            std::fs::create_dir_all(d).map_err(|e| SearchError::Io(d.display().to_string(), e))?;
            let graph = d.join("vectors.usearch");
            let state = d.join("vectors.state");
            // Indexes saved before the model was recorded were built with the installed model.
            let saved_model = std::fs::read_to_string(d.join("vectors.model"))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| model.to_string());
            if graph.exists() && state.exists() {
                match read_state(&state) {
                    Ok((_, _, dims)) if dims == dimensions && saved_model != model => {
                        tracing::warn!(
                            saved = %saved_model,
                            model,
                            "vector index was built with other embedding weights; rebuilding"
                        );
                    }
                    Ok((wm, sources, dims)) if dims == dimensions => {
                        inner
                            .index
                            .load(&graph.to_string_lossy())
                            .map_err(usearch_err)?;
                        inner.watermark = wm;
                        inner.sources = sources;
                        let mut row = vec![0i8; dimensions];
                        for &key in inner.sources.keys() {
                            if matches!(inner.index.get(key, &mut row), Ok(n) if n > 0) {
                                inner.flat.insert(key, &row);
                            }
                        }
                    }
                    Ok(_) => tracing::warn!("vector index was built for another model; rebuilding"),
                    Err(e) => {
                        tracing::warn!(error = %e, "vector index state unreadable; rebuilding")
                    }
                }
            }
        }
        inner.index.change_expansion_search(params.expansion_search);
        let capacity = inner.index.size().max(1024) * 2;
        inner
            .index
            .reserve_capacity_and_threads(capacity, SEARCH_THREADS)
            .map_err(usearch_err)?;
        Ok(Self {
            inner: RwLock::new(inner),
            dir: dir.map(Path::to_path_buf),
            model: model.to_string(),
            dimensions,
            params,
        })
    }

    /// Vector length.
    pub fn dimensions(&self) -> usize {
        self.dimensions
    }

    /// HNSW parameters in use.
    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Change-feed position of the last save.
    pub fn watermark(&self) -> i64 {
        self.inner.read().map(|i| i.watermark).unwrap_or(0)
    }

    /// Number of vectors.
    pub fn len(&self) -> usize {
        self.inner.read().map(|i| i.index.size()).unwrap_or(0)
    }

    /// Whether the index holds no vectors.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `key` lacks a vector for the text with this hash (new product or changed text).
    pub fn needs_embedding(&self, key: u64, text_hash: u64) -> bool {
        self.inner
            .read()
            .map(|i| i.sources.get(&key) != Some(&text_hash))
            .unwrap_or(true)
    }

    /// Adds or replaces vectors.
    pub fn upsert(&self, items: &[(u64, u64, Vec<f32>)]) -> Result<(), SearchError> {
        let mut inner = self.inner.write().map_err(|_| SearchError::Poisoned)?;
        let needed = inner.index.size() + items.len();
        if needed > inner.index.capacity() {
            inner
                .index
                .reserve_capacity_and_threads(needed.max(1024) * 2, SEARCH_THREADS)
                .map_err(usearch_err)?;
        }
        for (key, hash, v) in items {
            if v.len() != self.dimensions {
                return Err(SearchError::Index(format!(
                    "vector of {} dimensions for an index of {}",
                    v.len(),
                    self.dimensions
                )));
            }
            if inner.index.contains(*key) {
                inner.index.remove(*key).map_err(usearch_err)?;
            }
            let row = to_i8(v);
            inner.index.add(*key, &row).map_err(usearch_err)?;
            inner.flat.insert(*key, &row);
            inner.sources.insert(*key, *hash);
        }
        Ok(())
    }

    /// Removes a product's vector.
    pub fn remove(&self, key: u64) -> Result<(), SearchError> {
        let mut inner = self.inner.write().map_err(|_| SearchError::Poisoned)?;
        if inner.index.contains(key) {
            inner.index.remove(key).map_err(usearch_err)?;
        }
        inner.flat.remove(key);
        inner.sources.remove(&key);
        Ok(())
    }

    /// Records the change-feed position reached (persisted by [`Self::save`]).
    pub fn set_watermark(&self, watermark: i64) {
        if let Ok(mut i) = self.inner.write() {
            i.watermark = watermark;
        }
    }

    /// Approximate nearest neighbours among products accepted by `filter`: (key, cosine similarity).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        filter: Option<&(dyn Fn(u64) -> bool + Sync)>,
    ) -> Result<Vec<(u64, f32)>, SearchError> {
        if query.len() != self.dimensions || k == 0 {
            return Ok(Vec::new());
        }
        let inner = self.inner.read().map_err(|_| SearchError::Poisoned)?;
        if inner.index.size() == 0 {
            return Ok(Vec::new());
        }
        let query = to_i8(query);
        let m = match filter {
            Some(f) => inner.index.filtered_search(&query, k, f),
            None => inner.index.search(&query, k),
        }
        .map_err(usearch_err)?;
        Ok(similarities(m))
    }

    /// Exact cosine ranking of the given products (those without a vector are skipped): the `k` best
    /// that `admit` accepts. Why: for a small filtered set this beats a filtered graph walk, and it is
    /// exact. `admit` is asked best first and only until `k` are found: checking every member of a set
    /// of thousands up front cost as much as scoring them.
    pub fn search_among(
        &self,
        query: &[f32],
        keys: &[u64],
        k: usize,
        admit: &dyn Fn(u64) -> bool,
    ) -> Result<Vec<(u64, f32)>, SearchError> {
        if query.len() != self.dimensions || k == 0 {
            return Ok(Vec::new());
        }
        let inner = self.inner.read().map_err(|_| SearchError::Poisoned)?;
        let q = to_i8(query);
        let q_norm = (q.iter().map(|&x| i32::from(x) * i32::from(x)).sum::<i32>() as f32).sqrt();
        if q_norm == 0.0 {
            return Ok(Vec::new());
        }
        let mut scored = inner.flat.cosines_i8(&q, q_norm, &inner.flat.locate(keys));
        Ok(best_admitted(&mut scored, k, admit))
    }

    /// Cosine similarity of a float query with each product's stored vector (`None` for a product
    /// without one): the ranker's semantic feature for candidates the graph search did not return.
    pub fn cosines(&self, query: &[f32], keys: &[u64]) -> Vec<Option<f32>> {
        let Ok(inner) = self.inner.read() else {
            return vec![None; keys.len()];
        };
        if query.len() != self.dimensions {
            return vec![None; keys.len()];
        }
        let q_norm = query.iter().map(|x| x * x).sum::<f32>().sqrt();
        keys.iter()
            .map(|&k| inner.flat.cosine_f32(query, q_norm, k))
            .collect()
    }

    /// The stored (de-quantized, re-normalised to unit length) vector of a product.
    pub fn get(&self, key: u64) -> Option<Vec<f32>> {
        let inner = self.inner.read().ok()?;
        let mut buf = vec![0f32; self.dimensions];
        match inner.index.get(key, &mut buf) {
            Ok(n) if n > 0 => {
                let norm = buf.iter().map(|x| x * x).sum::<f32>().sqrt();
                Some(buf.iter().map(|x| x / norm.max(1e-12)).collect())
            }
            _ => None,
        }
    }

    /// Exact (brute-force) neighbours, the reference the approximate search is measured against.
    pub fn exact_search(&self, query: &[f32], k: usize) -> Result<Vec<(u64, f32)>, SearchError> {
        let inner = self.inner.read().map_err(|_| SearchError::Poisoned)?;
        let m = inner
            .index
            .exact_search(&to_i8(query), k)
            .map_err(usearch_err)?;
        Ok(similarities(m))
    }

    /// Changes the search breadth (recall/speed trade-off) at run time.
    pub fn set_expansion_search(&self, ef: usize) {
        if let Ok(i) = self.inner.read() {
            i.index.change_expansion_search(ef);
        }
    }

    /// Persists the graph and its state atomically (write, fsync, rename), if the index has a directory.
    pub fn save(&self) -> Result<(), SearchError> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let inner = self.inner.read().map_err(|_| SearchError::Poisoned)?;
        let io = |p: &Path, e| SearchError::Io(p.display().to_string(), e);
        let graph_tmp = dir.join("vectors.usearch.tmp");
        inner
            .index
            .save(&graph_tmp.to_string_lossy())
            .map_err(usearch_err)?;
        let state_tmp = dir.join("vectors.state.tmp");
        write_state(&state_tmp, inner.watermark, &inner.sources, self.dimensions)
            .map_err(|e| io(&state_tmp, e))?;
        std::fs::rename(&graph_tmp, dir.join("vectors.usearch")).map_err(|e| io(&graph_tmp, e))?;
        std::fs::rename(&state_tmp, dir.join("vectors.state")).map_err(|e| io(&state_tmp, e))?;
        let model = dir.join("vectors.model");
        std::fs::write(&model, &self.model).map_err(|e| io(&model, e))?;
        Ok(())
    }

    /// Drops every vector (before a full rebuild).
    pub fn clear(&self) -> Result<(), SearchError> {
        let mut inner = self.inner.write().map_err(|_| SearchError::Poisoned)?;
        inner.index.reset().map_err(usearch_err)?;
        inner
            .index
            .reserve_capacity_and_threads(2048, SEARCH_THREADS)
            .map_err(usearch_err)?;
        inner.sources.clear();
        inner.flat.clear();
        inner.watermark = 0;
        Ok(())
    }

    /// Bytes used in memory.
    pub fn memory_bytes(&self) -> usize {
        self.inner
            .read()
            .map(|i| i.index.memory_usage() + i.flat.memory_bytes())
            .unwrap_or(0)
    }
}

const STATE_MAGIC: &[u8; 8] = b"VTRVEC02";

fn write_state(
    path: &Path,
    wm: i64,
    sources: &HashMap<u64, u64>,
    dims: usize,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(32 + sources.len() * 16);
    buf.extend_from_slice(STATE_MAGIC);
    buf.extend_from_slice(&wm.to_le_bytes());
    buf.extend_from_slice(&(dims as u64).to_le_bytes());
    buf.extend_from_slice(&(sources.len() as u64).to_le_bytes());
    for (k, h) in sources {
        buf.extend_from_slice(&k.to_le_bytes());
        buf.extend_from_slice(&h.to_le_bytes());
    }
    let mut f = std::fs::File::create(path)?;
    f.write_all(&buf)?;
    f.sync_all()
}

fn read_state(path: &Path) -> std::io::Result<(i64, HashMap<u64, u64>, usize)> {
    let mut buf = Vec::new();
    std::fs::File::open(path)?.read_to_end(&mut buf)?;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "corrupt vector state");
    if buf.len() < 32 || &buf[..8] != STATE_MAGIC {
        return Err(bad());
    }
    let word = |i: usize| -> std::io::Result<u64> {
        buf.get(i..i + 8)
            .and_then(|s| s.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(bad)
    };
    let wm = word(8)? as i64;
    let dims = word(16)? as usize;
    let n = word(24)? as usize;
    let mut sources = HashMap::with_capacity(n);
    for i in 0..n {
        let at = 32 + i * 16;
        sources.insert(word(at)?, word(at + 8)?);
    }
    Ok((wm, sources, dims))
}

/// The `k` best of `scored` that `admit` accepts, best first. The list is ordered a window at a time
/// (twice `k`, then doubling), so a predicate that accepts most products is asked about little more
/// than `k` of them.
fn best_admitted(
    scored: &mut [(u64, f32)],
    k: usize,
    admit: &dyn Fn(u64) -> bool,
) -> Vec<(u64, f32)> {
    let better = |a: &(u64, f32), b: &(u64, f32)| b.1.total_cmp(&a.1);
    let mut out = Vec::with_capacity(k.min(scored.len()));
    let mut start = 0;
    let mut window = (2 * k).max(16);
    while start < scored.len() && out.len() < k {
        let end = (start + window).min(scored.len());
        let rest = &mut scored[start..];
        if end - start < rest.len() {
            rest.select_nth_unstable_by(end - start, better);
        }
        rest[..end - start].sort_by(better);
        for &(key, score) in &rest[..end - start] {
            if admit(key) {
                out.push((key, score));
                if out.len() == k {
                    break;
                }
            }
        }
        start = end;
        window *= 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::unit;

    #[test]
    fn upsert_search_filter_remove_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let idx = VectorIndex::open(Some(dir.path()), 3, HnswParams::default(), "m").unwrap();
        idx.upsert(&[
            (1, 11, unit(&[1.0, 0.0, 0.0])),
            (2, 22, unit(&[0.9, 0.1, 0.0])),
            (3, 33, unit(&[0.0, 1.0, 0.0])),
        ])
        .unwrap();
        let q = unit(&[1.0, 0.05, 0.0]);
        let hits = idx.search(&q, 2, None).unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 2]);
        let only_odd = |k: u64| k % 2 == 1;
        let hits = idx.search(&q, 2, Some(&only_odd)).unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 3]);
        assert!(!idx.needs_embedding(1, 11));
        assert!(idx.needs_embedding(1, 12));
        idx.remove(1).unwrap();
        idx.set_watermark(42);
        idx.save().unwrap();
        drop(idx);
        let idx = VectorIndex::open(Some(dir.path()), 3, HnswParams::default(), "m").unwrap();
        assert_eq!(idx.watermark(), 42);
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.search(&q, 1, None).unwrap()[0].0, 2);
        // The exact paths see the reloaded vectors, and not the removed one.
        let among = idx.search_among(&q, &[1, 2, 3], 3, &|_| true).unwrap();
        assert_eq!(among.iter().map(|h| h.0).collect::<Vec<_>>(), [2, 3]);
        let cos = idx.cosines(&q, &[1, 2]);
        assert_eq!(cos[0], None);
        let stored = idx.get(2).unwrap();
        let expected: f32 = q.iter().zip(&stored).map(|(a, b)| a * b).sum();
        assert!((cos[1].unwrap() - expected).abs() < 1e-5);
        // A different model (dimension) is not loaded.
        let other = VectorIndex::open(Some(dir.path()), 4, HnswParams::default(), "m").unwrap();
        assert_eq!(other.len(), 0);
        // Nor are vectors of other weights of the same dimension (a fine-tuned encoder), and the state
        // left behind says nothing of them once the rebuilt index is saved.
        let tuned =
            VectorIndex::open(Some(dir.path()), 3, HnswParams::default(), "m+tuned").unwrap();
        assert_eq!(tuned.len(), 0);
        assert_eq!(tuned.watermark(), 0);
        tuned.save().unwrap();
        drop(tuned);
        let again =
            VectorIndex::open(Some(dir.path()), 3, HnswParams::default(), "m+tuned").unwrap();
        assert_eq!(again.len(), 0);
        let back = VectorIndex::open(Some(dir.path()), 3, HnswParams::default(), "m").unwrap();
        assert_eq!(
            back.len(),
            0,
            "the saved index now belongs to the tuned model"
        );
    }

    #[test]
    fn exact_search_among_a_subset_agrees_with_the_index() {
        let idx = VectorIndex::open(None, 3, HnswParams::default(), "m").unwrap();
        idx.upsert(&[
            (1, 1, unit(&[1.0, 0.0, 0.0])),
            (2, 2, unit(&[0.9, 0.1, 0.0])),
            (3, 3, unit(&[0.0, 1.0, 0.0])),
            (4, 4, unit(&[0.5, 0.5, 0.5])),
        ])
        .unwrap();
        let q = unit(&[1.0, 0.05, 0.0]);
        // Unknown keys are skipped; the order is by cosine, and the scores match the graph search's.
        let exact = idx.search_among(&q, &[3, 2, 99, 4], 2, &|_| true).unwrap();
        assert_eq!(exact.iter().map(|h| h.0).collect::<Vec<_>>(), [2, 4]);
        let among = |k: u64| [2, 3, 4].contains(&k);
        let graph = idx.search(&q, 2, Some(&among)).unwrap();
        for (a, b) in exact.iter().zip(&graph) {
            assert_eq!(a.0, b.0);
            assert!((a.1 - b.1).abs() < 1e-3, "{} vs {}", a.1, b.1);
        }
        assert!(idx.search_among(&q, &[], 5, &|_| true).unwrap().is_empty());
    }

    proptest::proptest! {
        /// Checking the predicate lazily, best first, gives what filtering everything first and then
        /// taking the best `k` gives.
        #[test]
        fn lazily_admitted_best_equal_filtered_then_best(
            scores in proptest::collection::vec(-1.0f32..1.0, 0..300),
            k in 1usize..60,
            modulus in 1u64..7,
        ) {
            let admit = |key: u64| key.is_multiple_of(modulus);
            let mut scored: Vec<(u64, f32)> =
                scores.iter().enumerate().map(|(i, &s)| (i as u64, s)).collect();
            let mut expected: Vec<(u64, f32)> =
                scored.iter().copied().filter(|&(key, _)| admit(key)).collect();
            expected.sort_by(|a, b| b.1.total_cmp(&a.1));
            expected.truncate(k);
            let got = best_admitted(&mut scored, k, &admit);
            let got_scores: Vec<f32> = got.iter().map(|h| h.1).collect();
            let expected_scores: Vec<f32> = expected.iter().map(|h| h.1).collect();
            proptest::prop_assert_eq!(got_scores, expected_scores);
            proptest::prop_assert!(got.iter().all(|&(key, _)| admit(key)));
        }
    }
}
