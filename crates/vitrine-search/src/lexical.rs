//! The full-text index (tantivy): BM25 over title, brand, category, attribute values and description with
//! per-field boosts, English stemming, query-time synonyms and typo tolerance for longer words. Filters
//! are query clauses, so constrained searches keep full recall.

use crate::doc::SearchDoc;
use crate::doc_keys::DocKeys;
use crate::filters::Filters;
use crate::normalize::{self, is_stop_word};
use crate::price_filter::{PriceRangeQuery, PriceSets};
use crate::synonyms::Synonyms;
use crate::top_by_key::TopByScoreThenKey;
use crate::SearchError;
use rustc_hash::FxHashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tantivy::collector::Count;
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, EnableScoring, FuzzyTermQuery, Occur, PhraseQuery, Query,
    TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, STRING,
};
use tantivy::tokenizer::TokenStream;
use tantivy::{
    DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TantivyDocument, Term,
    TERMINATED,
};

/// Relative weight of a match in each field.
const BOOSTS: [(FieldName, f32); 5] = [
    (FieldName::Title, 3.0),
    (FieldName::Brand, 2.0),
    (FieldName::Category, 1.5),
    (FieldName::Attributes, 1.2),
    (FieldName::Description, 0.4),
];
/// Weight of a synonym relative to the word typed.
const SYNONYM_WEIGHT: f32 = 0.7;
/// Weight of a typo-tolerant match.
const FUZZY_WEIGHT: f32 = 0.5;
/// Extra weight when the whole query appears as a phrase in the title.
const PHRASE_WEIGHT: f32 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldName {
    Title,
    Brand,
    Category,
    Attributes,
    Description,
}

#[derive(Clone, Copy)]
struct Fields {
    key: Field,
    title: Field,
    title_exact: Field,
    brand: Field,
    category: Field,
    attributes: Field,
    description: Field,
    facets_exact: Field,
    kv: Field,
    price: Field,
    available: Field,
}

impl Fields {
    fn text(&self, f: FieldName) -> Field {
        match f {
            FieldName::Title => self.title,
            FieldName::Brand => self.brand,
            FieldName::Category => self.category,
            FieldName::Attributes => self.attributes,
            FieldName::Description => self.description,
        }
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let stemmed = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("en_stem")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let exact = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    let fields = Fields {
        key: b.add_u64_field(
            crate::doc_keys::KEY_FIELD,
            NumericOptions::default()
                .set_indexed()
                .set_fast()
                .set_stored(),
        ),
        title: b.add_text_field("title", stemmed.clone()),
        title_exact: b.add_text_field("title_exact", exact.clone()),
        brand: b.add_text_field("brand", stemmed.clone()),
        category: b.add_text_field("category", stemmed.clone()),
        attributes: b.add_text_field("attributes", stemmed.clone()),
        description: b.add_text_field("description", stemmed),
        facets_exact: b.add_text_field("facets_exact", exact),
        kv: b.add_text_field("kv", STRING),
        price: b.add_f64_field(
            crate::price_filter::PRICE_FIELD,
            NumericOptions::default().set_indexed().set_fast(),
        ),
        available: b.add_u64_field(
            "available",
            NumericOptions::default().set_indexed().set_fast(),
        ),
    };
    (b.build(), fields)
}

/// What the text index stores about one product beyond its [`SearchDoc`].
pub struct LexicalDoc<'a> {
    /// The search view.
    pub doc: &'a SearchDoc,
    /// Description text.
    pub description: &'a str,
    /// Attribute values as text, including non-facet ones.
    pub attributes_text: &'a str,
}

/// The tantivy index and its single writer.
pub struct LexicalIndex {
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    /// Price constraints' document sets, remembered per segment ([`crate::price_filter`]).
    price_sets: Arc<PriceSets>,
    /// Product keys by document id, per segment ([`crate::doc_keys`]).
    doc_keys: DocKeys,
}

/// A retrieval request against the text index.
pub struct LexicalQuery<'a> {
    /// Relevance words (empty means "everything that passes the filters").
    pub text: &'a str,
    /// Admissibility.
    pub filters: &'a Filters,
    /// Query-time synonyms.
    pub synonyms: &'a Synonyms,
}

/// Hits of a text search: (key, BM25 score) best first, and how many products matched in all.
#[derive(Debug, Default)]
pub struct LexicalHits {
    /// Best hits.
    pub hits: Vec<(u64, f32)>,
    /// Size of the whole matched set.
    pub total: usize,
}

fn tantivy_err(e: impl std::fmt::Display) -> SearchError {
    SearchError::Index(e.to_string())
}

impl LexicalIndex {
    /// Opens (or creates) the index in `dir`; `None` keeps it in memory (evaluation, tests).
    pub fn open(dir: Option<&Path>) -> Result<Self, SearchError> {
        let (schema, fields) = schema();
        let index = match dir {
            Some(d) => {
                std::fs::create_dir_all(d)
                    .map_err(|e| SearchError::Io(d.display().to_string(), e))?;
                let directory = tantivy::directory::MmapDirectory::open(d).map_err(tantivy_err)?;
                Index::open_or_create(directory, schema).map_err(tantivy_err)?
            }
            None => Index::create_in_ram(schema),
        };
        let writer = index
            .writer_with_num_threads(1, 64_000_000)
            .map_err(tantivy_err)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(tantivy_err)?;
        Ok(Self {
            index,
            reader,
            writer: Mutex::new(writer),
            fields,
            price_sets: Arc::default(),
            doc_keys: DocKeys::default(),
        })
    }

    /// The change-feed position this index reflects (stored in the commit itself, so index content and
    /// position can never disagree after a crash).
    pub fn watermark(&self) -> i64 {
        self.index
            .load_metas()
            .ok()
            .and_then(|m| m.payload)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// Replaces (or adds) products; archived ones are only removed. Visible after [`Self::commit`].
    pub fn upsert(&self, docs: &[LexicalDoc<'_>]) -> Result<(), SearchError> {
        let f = self.fields;
        let writer = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        for d in docs {
            writer.delete_term(Term::from_field_u64(f.key, d.doc.key));
            if !d.doc.active {
                continue;
            }
            let mut doc = TantivyDocument::default();
            doc.add_u64(f.key, d.doc.key);
            doc.add_text(f.title, &d.doc.title);
            doc.add_text(f.title_exact, &d.doc.title);
            if let Some(b) = &d.doc.brand {
                doc.add_text(f.brand, b);
            }
            doc.add_text(f.category, d.doc.category.join(" "));
            doc.add_text(f.attributes, d.attributes_text);
            doc.add_text(f.description, d.description);
            let mut facet_text = String::new();
            for fv in &d.doc.facets {
                doc.add_text(f.kv, format!("{}={}", fv.name, fv.value));
                facet_text.push_str(&fv.value);
                facet_text.push_str(" | ");
            }
            doc.add_text(f.facets_exact, facet_text);
            doc.add_f64(f.price, d.doc.price);
            doc.add_u64(f.available, u64::from(d.doc.available));
            writer.add_document(doc).map_err(tantivy_err)?;
        }
        Ok(())
    }

    /// Removes a product.
    pub fn remove(&self, key: u64) -> Result<(), SearchError> {
        let writer = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        writer.delete_term(Term::from_field_u64(self.fields.key, key));
        Ok(())
    }

    /// Makes pending changes durable and visible, recording the change-feed position.
    pub fn commit(&self, watermark: i64) -> Result<(), SearchError> {
        let mut writer = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        let mut prepared = writer.prepare_commit().map_err(tantivy_err)?;
        prepared.set_payload(&watermark.to_string());
        prepared.commit().map_err(tantivy_err)?;
        drop(writer);
        self.reader.reload().map_err(tantivy_err)
    }

    /// Merges every segment into one and returns how many there were.
    ///
    /// A rebuild writes one segment per 64 MB of indexing memory, and tantivy's merge policy leaves a
    /// handful of them unmerged. Every search pays per segment: term lookups, scorer set-up, and sorting
    /// its own top hits before they are merged, so one segment answers the same query with less work (and
    /// BM25 statistics no longer count deleted rows). The change-feed position is kept.
    pub fn compact(&self) -> Result<usize, SearchError> {
        let ids = self.index.searchable_segment_ids().map_err(tantivy_err)?;
        if ids.len() > 1 {
            let mut writer = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
            writer.merge(&ids).wait().map_err(tantivy_err)?;
            writer.garbage_collect_files().wait().map_err(tantivy_err)?;
        }
        self.reader.reload().map_err(tantivy_err)?;
        Ok(ids.len())
    }

    /// Number of segments searches visit (see [`Self::compact`]).
    pub fn segments(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Drops every document (before a full rebuild).
    pub fn clear(&self) -> Result<(), SearchError> {
        let writer = self.writer.lock().map_err(|_| SearchError::Poisoned)?;
        writer.delete_all_documents().map_err(tantivy_err)?;
        drop(writer);
        self.commit(0)
    }

    /// Number of searchable products.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inverse document frequency of each word in product titles (BM25's form, after stemming): how
    /// much finding the word in a title says, for the learned ranker. Unknown words get the highest.
    pub fn title_idf(&self, words: &[String]) -> Vec<f64> {
        let searcher = self.reader.searcher();
        let n = searcher.num_docs() as f64;
        words
            .iter()
            .map(|w| {
                let df = self
                    .analyze(self.fields.title, w)
                    .iter()
                    .map(|t| searcher.doc_freq(t).unwrap_or(0))
                    .max()
                    .unwrap_or(0) as f64;
                (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
            })
            .collect()
    }

    fn analyze(&self, field: Field, text: &str) -> Vec<Term> {
        let mut out = Vec::new();
        if let Ok(mut tok) = self.index.tokenizer_for_field(field) {
            let mut stream = tok.token_stream(text);
            while stream.advance() {
                out.push(Term::from_field_text(field, &stream.token().text));
            }
        }
        out
    }

    /// Clauses matching `phrase` in `field` (a term, or a phrase of terms).
    fn phrase_clause(&self, field: Field, phrase: &str) -> Option<Box<dyn Query>> {
        let terms = self.analyze(field, phrase);
        match terms.len() {
            0 => None,
            1 => Some(Box::new(TermQuery::new(
                terms.into_iter().next()?,
                IndexRecordOption::WithFreqs,
            ))),
            _ => Some(Box::new(PhraseQuery::new(terms))),
        }
    }

    /// `word` as analysed in every searched field, each term with its field's boost.
    fn boosted_terms(&self, word: &str) -> Vec<(Term, f32)> {
        BOOSTS
            .iter()
            .flat_map(|(name, boost)| {
                self.analyze(self.fields.text(*name), word)
                    .into_iter()
                    .map(move |term| (term, *boost))
            })
            .collect()
    }

    fn relevance_query(&self, searcher: &Searcher, q: &LexicalQuery<'_>) -> Option<Box<dyn Query>> {
        let f = self.fields;
        let words: Vec<String> = normalize::tokens(q.text)
            .into_iter()
            .filter(|w| !is_stop_word(w))
            .take(32)
            .collect();
        if words.is_empty() {
            return None;
        }
        let word_refs: Vec<&str> = words.iter().map(String::as_str).collect();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for w in &words {
            let terms = self.boosted_terms(w);
            let known = terms
                .iter()
                .any(|(term, _)| searcher.doc_freq(term).unwrap_or(0) > 0);
            // "9x12" is searched as its numbers too: titles write "9 ft. x 12 ft.".
            let mut parts = normalize::size_parts(w).unwrap_or_default();
            parts.sort_unstable();
            parts.dedup();
            let part_terms = parts.into_iter().flat_map(|p| self.boosted_terms(p));
            for (term, boost) in terms.into_iter().chain(part_terms) {
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(
                        Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
                        boost,
                    )),
                ));
            }
            if let Some(distance) = normalize::typo_edits(w).filter(|_| !known) {
                let term = Term::from_field_text(f.title_exact, w);
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(
                        Box::new(FuzzyTermQuery::new(term, distance as u8, true)),
                        FUZZY_WEIGHT * BOOSTS[0].1,
                    )),
                ));
            }
        }
        for (_, _, alts) in q.synonyms.expansions(&word_refs) {
            for alt in alts {
                for (name, boost) in BOOSTS.iter().take(3) {
                    if let Some(c) = self.phrase_clause(f.text(*name), &alt) {
                        clauses.push((
                            Occur::Should,
                            Box::new(BoostQuery::new(c, boost * SYNONYM_WEIGHT)),
                        ));
                    }
                }
            }
        }
        if words.len() >= 2 {
            if let Some(c) = self.phrase_clause(f.title, &words.join(" ")) {
                clauses.push((Occur::Should, Box::new(BoostQuery::new(c, PHRASE_WEIGHT))));
            }
        }
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    fn filter_clauses(&self, filters: &Filters) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if filters.price_min.is_some() || filters.price_max.is_some() {
            out.push((
                Occur::Must,
                Box::new(PriceRangeQuery::new(
                    filters.price_min,
                    filters.price_max,
                    self.price_sets.clone(),
                )),
            ));
        }
        if filters.in_stock {
            out.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.available, 1),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        for (name, values) in &filters.attributes {
            let lenient = filters.lenient.get(name).copied().unwrap_or(false);
            let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for v in values {
                any.push((Occur::Should, self.kv_clause(name, v)));
                if lenient {
                    if let Some(c) = self.phrase_clause(f.title_exact, v) {
                        any.push((Occur::Should, c));
                    }
                }
            }
            out.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        for e in &filters.exclusions {
            if let Some(name) = &e.name {
                out.push((Occur::MustNot, self.kv_clause(name, &e.value)));
                if let Some(c) = self.phrase_clause(f.title_exact, &e.value) {
                    out.push((Occur::MustNot, c));
                }
            } else {
                for field in [f.title_exact, f.facets_exact] {
                    if let Some(c) = self.phrase_clause(field, &e.value) {
                        out.push((Occur::MustNot, c));
                    }
                }
            }
        }
        if !filters.category_prefix.is_empty() {
            for seg in &filters.category_prefix {
                out.push((Occur::Must, self.kv_clause("category", seg)));
            }
        }
        out
    }

    fn kv_clause(&self, name: &str, value: &str) -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(self.fields.kv, &format!("{name}={value}")),
            IndexRecordOption::Basic,
        ))
    }

    /// The keys of every product passing `filters`, when there are at most `limit` of them (`None` when
    /// there are more, or no filter). Why: under a selective filter a filtered HNSW walk visits most of
    /// the graph to find enough accepted nodes (it was 85 % of uncached search time); scoring the few
    /// matching products exactly is both faster and exact.
    pub fn filtered_keys(
        &self,
        filters: &Filters,
        limit: usize,
    ) -> Result<Option<Vec<u64>>, SearchError> {
        let mut clauses = self.filter_clauses(filters);
        if clauses.is_empty() {
            return Ok(None);
        }
        if clauses.iter().all(|(o, _)| *o == Occur::MustNot) {
            clauses.push((Occur::Must, Box::new(AllQuery)));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        // Walk the matches ourselves and stop at the first one past the limit: most constraints are broad
        // ("under $200", "for men") and a collector would have to visit every match only to learn that.
        let weight = query
            .weight(EnableScoring::disabled_from_searcher(&searcher))
            .map_err(tantivy_err)?;
        let mut keys = Vec::new();
        let mut matched = 0;
        for reader in searcher.segment_readers() {
            let column = self.doc_keys.of(&searcher, reader)?;
            let alive = reader.alive_bitset();
            let mut scorer = weight.scorer(reader, 1.0).map_err(tantivy_err)?;
            let mut doc = scorer.doc();
            while doc != TERMINATED {
                if alive.is_none_or(|a| a.is_alive(doc)) {
                    matched += 1;
                    if matched > limit {
                        return Ok(None);
                    }
                    keys.extend(column.get(doc));
                }
                doc = scorer.advance();
            }
        }
        Ok(Some(keys))
    }

    /// How many segments' key arrays are held.
    #[cfg(test)]
    pub(crate) fn doc_keys_segments(&self) -> usize {
        self.doc_keys.segments()
    }

    /// How many price ranges are remembered (tests check that a repeated range is reused).
    #[cfg(test)]
    pub(crate) fn price_sets_len(&self) -> usize {
        self.price_sets.len()
    }

    /// The `limit` best products for the query among those passing the filters, and the matched count.
    pub fn search(&self, q: &LexicalQuery<'_>, limit: usize) -> Result<LexicalHits, SearchError> {
        let searcher = self.reader.searcher();
        let relevance = self.relevance_query(&searcher, q);
        let has_text = relevance.is_some();
        let mut clauses = self.filter_clauses(q.filters);
        let positive = clauses.iter().any(|(o, _)| *o != Occur::MustNot);
        match relevance {
            Some(r) => clauses.push((Occur::Must, r)),
            None if !positive => clauses.push((Occur::Must, Box::new(AllQuery))),
            None => {}
        }
        let query = BooleanQuery::new(clauses);
        // Equal scores are ordered by product key inside the collector (see `top_by_key`).
        let mut keys = FxHashMap::default();
        for reader in searcher.segment_readers() {
            keys.insert(reader.segment_id(), self.doc_keys.of(&searcher, reader)?);
        }
        let top = TopByScoreThenKey {
            limit,
            keys: Arc::new(keys),
        };
        let (mut hits, total) = searcher
            .search(&query, &(top, Count))
            .map_err(tantivy_err)?;
        if !has_text {
            hits.iter_mut().for_each(|h| h.1 = 0.0);
        }
        Ok(LexicalHits { hits, total })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{doc, index_titles};

    #[test]
    fn a_limit_that_cuts_equal_scores_keeps_the_same_products_whatever_the_indexing_order() {
        let top2 = |order: &[String]| -> Vec<u64> {
            let index = LexicalIndex::open(None).expect("index");
            for (i, id) in order.iter().enumerate() {
                // One commit each: every product lands in its own segment.
                index_titles(&index, &[doc(id, "Brass Desk Lamp")], i as i64 + 1);
            }
            let q = LexicalQuery {
                text: "brass desk lamp",
                filters: &Filters::default(),
                synonyms: &Synonyms::default(),
            };
            let hits = index.search(&q, 2).expect("search");
            assert_eq!(hits.total, order.len());
            hits.hits.into_iter().map(|h| h.0).collect()
        };
        // A few equal titles, and more of them than a fixed over-fetch past the limit would hold.
        for n in [5, 60] {
            let ids: Vec<String> = (1..=n).map(|i| format!("L-{i}")).collect();
            let forward = top2(&ids);
            let backward = top2(&ids.iter().rev().cloned().collect::<Vec<_>>());
            assert_eq!(forward.len(), 2);
            assert_eq!(forward, backward, "{n} equal titles");
        }
    }
}
