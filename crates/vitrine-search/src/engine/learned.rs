//! The learned ranker's view of candidates: features for re-ranking and training rows for the evaluation.

use super::{read, SearchEngine};
use crate::filters::Filters;
use crate::fusion::{fuse, Fused, Fusion};
use crate::lexical::LexicalQuery;
use crate::ltr::{self, QueryContext};
use crate::normalize;
use crate::SearchError;

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
        fused
            .iter()
            .zip(&cosines)
            .map(|(f, c)| match docs.get(&f.key) {
                Some(d) => ltr::features(&ctx, f, *c, d),
                None => [0.0; ltr::N_FEATURES],
            })
            .collect()
    }

    /// The fused candidates of a query with their learned-ranker features (training data for the ranker).
    pub async fn training_candidates(
        &self,
        query: &str,
        depth: usize,
    ) -> Result<Vec<(String, ltr::FeatureRow)>, SearchError> {
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
            .filter_map(|(f, x)| docs.get(&f.key).map(|d| (d.id.clone(), x)))
            .collect())
    }
}
