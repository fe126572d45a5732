//! The search engine: keeps the doc table, both indexes, the vocabulary, synonyms, rules and cache
//! together and answers [`SearchRequest`]s. It knows nothing of HTTP or of the store; [`crate::sync`]
//! feeds it catalog changes.

mod cross;
mod facets;
mod learned;
mod pins;
mod semantic;
mod vocabulary;

use crate::cache::ResultCache;
use crate::doc::{embedding_text, SearchDoc};
use crate::filters::Filters;
use crate::fusion::{fuse, Fused, Fusion};
use crate::lexical::{LexicalDoc, LexicalIndex, LexicalQuery};
use crate::ltr::LearnedRanker;
use crate::normalize;
use crate::query::{parse_query, ParsedQuery, SortOrder};
use crate::rules::{diversify, OutOfStock, Rules};
use crate::speller::Speller;
use crate::synonyms::Synonyms;
use crate::title_terms::TitleTerms;
use crate::types::*;
use crate::vectors::VectorIndex;
use crate::vocab::Vocabulary;
use crate::word_vectors::WordVectors;
use crate::{SearchConfig, SearchError};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use vitrine_core::{AttributeValue, Product};
use vitrine_models::Embedder;

pub use cross::{blend_order, standardised, CrossStage};

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct SearchStats {
    /// Searches answered.
    pub searches: AtomicU64,
    /// Answered from the cache.
    pub cache_hits: AtomicU64,
    /// Computed.
    pub cache_misses: AtomicU64,
    /// Searches that fell back to lexical-only retrieval.
    pub semantic_fallbacks: AtomicU64,
    /// Rebuilds of the catalog's words (vocabulary, speller, title terms).
    pub vocabulary_builds: AtomicU64,
}

/// A candidate on its way to the page: relevance plus what rules and personalisation made of it.
struct Ranked {
    fused: Fused,
    doc: Arc<SearchDoc>,
    rules_factor: f64,
    rules_applied: Vec<String>,
    personal: f64,
}

impl Ranked {
    fn score(&self) -> f64 {
        f64::from(self.fused.score) * self.rules_factor * self.personal
    }
}

/// Everything search needs, shared by all requests.
pub struct SearchEngine {
    config: SearchConfig,
    docs: RwLock<FxHashMap<u64, Arc<SearchDoc>>>,
    vocab: RwLock<Arc<Vocabulary>>,
    /// The catalog's title words for query spelling correction (rebuilt with `vocab`).
    speller: RwLock<Arc<Speller>>,
    /// Words and phrases several titles share, for autocomplete (rebuilt with the vocabulary).
    title_terms: RwLock<Arc<TitleTerms>>,
    /// The encoder's whole words, which the speller does not take for typos (read once at open).
    language_words: Arc<rustc_hash::FxHashSet<String>>,
    synonyms: RwLock<Arc<Synonyms>>,
    rules: RwLock<Arc<Rules>>,
    /// Held by whoever changes the rules file (an API edit, the watcher's reload) from reading or
    /// writing it until its version is recorded, so each change is recorded once, by its author.
    rules_file_lock: tokio::sync::Mutex<()>,
    lexical: LexicalIndex,
    vectors: Option<VectorIndex>,
    embedder: Option<Arc<dyn Embedder>>,
    cache: ResultCache<Arc<SearchResponse>>,
    /// Admissible products of selective filter sets (see `semantic.rs`), keyed like the result cache.
    filter_sets: ResultCache<Option<Arc<Vec<u64>>>>,
    generation: AtomicU64,
    /// Counters.
    pub stats: SearchStats,
    popular: RwLock<HashMap<String, u32>>,
    ranker: RwLock<Option<Arc<LearnedRanker>>>,
    /// Re-reads the top of the ranker's list (`cross.rs`); `None` until installed.
    cross: RwLock<Option<Arc<CrossStage>>>,
    /// Map applied to query vectors before vector search (`None`: the encoder's vectors as they are).
    query_adapter: RwLock<Option<Arc<crate::adapter::QueryAdapter>>>,
    vocab_built: std::sync::Mutex<Option<std::time::Instant>>,
    /// Title words' vectors for the ranker's soft word match (`learned.rs`), filled by catch-up.
    word_vectors: WordVectors,
}

/// Filter sets whose admissible products are remembered (at most `EXACT_VECTOR_LIMIT` keys each).
const FILTER_SET_CACHE: usize = 256;
/// During a long catch-up the vocabulary is rebuilt at most this often (and once more at its end).
const VOCABULARY_REBUILD_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Up to this many products passing a filter are ranked by exact vector search instead of a filtered HNSW
/// walk (about 1 ms of int8 dot products at the limit; the walk gets slow exactly when few nodes pass).
const EXACT_VECTOR_LIMIT: usize = 5_000;

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    match lock.read() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    }
}

/// Attribute values as searchable text, including numbers with units.
fn attributes_text(p: &Product) -> String {
    p.attributes
        .iter()
        .map(|(k, v)| match v {
            AttributeValue::Bool(true) => k.replace('_', " "),
            other => other.display_text(),
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

impl SearchEngine {
    /// Opens the indexes under `dir` (`None`: in memory). Without an embedder, search is lexical only and
    /// responses say so.
    pub fn open(
        config: SearchConfig,
        dir: Option<&Path>,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> Result<Self, SearchError> {
        let lexical = LexicalIndex::open(dir.map(|d| d.join("text")).as_deref())?;
        let vectors = match &embedder {
            Some(e) => Some(VectorIndex::open(
                dir.map(|d| d.join("vectors")).as_deref(),
                e.dimension(),
                config.hnsw,
                e.model_name(),
            )?),
            None => None,
        };
        let synonyms = match &config.synonyms {
            Some(p) => Synonyms::parse(
                &std::fs::read_to_string(p)
                    .map_err(|e| SearchError::Io(p.display().to_string(), e))?,
            )
            .map_err(|e| SearchError::Config(format!("{}: {e}", p.display())))?,
            None => Synonyms::defaults(),
        };
        let rules = match &config.rules {
            Some(p) => Rules::parse(
                &std::fs::read_to_string(p)
                    .map_err(|e| SearchError::Io(p.display().to_string(), e))?,
            )
            .map_err(|e| SearchError::Config(format!("{}: {e}", p.display())))?,
            None => Rules::default(),
        };
        let ranker = match &config.ranker {
            Some(p) => Some(Arc::new(LearnedRanker::load(p)?)),
            None => None,
        };
        let query_adapter = match &config.query_adapter {
            Some(p) => Some(Arc::new(crate::adapter::QueryAdapter::load(p)?)),
            None => None,
        };
        Ok(Self {
            ranker: RwLock::new(ranker),
            cross: RwLock::new(None),
            query_adapter: RwLock::new(query_adapter),
            vocab_built: std::sync::Mutex::new(None),
            word_vectors: match (&embedder, dir) {
                (Some(e), Some(d)) => WordVectors::open(d.join("words.bin"), e.model_name()),
                _ => WordVectors::default(),
            },
            cache: ResultCache::new(config.cache_capacity),
            filter_sets: ResultCache::new(FILTER_SET_CACHE),
            config,
            docs: RwLock::new(FxHashMap::default()),
            vocab: RwLock::new(Arc::new(Vocabulary::default())),
            speller: RwLock::new(Arc::new(Speller::default())),
            title_terms: RwLock::new(Arc::new(TitleTerms::default())),
            language_words: Arc::new(
                embedder
                    .as_ref()
                    .map(|e| e.language_words())
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            ),
            synonyms: RwLock::new(Arc::new(synonyms)),
            rules: RwLock::new(Arc::new(rules)),
            rules_file_lock: tokio::sync::Mutex::new(()),
            lexical,
            vectors,
            embedder,
            generation: AtomicU64::new(0),
            stats: SearchStats::default(),
            popular: RwLock::new(HashMap::new()),
        })
    }

    /// Settings in force.
    pub fn config(&self) -> &SearchConfig {
        &self.config
    }

    /// The text index (for its watermark and size).
    pub fn lexical(&self) -> &LexicalIndex {
        &self.lexical
    }

    /// The vector index, when an embedder is configured.
    pub fn vectors(&self) -> Option<&VectorIndex> {
        self.vectors.as_ref()
    }

    /// The embedder, when configured.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedder.as_ref()
    }

    /// Catalog generation: bumped by every applied change, part of every cache key.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Marks cached answers stale (catalog, rules or synonyms changed).
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Products known to search.
    pub fn doc_count(&self) -> usize {
        self.docs.read().map(|d| d.len()).unwrap_or(0)
    }

    /// Applies catalog changes to the doc table and the text index, durably, recording `watermark`.
    /// Returns whether any change touched the catalog's words (see [`Self::load_docs`]).
    pub fn apply_text(&self, products: &[Product], watermark: i64) -> Result<bool, SearchError> {
        let built: Vec<(SearchDoc, String)> = products
            .iter()
            .map(|p| (SearchDoc::from_product(p), attributes_text(p)))
            .collect();
        let lex: Vec<LexicalDoc<'_>> = built
            .iter()
            .zip(products)
            .map(|((d, a), p)| LexicalDoc {
                doc: d,
                description: &p.description,
                attributes_text: a,
            })
            .collect();
        // Doc table and vocabulary first: once the text index shows a product, everything a search needs
        // to understand and return it is in place.
        let words_changed = self.load_docs(products);
        let due = self
            .vocab_built
            .lock()
            .map(|t| t.is_none_or(|at| at.elapsed() >= VOCABULARY_REBUILD_EVERY))
            .unwrap_or(true);
        if words_changed && due {
            self.rebuild_vocabulary();
        }
        self.lexical.upsert(&lex)?;
        self.lexical.commit(watermark)?;
        self.invalidate();
        Ok(words_changed)
    }

    /// Embeds products whose searchable text changed and updates the vector index; archived products are
    /// removed. Returns how many were embedded.
    pub async fn apply_vectors(
        &self,
        products: &[Product],
        watermark: i64,
    ) -> Result<usize, SearchError> {
        let (Some(vectors), Some(embedder)) = (&self.vectors, &self.embedder) else {
            return Ok(0);
        };
        let mut todo = Vec::new();
        for p in products {
            let key = normalize::doc_key(&p.id);
            if p.status != vitrine_core::ProductStatus::Active {
                vectors.remove(key)?;
                continue;
            }
            let text = embedding_text(p);
            let hash = normalize::text_hash(&text);
            if vectors.needs_embedding(key, hash) {
                todo.push((key, hash, text));
            }
        }
        let mut embedded = 0;
        for chunk in todo.chunks(64) {
            let texts: Vec<String> = chunk.iter().map(|t| t.2.clone()).collect();
            let vecs = embedder
                .embed(texts)
                .await
                .map_err(|e| SearchError::Model(e.to_string()))?;
            let items: Vec<(u64, u64, Vec<f32>)> = chunk
                .iter()
                .zip(vecs)
                .map(|((k, h, _), v)| (*k, *h, v))
                .collect();
            vectors.upsert(&items)?;
            embedded += items.len();
        }
        vectors.set_watermark(watermark);
        if embedded > 0 || !products.is_empty() {
            self.invalidate();
        }
        Ok(embedded)
    }

    /// Replaces the rules (reloaded file); cached answers are dropped.
    pub fn set_rules(&self, rules: Rules) {
        if let Ok(mut r) = self.rules.write() {
            *r = Arc::new(rules);
        }
        self.invalidate();
    }

    /// The lock every change of the rules file holds (see the field); rules changes are rare, so one
    /// lock costs nothing.
    pub fn rules_file_lock(&self) -> &tokio::sync::Mutex<()> {
        &self.rules_file_lock
    }

    /// Replaces the synonyms (reloaded file); cached answers are dropped.
    pub fn set_synonyms(&self, synonyms: Synonyms) {
        if let Ok(mut s) = self.synonyms.write() {
            *s = Arc::new(synonyms);
        }
        self.invalidate();
    }

    /// Installs a learned ranker (used by `Fusion::Learned`); cached answers are dropped.
    pub fn set_ranker(&self, ranker: LearnedRanker) {
        if let Ok(mut r) = self.ranker.write() {
            *r = Some(Arc::new(ranker));
        }
        self.invalidate();
    }

    /// Installs a learned query-embedding map; cached answers are dropped.
    pub fn set_query_adapter(&self, adapter: crate::adapter::QueryAdapter) {
        if let Ok(mut a) = self.query_adapter.write() {
            *a = Some(Arc::new(adapter));
        }
        self.invalidate();
    }

    /// The rules in force.
    pub fn rules(&self) -> Arc<Rules> {
        read(&self.rules)
    }

    /// Parses a query against the current vocabulary (also used by the evaluation).
    pub fn parse(&self, query: &str) -> ParsedQuery {
        let vocab: Arc<Vocabulary> = read(&self.vocab);
        let mut parsed = parse_query(query, &vocab);
        let speller: Arc<Speller> = read(&self.speller);
        let (text, corrections) = speller.correct(&parsed.text);
        if !corrections.is_empty() {
            parsed.text = text;
            parsed.corrections = corrections;
        }
        parsed
    }

    /// Whether filters on `name` can match anything; `Err` lists the names that can.
    pub fn check_attribute(&self, name: &str) -> Result<(), Vec<String>> {
        let vocab: Arc<Vocabulary> = read(&self.vocab);
        if vocab.knows_attribute(name) {
            Ok(())
        } else {
            Err(vocab.attribute_names())
        }
    }

    /// A product's search view.
    pub fn doc(&self, key: u64) -> Option<Arc<SearchDoc>> {
        self.docs.read().ok()?.get(&key).cloned()
    }

    fn cache_key(&self, r: &SearchRequest) -> String {
        format!(
            "{}|{}|{:?}|{:?}|{}|{:?}|{:?}|{}|{}|{:?}|{}|{}|{}",
            self.generation(),
            r.raw,
            r.retrieval,
            r.fusion,
            normalize::phrase(&r.query),
            r.filters,
            r.sort,
            r.offset,
            r.limit,
            r.facets,
            r.explain,
            r.highlight,
            r.affinity
                .as_ref()
                .map(Affinity::segment)
                .unwrap_or_default()
        )
    }

    /// Answers a search, from the cache when the same request was answered for this catalog generation.
    pub async fn search(
        &self,
        r: &SearchRequest,
    ) -> Result<(Arc<SearchResponse>, bool), SearchError> {
        self.stats.searches.fetch_add(1, Ordering::Relaxed);
        let key = self.cache_key(r);
        if let Some(hit) = self.cache.get(&key) {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((hit, true));
        }
        self.stats.cache_misses.fetch_add(1, Ordering::Relaxed);
        let generation = self.generation();
        let answer = Arc::new(self.compute(r, generation).await?);
        self.cache.insert(key, answer.clone());
        Ok((answer, false))
    }

    async fn compute(
        &self,
        r: &SearchRequest,
        generation: u64,
    ) -> Result<SearchResponse, SearchError> {
        let parsed = if r.raw {
            ParsedQuery {
                original: r.query.clone(),
                text: r
                    .query
                    .chars()
                    .take(crate::query::MAX_QUERY_CHARS)
                    .collect(),
                ..Default::default()
            }
        } else {
            self.parse(&r.query)
        };
        let mut filters: Filters = r.filters.clone();
        filters.add_parsed(&parsed);
        let rules = self.rules();
        if rules.out_of_stock == OutOfStock::Hide {
            filters.in_stock = true;
        }
        let sort = r.sort.or(parsed.sort).unwrap_or(SortOrder::Relevance);
        let limit = r.limit.min(self.config.max_page_size);
        let mut notices = Vec::new();
        let mut ranker_rows = learned::RankerExplained::default();
        let (mut fused, total, facet_keys) = if parsed.text.is_empty() {
            self.browse(&filters)
        } else {
            let explained = r.explain.then_some(&mut ranker_rows);
            self.retrieve(r, &parsed, &filters, &mut notices, explained)
                .await?
        };

        // Rules, personalisation, price preference.
        let query_norm = normalize::phrase(&r.query);
        let mut ranked: Vec<Ranked> = Vec::with_capacity(fused.len());
        let docs = self.docs.read().map_err(|_| SearchError::Poisoned)?;
        for f in fused.drain(..) {
            let Some(doc) = docs.get(&f.key).cloned() else {
                continue;
            };
            let (rules_factor, rules_applied) = rules.factor(&doc, &query_norm);
            let personal = r.affinity.as_ref().map_or(1.0, |a| {
                let w: f64 = doc
                    .facets
                    .iter()
                    .filter_map(|fv| a.weights.get(&(fv.name.clone(), fv.value.clone())))
                    .sum();
                1.0 + self.config.personalization_weight * w.min(1.0)
            });
            ranked.push(Ranked {
                fused: f,
                doc,
                rules_factor,
                rules_applied,
                personal,
            });
        }
        let facets = self.facets(&docs, &facet_keys, r);
        drop(docs);
        if parsed.cheap && sort == SortOrder::Relevance && ranked.len() > 1 {
            // "cheap": among relevant results, lower prices rise (up to +50% for the cheapest).
            let mut prices: Vec<f64> = ranked.iter().map(|x| x.doc.price).collect();
            prices.sort_by(f64::total_cmp);
            for x in &mut ranked {
                let below =
                    prices.partition_point(|p| *p < x.doc.price) as f64 / prices.len() as f64;
                x.rules_factor *= 1.5 - below;
                x.rules_applied.push("cheap_preference".into());
            }
        }
        match sort {
            SortOrder::Relevance => ranked.sort_by(|a, b| b.score().total_cmp(&a.score())),
            SortOrder::PriceAsc => ranked.sort_by(|a, b| a.doc.price.total_cmp(&b.doc.price)),
            SortOrder::PriceDesc => ranked.sort_by(|a, b| b.doc.price.total_cmp(&a.doc.price)),
            SortOrder::Newest => ranked.sort_by_key(|x| std::cmp::Reverse(x.doc.updated_at_ms)),
            SortOrder::Rating => ranked.sort_by(|a, b| {
                let rating = |x: &Ranked| x.doc.rating.unwrap_or(f64::MIN);
                rating(b).total_cmp(&rating(a))
            }),
        }
        if let Some(div) = &rules.diversity {
            let attr = div.attribute.clone();
            ranked = diversify(ranked, div, |x| {
                x.doc
                    .facets
                    .iter()
                    .find(|f| f.name == attr)
                    .map(|f| f.value.clone())
            });
        }
        // Only what can reach the page becomes a hit (strings cloned, explanation built): the page, one
        // more per pin (a pin pushes results down), and the pinned products wherever they rank.
        let pinned: Vec<&str> = rules
            .pins_for(&query_norm)
            .into_iter()
            .map(|(sku, _)| sku)
            .collect();
        let reach = r.offset + limit + pinned.len();
        let reaching: Vec<&Ranked> = ranked
            .iter()
            .enumerate()
            .filter(|(i, x)| *i < reach || pinned.contains(&x.doc.id.as_str()))
            .map(|(_, x)| x)
            .collect();
        // Empty unless `explain` asked for the ranker's rows. Only what can land on the page is
        // explained: pins shift a hit down by at most one place each.
        let first_shown = r.offset.saturating_sub(pinned.len());
        let keys: Vec<u64> = reaching
            .iter()
            .enumerate()
            .filter(|(i, x)| *i >= first_shown || pinned.contains(&x.doc.id.as_str()))
            .map(|(_, x)| x.fused.key)
            .collect();
        let mut explained = ranker_rows.explain_all(&keys);
        let mut hits: Vec<SearchHit> = reaching
            .into_iter()
            .map(|x| {
                let s = x.score();
                let f = &x.fused;
                let (ranker_features, ranker_contributions, ranker_base) =
                    explained.remove(&f.key).unwrap_or_default();
                self.hit(
                    &x.doc,
                    s,
                    r.explain.then(|| HitExplain {
                        lexical: f.lexical.map(|l| l.0),
                        lexical_rank: f.lexical.map(|l| l.1),
                        semantic: f.semantic.map(|s| s.0),
                        semantic_rank: f.semantic.map(|s| s.1),
                        relevance: f.score,
                        rules_factor: x.rules_factor,
                        rules: x.rules_applied.clone(),
                        personal_factor: x.personal,
                        score: s,
                        ranker_features,
                        ranker_contributions,
                        ranker_base,
                    }),
                )
            })
            .collect();
        self.apply_pins(&mut hits, &rules, &query_norm, &filters, r.explain);
        let mut page: Vec<SearchHit> = hits.into_iter().skip(r.offset).take(limit).collect();
        if r.highlight {
            let searched = std::iter::once(parsed.text.as_str())
                .chain(parsed.attributes.iter().map(|a| a.matched.as_str()));
            let marker = crate::highlight::Highlighter::new(searched);
            for hit in &mut page {
                hit.highlighted_title = Some(marker.mark(&hit.title));
            }
        }
        Ok(SearchResponse {
            parsed,
            sort,
            total,
            hits: page,
            facets,
            notices,
            generation,
            json: Default::default(),
        })
    }

    pub(super) fn hit(&self, d: &SearchDoc, score: f64, explain: Option<HitExplain>) -> SearchHit {
        SearchHit {
            id: d.id.clone(),
            title: d.title.clone(),
            brand: d.brand.clone(),
            price: d.price,
            currency: d.currency.clone(),
            in_stock: d.available,
            score,
            explain,
            highlighted_title: None,
        }
    }

    /// Empty text: every admissible product, in a stable browse order (in stock, rating, newest).
    fn browse(&self, filters: &Filters) -> (Vec<Fused>, usize, Vec<u64>) {
        let Ok(docs) = self.docs.read() else {
            return (Vec::new(), 0, Vec::new());
        };
        let check = filters.prepare();
        let mut matched: Vec<&Arc<SearchDoc>> =
            docs.values().filter(|d| check.accepts(d)).collect();
        let total = matched.len();
        matched.sort_by(|a, b| {
            b.available
                .cmp(&a.available)
                .then(b.rating.unwrap_or(0.0).total_cmp(&a.rating.unwrap_or(0.0)))
                .then(b.updated_at_ms.cmp(&a.updated_at_ms))
                .then(a.id.cmp(&b.id))
        });
        let keep = self.config.facet_sample.max(self.config.candidates);
        let fused: Vec<Fused> = matched
            .iter()
            .take(keep)
            .enumerate()
            .map(|(i, d)| Fused {
                key: d.key,
                score: 1.0 / (1.0 + i as f32),
                lexical: None,
                semantic: None,
            })
            .collect();
        let keys = fused.iter().map(|f| f.key).collect();
        (fused, total, keys)
    }

    async fn retrieve(
        &self,
        r: &SearchRequest,
        parsed: &ParsedQuery,
        filters: &Filters,
        notices: &mut Vec<String>,
        explained: Option<&mut learned::RankerExplained>,
    ) -> Result<(Vec<Fused>, usize, Vec<u64>), SearchError> {
        let depth = self.config.candidates.max(r.offset + r.limit);
        let synonyms = read(&self.synonyms);
        let mut lexical = Vec::new();
        let mut total = 0;
        let mut facet_keys = Vec::new();
        if r.retrieval != Retrieval::Semantic {
            let hits = self.lexical.search(
                &LexicalQuery {
                    text: &parsed.text,
                    filters,
                    synonyms: &synonyms,
                },
                depth.max(self.config.facet_sample),
            )?;
            total = hits.total;
            facet_keys = hits.hits.iter().map(|h| h.0).collect();
            lexical = hits.hits;
            lexical.truncate(depth);
        }
        let how = r.fusion.unwrap_or(self.config.fusion);
        let semantic_depth = if how == Fusion::Learned {
            depth
        } else {
            depth.min(self.config.semantic_candidates.max(r.offset + r.limit))
        };
        let mut semantic = Vec::new();
        let mut query_vec = None;
        if r.retrieval != Retrieval::Lexical {
            match self.semantic(&parsed.text, filters, semantic_depth).await {
                Ok((s, q)) => {
                    semantic = s;
                    query_vec = Some(q);
                }
                Err(reason) => {
                    self.stats
                        .semantic_fallbacks
                        .fetch_add(1, Ordering::Relaxed);
                    notices.push(format!(
                        "semantic retrieval unavailable ({reason}); lexical results only"
                    ));
                    if r.retrieval == Retrieval::Semantic {
                        return Err(SearchError::Model(reason));
                    }
                }
            }
        }
        let known: FxHashSet<u64> = facet_keys.iter().copied().collect();
        for (k, _) in &semantic {
            if !known.contains(k) {
                facet_keys.push(*k);
                total += 1;
            }
        }
        let mut fused = fuse(&lexical, &semantic, how);
        if how == Fusion::Learned {
            let ranker = self.ranker.read().ok().and_then(|r| r.clone());
            match ranker {
                Some(model) => {
                    fused.truncate(depth * 2);
                    let x = self.candidate_features(
                        &parsed.text,
                        parsed.corrections.len(),
                        &fused,
                        query_vec.as_deref(),
                    );
                    // Only a model that reads the ranker's context asks for it (and for the keys).
                    let (scores, context) = model.predict_in_context(&x, |set| {
                        let keys: Vec<u64> = fused.iter().map(|f| f.key).collect();
                        self.ranker_context(&keys, set, query_vec.is_some())
                    });
                    for (f, s) in fused.iter_mut().zip(scores) {
                        f.score = s as f32;
                    }
                    if let Some(e) = explained {
                        let context =
                            (0..x.len()).map(|i| context.as_ref().and_then(|c| c.get(i).copied()));
                        let keys = fused.iter().map(|f| f.key);
                        e.rows.extend(keys.zip(x.into_iter().zip(context)));
                        e.model = Some(model.clone());
                    }
                    fused.sort_by(|a, b| b.score.total_cmp(&a.score));
                    if let Err(reason) = self.cross_rerank(&r.query, &mut fused).await {
                        notices.push(format!(
                            "cross-encoder unavailable ({reason}); the learned ranker's order is kept"
                        ));
                    }
                }
                None => {
                    notices.push("no learned ranker loaded; reciprocal-rank fusion used".into())
                }
            }
        }
        Ok((fused, total, facet_keys))
    }
}
