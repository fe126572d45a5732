//! An embedding cache keyed by a hash of the text: catalog texts and popular queries repeat, and a cache hit
//! costs nanoseconds instead of milliseconds.

use super::Embedder;
use crate::ModelError;
use async_trait::async_trait;
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    sync::{atomic::AtomicU64, atomic::Ordering, Arc, Mutex},
};

/// Wraps any embedder with a bounded cache (cleared wholesale when full: simple, and good enough for the
/// repeat pattern of catalogs and query logs).
pub struct CachedEmbedder {
    inner: Arc<dyn Embedder>,
    entries: Mutex<HashMap<[u8; 16], Arc<Vec<f32>>>>,
    capacity: usize,
    /// Cache hits.
    pub hits: AtomicU64,
    /// Cache misses.
    pub misses: AtomicU64,
}

fn key(text: &str) -> [u8; 16] {
    let d = Sha256::digest(text.as_bytes());
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

impl CachedEmbedder {
    /// A cache of at most `capacity` vectors in front of `inner`.
    pub fn new(inner: Arc<dyn Embedder>, capacity: usize) -> Self {
        Self {
            inner,
            entries: Mutex::new(HashMap::new()),
            capacity,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl Embedder for CachedEmbedder {
    fn model_name(&self) -> &str {
        self.inner.model_name()
    }
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    fn language_words(&self) -> Vec<String> {
        self.inner.language_words()
    }
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError> {
        super::check_inputs(&texts)?;
        let keys: Vec<[u8; 16]> = texts.iter().map(|t| key(t)).collect();
        let mut out: Vec<Option<Vec<f32>>> = {
            let map = self
                .entries
                .lock()
                .map_err(|_| ModelError::Runtime("cache lock poisoned".into()))?;
            keys.iter()
                .map(|k| map.get(k).map(|v| v.as_ref().clone()))
                .collect()
        };
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| out[i].is_none()).collect();
        self.hits
            .fetch_add((texts.len() - missing.len()) as u64, Ordering::Relaxed);
        self.misses
            .fetch_add(missing.len() as u64, Ordering::Relaxed);
        if !missing.is_empty() {
            let fresh = self
                .inner
                .embed(missing.iter().map(|&i| texts[i].clone()).collect())
                .await?;
            let mut map = self
                .entries
                .lock()
                .map_err(|_| ModelError::Runtime("cache lock poisoned".into()))?;
            if map.len() + fresh.len() > self.capacity {
                map.clear();
            }
            for (&i, v) in missing.iter().zip(fresh) {
                map.insert(keys[i], Arc::new(v.clone()));
                out[i] = Some(v);
            }
        }
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }
}
