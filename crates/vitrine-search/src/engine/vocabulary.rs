//! The catalog's words: the doc table's vocabulary of attribute values, the speller's title words and
//! autocomplete's title terms, rebuilt together when the words change; and autocomplete itself.

use super::{read, SearchEngine};
use crate::doc::SearchDoc;
use crate::normalize;
use crate::speller::Speller;
use crate::title_terms::TitleTerms;
use crate::vocab::Vocabulary;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use vitrine_core::Product;

impl SearchEngine {
    /// Puts products into the doc table only (start-up load; the indexes are persistent). Returns
    /// whether the catalog's words changed: a product added or removed, or a title or attribute
    /// value changed. Price and stock changes, the usual stream, do not, so they never pay for a
    /// rebuild of the vocabulary, the speller and the title terms.
    pub fn load_docs(&self, products: &[Product]) -> bool {
        let mut changed = false;
        if let Ok(mut docs) = self.docs.write() {
            for p in products {
                let d = SearchDoc::from_product(p);
                if d.active {
                    changed |= docs
                        .get(&d.key)
                        .is_none_or(|o| o.title != d.title || o.facets != d.facets);
                    docs.insert(d.key, Arc::new(d));
                } else {
                    changed |= docs.remove(&d.key).is_some();
                }
            }
        }
        changed
    }

    /// Recomputes the vocabulary from the doc table (after a batch of changes).
    pub fn rebuild_vocabulary(&self) {
        self.stats.vocabulary_builds.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut t) = self.vocab_built.lock() {
            *t = Some(std::time::Instant::now());
        }
        let (vocab, speller, title_terms) = match self.docs.read() {
            Ok(docs) => (
                Vocabulary::build(docs.values().map(|d| d.as_ref())),
                self.config.spelling.then(|| {
                    Speller::build(
                        docs.values().map(|d| d.as_ref()),
                        self.language_words.clone(),
                    )
                }),
                TitleTerms::build(docs.values().map(|d| d.as_ref())),
            ),
            Err(_) => return,
        };
        if let Ok(mut t) = self.title_terms.write() {
            *t = Arc::new(title_terms);
        }
        if let Ok(mut v) = self.vocab.write() {
            *v = Arc::new(vocab);
        }
        if let (Some(speller), Ok(mut s)) = (speller, self.speller.write()) {
            *s = Arc::new(speller);
        }
    }

    /// Counts a query for autocomplete popularity.
    pub fn record_query(&self, query: &str) {
        let q = normalize::phrase(query);
        if q.is_empty() || q.len() > 100 {
            return;
        }
        if let Ok(mut p) = self.popular.write() {
            if p.len() < 100_000 || p.contains_key(&q) {
                *p.entry(q).or_default() += 1;
            }
        }
    }

    /// Autocomplete: popular queries, catalog values and title terms starting with what was typed.
    /// When nothing completes it, the same with misspelled whole words corrected as a search
    /// would ("hedphones" completes "headphones").
    pub fn suggest(&self, prefix: &str, limit: usize) -> Vec<crate::suggest::Suggestion> {
        let vocab = read(&self.vocab);
        let titles = read(&self.title_terms);
        let popular = self.popular.read().unwrap_or_else(|p| p.into_inner());
        let found = crate::suggest::suggest(prefix, limit, &popular, &vocab, &titles);
        if !found.is_empty() || !self.config.spelling {
            return found;
        }
        let (corrected, corrections) = read(&self.speller).correct(&normalize::phrase(prefix));
        if corrections.is_empty() {
            return found;
        }
        crate::suggest::suggest(&corrected, limit, &popular, &vocab, &titles)
    }
}
