//! Training the learned ranker for `vitrine eval search`: its settings, the training groups built
//! from the engine's own candidate pool, and the listwise trees that read the ranker's own top 5.

use std::path::PathBuf;
use std::time::Instant;
use vitrine_search::lambdamart::LambdaParams;
use vitrine_search::ltr::{LearnedRanker, TrainingGroup};
use vitrine_search::SearchEngine;

/// How the learned ranker is trained, and where it is saved (a later ranker overwrites an earlier one).
pub(crate) struct RankerTraining {
    pub(crate) depth: usize,
    /// Folds of the out-of-fold first stages under the listwise trees (below 2: in-sample).
    pub(crate) cross_folds: usize,
    pub(crate) listwise: LambdaParams,
    /// Whether the listwise trees also read the ranker's context (`ltr::RANKER_CONTEXT_FEATURES`).
    pub(crate) listwise_context: bool,
    pub(crate) trees: usize,
    pub(crate) seed: u64,
    pub(crate) save: Option<PathBuf>,
    pub(crate) load: Option<PathBuf>,
}

/// Trains the learned ranker on the engine's own candidate pool for `train` queries; returns it and
/// the training groups (for the listwise trees).
/// Each part pairs the engine whose candidates and features a group of training queries gets with those
/// queries (one part, except when the encoder is cross-fitted: `eval_crossfit`).
pub(crate) type TrainingParts<'a> = [(&'a SearchEngine, &'a [vitrine_search::eval::JudgedQuery])];

/// The engine that featurised a training group and the keys of its candidates, in row order (to
/// compute the ranker's context over them).
type GroupSource<'a> = (&'a SearchEngine, Vec<u64>);

pub(crate) async fn train_ranker<'a>(
    parts: &TrainingParts<'a>,
    RankerTraining {
        depth, trees, seed, ..
    }: &RankerTraining,
) -> anyhow::Result<(LearnedRanker, Vec<TrainingGroup>, Vec<GroupSource<'a>>)> {
    let (depth, trees, seed) = (*depth, *trees, *seed);
    let t = Instant::now();
    let queries: usize = parts.iter().map(|(_, q)| q.len()).sum();
    let mut groups = Vec::with_capacity(queries);
    let mut sources = Vec::with_capacity(queries);
    for (engine, q) in parts
        .iter()
        .flat_map(|(e, qs)| qs.iter().map(move |q| (*e, q)))
    {
        let mut group = TrainingGroup {
            rows: Vec::new(),
            labels: Vec::new(),
        };
        let mut keys = Vec::new();
        for (key, id, x) in engine.training_candidates(&q.text, depth).await? {
            keys.push(key);
            // Unjudged candidates count as irrelevant, exactly as the metric treats them.
            group
                .labels
                .push(q.judgments.get(&id).copied().unwrap_or(1.0));
            group.rows.push(x);
        }
        groups.push(group);
        sources.push((engine, keys));
    }
    let rows: Vec<_> = groups.iter().flat_map(|g| g.rows.iter().copied()).collect();
    let labels: Vec<f64> = groups
        .iter()
        .flat_map(|g| g.labels.iter().copied())
        .collect();
    let ranker = LearnedRanker::train(&rows, &labels, trees, seed)?;
    eprintln!(
        "learned ranker: trained on {} candidates of {} queries in {:.0} s",
        rows.len(),
        queries,
        t.elapsed().as_secs_f64()
    );
    Ok((ranker, groups, sources))
}

/// The ranker with listwise trees over out-of-fold first-stage scores that also read the ranker's
/// context: each training group's context is computed over its out-of-fold top results, as serving
/// computes it over the full first stage's.
pub(crate) fn with_listwise_in_context(
    ranker: &LearnedRanker,
    groups: &[TrainingGroup],
    sources: &[GroupSource<'_>],
    training: &RankerTraining,
    gain: impl Fn(f64) -> f64,
) -> anyhow::Result<LearnedRanker> {
    let bases =
        ranker.first_stage_scores(groups, training.cross_folds, training.trees, training.seed)?;
    let context: Vec<_> = sources
        .iter()
        .zip(&bases)
        .map(|((engine, keys), base)| {
            engine.ranker_context(keys, &vitrine_search::ltr::ranker_feedback_set(base), true)
        })
        .collect();
    Ok(ranker.with_listwise_over(groups, bases, Some(&context), gain, &training.listwise))
}
