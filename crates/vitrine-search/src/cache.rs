//! The result cache. Keys include the catalog generation, so any catalog, price, stock, rules or synonym
//! change makes every older answer unreachable at once (stale entries age out by capacity); no answer is
//! ever served for a catalog it was not computed on.

use quick_cache::sync::Cache;

/// A bounded concurrent cache of answers.
pub struct ResultCache<V: Clone> {
    inner: Option<Cache<String, V>>,
}

impl<V: Clone> ResultCache<V> {
    /// A cache of `capacity` answers; 0 disables caching.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: (capacity > 0).then(|| Cache::new(capacity)),
        }
    }

    /// The answer for `key`, if cached.
    pub fn get(&self, key: &str) -> Option<V> {
        self.inner.as_ref()?.get(key)
    }

    /// Stores an answer.
    pub fn insert(&self, key: String, value: V) {
        if let Some(c) = &self.inner {
            c.insert(key, value);
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |c| c.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
