//! The learned ranker's view of candidates: features for re-ranking and training rows for the evaluation.

use super::{read, SearchEngine};
use crate::doc::SearchDoc;
use crate::filters::Filters;
use crate::fusion::{fuse, Fused, Fusion};
use crate::lexical::LexicalQuery;
use crate::list_context;
use crate::ltr::{self, QueryContext};
use crate::normalize;
use crate::word_vectors::WordTable;
use crate::SearchError;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What `explain` shows of the learned ranker: each candidate's inputs, and the model that scored
/// them (kept so the explanation comes from that model even if another is installed meanwhile).
#[derive(Default)]
pub(super) struct RankerExplained {
    /// Each candidate's features and, for a model that reads it, the ranker's context.
    pub rows: FxHashMap<u64, (ltr::FeatureRow, Option<ltr::ListSignals>)>,
    pub model: Option<Arc<ltr::LearnedRanker>>,
}

/// A candidate's ranker inputs by name, what each added to its score, and the unexplained rest.
type RankerExplanation = (
    Option<BTreeMap<String, f64>>,
    Option<BTreeMap<String, f64>>,
    Option<f64>,
);

impl RankerExplained {
    /// The explanations of candidates `keys`, computed together (one model pass for the page);
    /// a key the learned ranker did not order is absent.
    pub fn explain_all(&self, keys: &[u64]) -> FxHashMap<u64, RankerExplanation> {
        let mut found = Vec::new();
        let (mut rows, mut context) = (Vec::new(), Vec::new());
        for k in keys {
            if let Some((row, signals)) = self.rows.get(k) {
                found.push(*k);
                rows.push(*row);
                context.push(*signals);
            }
        }
        // Context is either known for every candidate (a model that reads it) or for none.
        let context: Option<Vec<ltr::ListSignals>> = context.iter().copied().collect();
        let contributions = self
            .model
            .as_ref()
            .and_then(|m| m.contributions_of(&rows, context.as_deref()));
        let mut contributions = contributions.map(Vec::into_iter);
        found
            .into_iter()
            .zip(&rows)
            .zip(context_per_row(context.as_deref(), rows.len()))
            .map(|((key, row), signals)| {
                let explained = contributions.as_mut().and_then(Iterator::next);
                let (by_feature, base) =
                    explained.map_or((None, None), |(c, b)| (Some(c), Some(b)));
                (key, (Some(ltr::named(row, signals)), by_feature, base))
            })
            .collect()
    }
}

/// Each row's context, or `None` for every row when there is none.
fn context_per_row(
    context: Option<&[ltr::ListSignals]>,
    rows: usize,
) -> impl Iterator<Item = Option<&ltr::ListSignals>> {
    (0..rows).map(move |i| context.and_then(|c| c.get(i)))
}

impl SearchEngine {
    /// Learned-ranker features of fused candidates (cosine computed for every candidate);
    /// `corrected_words` is how many of `text`'s words the speller replaced.
    pub fn candidate_features(
        &self,
        text: &str,
        corrected_words: usize,
        fused: &[Fused],
        query_vec: Option<&[f32]>,
    ) -> Vec<ltr::FeatureRow> {
        let docs = match self.docs.read() {
            Ok(d) => d,
            Err(_) => return Vec::new(),
        };
        let cosines: Vec<Option<f32>> = match (query_vec, &self.vectors) {
            (Some(q), Some(v)) => {
                let keys: Vec<u64> = fused.iter().map(|f| f.key).collect();
                v.cosines(q, &keys)
            }
            _ => vec![None; fused.len()],
        };
        let ctx = QueryContext::new(
            text,
            |words| self.lexical.title_idf(words),
            fused
                .iter()
                .filter_map(|f| f.lexical.map(|l| l.0))
                .fold(0.0, f32::max),
            cosines.iter().flatten().copied().fold(0.0, f32::max),
        )
        .with_corrections(corrected_words);
        let signals = self.list_signals(fused, query_vec.is_some(), &docs);
        let rows = |words: Option<&WordTable>| -> Vec<ltr::FeatureRow> {
            fused
                .iter()
                .zip(&cosines)
                .zip(&signals)
                .map(|((f, c), list)| match docs.get(&f.key) {
                    Some(d) => ltr::features(&ctx, f, *c, *list, d, words),
                    None => [0.0; ltr::N_FEATURES],
                })
                .collect()
        };
        if self.embedder.is_some() {
            self.word_vectors
                .with_table(|t| rows(Some(t)))
                .unwrap_or_else(|| rows(None))
        } else {
            rows(None)
        }
    }

    /// Embeds the catalog's title words that have no vector yet (see [`crate::word_vectors`]);
    /// returns how many. The first vector catch-up after a start runs this over the whole catalog
    /// (only words the saved table lacks are embedded); later ones read only the changed products
    /// ([`Self::embed_title_words_of`]).
    pub async fn embed_title_words(&self) -> Result<usize, SearchError> {
        if self.embedder.is_none() {
            return Ok(0);
        }
        let missing = {
            let docs = self.docs.read().map_err(|_| SearchError::Poisoned)?;
            self.word_vectors.missing(
                docs.values()
                    .flat_map(|d| d.title_padded().split(' '))
                    .filter(|w| !w.is_empty()),
            )
        };
        let embedded = self.embed_words(missing).await?;
        self.word_vectors.mark_caught_up();
        self.save_word_vectors();
        Ok(embedded)
    }

    /// Embeds the new title words of just these products; returns how many. A catch-up that touched
    /// a few products thus costs a few lookups, not a pass over every title of the catalog. The
    /// caller saves them ([`Self::save_word_vectors`]) once its catch-up ends.
    pub async fn embed_title_words_of(
        &self,
        products: &[vitrine_core::Product],
    ) -> Result<usize, SearchError> {
        // The products' own titles, not the doc table's: the text follower may not have applied
        // this change yet.
        let titles: Vec<String> = products
            .iter()
            .filter(|p| p.status == vitrine_core::ProductStatus::Active)
            .map(|p| normalize::padded(&p.title))
            .collect();
        let missing = self.word_vectors.missing(
            titles
                .iter()
                .flat_map(|t| t.split(' '))
                .filter(|w| !w.is_empty()),
        );
        self.embed_words(missing).await
    }

    /// Embeds `missing` words in batches and stores their vectors; returns how many.
    async fn embed_words(&self, missing: Vec<String>) -> Result<usize, SearchError> {
        let Some(embedder) = &self.embedder else {
            return Ok(0);
        };
        for chunk in missing.chunks(WORD_BATCH) {
            let vectors = embedder
                .embed(chunk.to_vec())
                .await
                .map_err(|e| SearchError::Model(e.to_string()))?;
            self.word_vectors.insert(chunk.to_vec(), vectors);
        }
        if !missing.is_empty() {
            self.invalidate();
        }
        Ok(missing.len())
    }

    /// Writes the words embedded since the last write to disk (appended to the file). The followers
    /// call this once at the end of a catch-up, not per batch: one write per catch-up. A failure is
    /// logged: the vectors are derived and are embedded again after a restart.
    pub fn save_word_vectors(&self) {
        if let Err(e) = self.word_vectors.save_if_changed() {
            tracing::warn!(error = %e, "word vectors not saved; they are embedded again after a restart");
        }
    }

    /// How many title words have vectors (for metrics, logs and tests).
    pub fn word_vector_count(&self) -> usize {
        self.word_vectors.len()
    }

    /// Whether the title words of the whole catalog were embedded once since start.
    pub fn word_vectors_caught_up(&self) -> bool {
        self.word_vectors.is_caught_up()
    }

    /// Each candidate's resemblance to the other top results ([`list_context`]): cosine with their
    /// summed vectors (when the query was embedded) and the consensus of title words.
    fn list_signals(
        &self,
        fused: &[Fused],
        embedded: bool,
        docs: &FxHashMap<u64, Arc<SearchDoc>>,
    ) -> Vec<ltr::ListSignals> {
        let keys: Vec<u64> = fused.iter().map(|f| f.key).collect();
        let set = list_context::feedback_set(fused);
        self.list_signals_over(&keys, &set, embedded, docs)
    }

    /// The learned ranker's context ([`ltr::RANKER_CONTEXT_FEATURES`]): each candidate's
    /// resemblance to the feedback set `set` (ascending indices into `keys`, the ranker's own best
    /// candidates) rather than to the retrievers' top results. `embedded`: whether the query had a
    /// vector (without one the cosines are 0, as in the features).
    pub fn ranker_context(
        &self,
        keys: &[u64],
        set: &[usize],
        embedded: bool,
    ) -> Vec<ltr::ListSignals> {
        match self.docs.read() {
            Ok(docs) => self.list_signals_over(keys, set, embedded, &docs),
            Err(_) => vec![ltr::ListSignals::default(); keys.len()],
        }
    }

    fn list_signals_over(
        &self,
        keys: &[u64],
        set: &[usize],
        embedded: bool,
        docs: &FxHashMap<u64, Arc<SearchDoc>>,
    ) -> Vec<ltr::ListSignals> {
        let words: Vec<Vec<&str>> = keys
            .iter()
            .map(|k| {
                docs.get(k)
                    .map_or_else(Vec::new, |d| list_context::title_words(d.title_padded()))
            })
            .collect();
        let consensus = list_context::title_consensus(&words, set);
        let mut cosines = vec![0.0; keys.len()];
        if let (true, Some(v)) = (embedded, &self.vectors) {
            let members: Vec<Option<Vec<f32>>> = set.iter().map(|&i| v.get(keys[i])).collect();
            let with_vector = members.iter().flatten().count();
            if let Some(sum) = list_context::centroid(&members) {
                let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
                for (i, c) in v.cosines(&sum, keys).into_iter().enumerate() {
                    let member = members_has_vector(set, &members, i);
                    cosines[i] = c.map_or(0.0, |c| {
                        f64::from(list_context::cosine_to_others(c, norm, member, with_vector))
                    });
                }
            }
        }
        cosines
            .into_iter()
            .zip(consensus)
            .map(|(cosine_to_top, title_consensus)| ltr::ListSignals {
                cosine_to_top,
                title_consensus,
            })
            .collect()
    }

    /// The fused candidates of a query (key and product id) with their learned-ranker features
    /// (training data for the ranker; the keys are for [`Self::ranker_context`]).
    pub async fn training_candidates(
        &self,
        query: &str,
        depth: usize,
    ) -> Result<Vec<(u64, String, ltr::FeatureRow)>, SearchError> {
        let parsed = self.parse(query);
        if normalize::tokens(&parsed.text).is_empty() {
            // Nothing left to rank by relevance (the query was all constraints or stop words).
            return Ok(Vec::new());
        }
        let mut filters = Filters::default();
        filters.add_parsed(&parsed);
        let synonyms = read(&self.synonyms);
        let lexical = self
            .lexical
            .search(
                &LexicalQuery {
                    text: &parsed.text,
                    filters: &filters,
                    synonyms: &synonyms,
                },
                depth,
            )?
            .hits;
        let (semantic, qvec) = self
            .semantic(&parsed.text, &filters, depth)
            .await
            .map_err(SearchError::Model)?;
        let fused = fuse(&lexical, &semantic, Fusion::Learned);
        let features =
            self.candidate_features(&parsed.text, parsed.corrections.len(), &fused, Some(&qvec));
        let docs = self.docs.read().map_err(|_| SearchError::Poisoned)?;
        Ok(fused
            .iter()
            .zip(features)
            .filter_map(|(f, x)| docs.get(&f.key).map(|d| (f.key, d.id.clone(), x)))
            .collect())
    }
}

/// Words embedded per model call: short texts, so a large batch pads little.
const WORD_BATCH: usize = 512;

/// Whether candidate `i`, a member of the feedback set, contributed a vector to its sum.
fn members_has_vector(set: &[usize], members: &[Option<Vec<f32>>], i: usize) -> bool {
    set.binary_search(&i)
        .ok()
        .is_some_and(|at| members[at].is_some())
}
