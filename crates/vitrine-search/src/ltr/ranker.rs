//! The learned ranker's model: the pointwise first stage, the listwise trees over it, how both are
//! trained, saved, loaded and explained. The features it reads are [`super::features`].

use super::{FeatureRow, ListSignals, FEATURES, LIST_CONSENSUS, LIST_COSINE, N_FEATURES};
use crate::lambdamart::{LambdaParams, RankingGroup, TreeEnsemble};
use crate::SearchError;
use forust_ml::{GradientBooster, Matrix};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The on-disk ranker: the feature names it expects, forust's JSON and the listwise trees.
#[derive(Serialize, Deserialize)]
struct ModelFile {
    features: Vec<String>,
    booster: String,
    /// Absent from pointwise-only models (and from files saved before listwise trees existed).
    #[serde(default)]
    listwise: Option<TreeEnsemble>,
    /// Whether the listwise trees read [`RANKER_CONTEXT_FEATURES`] (absent: they do not).
    #[serde(default)]
    listwise_reads_ranker_context: bool,
}

/// Names of the two inputs only the listwise trees of a context-reading model see, after
/// [`FEATURES`]: the list-context signals ([`crate::list_context`]) recomputed with the first
/// stage's own best candidates ([`ranker_feedback_set`]) as the feedback set.
pub const RANKER_CONTEXT_FEATURES: [&str; 2] = [
    "cosine_to_ranker_top_results",
    "title_consensus_with_ranker_top_results",
];

/// How many of the first stage's best candidates form the feedback set of [`RANKER_CONTEXT_FEATURES`].
pub const RANKER_FEEDBACK_DEPTH: usize = 5;

/// Length of a context-reading model's listwise rows.
const N_CONTEXT: usize = N_FEATURES + RANKER_CONTEXT_FEATURES.len();

/// A row of a context-reading model's listwise trees: the features, then the two context signals.
type ContextRow = [f64; N_CONTEXT];

fn context_row(row: &FeatureRow, signals: &ListSignals) -> ContextRow {
    let mut out = [0.0; N_CONTEXT];
    out[..N_FEATURES].copy_from_slice(row);
    out[N_FEATURES] = signals.cosine_to_top;
    out[N_FEATURES + 1] = signals.title_consensus;
    out
}

/// Context rows of `rows`; a row without signals (a short `signals`) gets zeros, as a candidate
/// without vector or title words does.
fn context_rows(rows: &[FeatureRow], signals: &[ListSignals]) -> Vec<ContextRow> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| context_row(r, &signals.get(i).copied().unwrap_or_default()))
        .collect()
}

/// A row's own list signals (over the retrievers' top results), standing in for the ranker's
/// context where none was computed.
fn own_signals(row: &FeatureRow) -> ListSignals {
    ListSignals {
        cosine_to_top: row[LIST_COSINE],
        title_consensus: row[LIST_CONSENSUS],
    }
}

/// Indices of the [`RANKER_FEEDBACK_DEPTH`] best-scored candidates (ties to the earlier one), in
/// ascending order, the form [`crate::list_context`] takes a feedback set in.
pub fn ranker_feedback_set(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order.truncate(RANKER_FEEDBACK_DEPTH);
    order.sort_unstable();
    order
}

/// A trained model: a pointwise first stage (forust, squared loss on the grade) and, optionally,
/// listwise trees ([`crate::lambdamart`]) whose outputs are added to its scores.
///
/// Squared loss spends the first stage's capacity on telling the few relevant candidates from the
/// hundreds of irrelevant ones; the order within the top, which is all NDCG@10 sees, gets little of it.
/// The listwise trees start from the first stage's order and learn the corrections NDCG rewards.
#[derive(Clone)]
pub struct LearnedRanker {
    booster: Arc<GradientBooster>,
    listwise: Option<Arc<TreeEnsemble>>,
    /// Whether the listwise trees read [`RANKER_CONTEXT_FEATURES`] after the features.
    reads_context: bool,
}

/// One training query's candidates and their graded labels.
pub struct TrainingGroup {
    /// Feature rows of the query's candidates.
    pub rows: Vec<FeatureRow>,
    /// Graded relevance of each row (same order).
    pub labels: Vec<f64>,
}

fn model_err(e: impl std::fmt::Display) -> SearchError {
    SearchError::Config(format!("learned ranker: {e}"))
}

fn column_major(rows: &[FeatureRow]) -> Vec<f64> {
    let cols = FEATURES.len();
    let mut out = Vec::with_capacity(rows.len() * cols);
    for c in 0..cols {
        out.extend(rows.iter().map(|r| r[c]));
    }
    out
}

fn fit(
    rows: &[FeatureRow],
    labels: &[f64],
    trees: usize,
    seed: u64,
) -> Result<GradientBooster, SearchError> {
    let data = column_major(rows);
    let matrix = Matrix::new(&data, rows.len(), FEATURES.len());
    let mut booster = GradientBooster::default()
        .set_objective_type(forust_ml::objective::ObjectiveType::SquaredLoss)
        .set_iterations(trees)
        .set_learning_rate(0.1)
        .set_max_depth(6)
        .set_min_leaf_weight(20.0)
        .set_subsample(0.8)
        .set_seed(seed)
        .set_parallel(true);
    booster
        .fit_unweighted(&matrix, labels, None)
        .map_err(model_err)?;
    Ok(booster)
}

fn predict_with(booster: &GradientBooster, rows: &[FeatureRow]) -> Vec<f64> {
    if rows.is_empty() {
        return Vec::new();
    }
    let data = column_major(rows);
    booster.predict(&Matrix::new(&data, rows.len(), FEATURES.len()), false)
}

impl LearnedRanker {
    /// Trains the first stage on rows of [`features`] with graded labels (squared loss on the grade).
    pub fn train(
        rows: &[FeatureRow],
        labels: &[f64],
        trees: usize,
        seed: u64,
    ) -> Result<Self, SearchError> {
        Ok(Self {
            booster: Arc::new(fit(rows, labels, trees, seed)?),
            listwise: None,
            reads_context: false,
        })
    }

    /// A copy of this ranker with listwise trees trained on `groups`, starting from the first stage's
    /// scores; `gain` maps a label to what NDCG counts for it (the metric's own gain).
    ///
    /// The first stage scores its own training queries better than it will score new ones, so trees
    /// grown over those in-sample scores learn corrections for a ranker that serving never sees;
    /// [`Self::with_listwise_cross_fitted`] avoids that.
    pub fn with_listwise(
        &self,
        groups: &[TrainingGroup],
        gain: impl Fn(f64) -> f64,
        params: &LambdaParams,
    ) -> Self {
        let bases = self.in_sample_scores(groups);
        self.with_listwise_over(groups, bases, None, gain, params)
    }

    /// Like [`Self::with_listwise`], but every group's starting scores come from a first stage
    /// trained without it ([`Self::first_stage_scores`]): the trees then learn on scores like the
    /// ones new queries get, and a held-out share of the groups (`params.validation_every`) can
    /// honestly choose how many to keep.
    pub fn with_listwise_cross_fitted(
        &self,
        groups: &[TrainingGroup],
        gain: impl Fn(f64) -> f64,
        params: &LambdaParams,
        folds: usize,
        trees: usize,
        seed: u64,
    ) -> Result<Self, SearchError> {
        let bases = self.first_stage_scores(groups, folds, trees, seed)?;
        Ok(self.with_listwise_over(groups, bases, None, gain, params))
    }

    fn in_sample_scores(&self, groups: &[TrainingGroup]) -> Vec<Vec<f64>> {
        groups
            .iter()
            .map(|g| predict_with(&self.booster, &g.rows))
            .collect()
    }

    /// Each group's first-stage scores as a new query would get them: from `folds` first stages,
    /// each trained on the other folds' groups with this ranker's `trees` and `seed` (below 2 folds,
    /// this ranker's own in-sample scores). The fold stages are then dropped: serving keeps the full
    /// first stage (measured: averaging the fold stages into it doubled the ranker's cost and did not
    /// change NDCG@10).
    pub fn first_stage_scores(
        &self,
        groups: &[TrainingGroup],
        folds: usize,
        trees: usize,
        seed: u64,
    ) -> Result<Vec<Vec<f64>>, SearchError> {
        if folds < 2 {
            return Ok(self.in_sample_scores(groups));
        }
        let mut bases = vec![Vec::new(); groups.len()];
        for fold in 0..folds {
            let others = groups.iter().enumerate().filter(|(i, _)| i % folds != fold);
            let (mut rows, mut labels) = (Vec::new(), Vec::new());
            for (_, g) in others {
                rows.extend_from_slice(&g.rows);
                labels.extend_from_slice(&g.labels);
            }
            let booster = fit(&rows, &labels, trees, seed.wrapping_add(fold as u64 + 1))?;
            for (i, g) in groups.iter().enumerate().filter(|(i, _)| i % folds == fold) {
                bases[i] = predict_with(&booster, &g.rows);
            }
        }
        Ok(bases)
    }

    /// A copy of this ranker with listwise trees grown from the starting scores `bases` (one list per
    /// group, e.g. [`Self::first_stage_scores`]). With `context` — each group's
    /// [`RANKER_CONTEXT_FEATURES`], computed over the [`ranker_feedback_set`] of its `bases` — the
    /// trees also read those two signals, and serving supplies them through
    /// [`Self::predict_in_context`].
    ///
    /// Why: the list-context features of the first stage take the retrievers' top results as the
    /// feedback set; the first stage's own top results are more often relevant, so resembling them
    /// is stronger evidence, and only a stage after the first can know them.
    pub fn with_listwise_over(
        &self,
        groups: &[TrainingGroup],
        bases: Vec<Vec<f64>>,
        context: Option<&[Vec<ListSignals>]>,
        gain: impl Fn(f64) -> f64,
        params: &LambdaParams,
    ) -> Self {
        let gains = |g: &TrainingGroup| g.labels.iter().map(|&l| gain(l)).collect();
        let ensemble = match context {
            None => {
                let ranking: Vec<RankingGroup<'_, N_FEATURES>> = groups
                    .iter()
                    .zip(bases)
                    .filter(|(g, _)| !g.rows.is_empty())
                    .map(|(g, base)| RankingGroup {
                        rows: &g.rows,
                        gains: gains(g),
                        base,
                    })
                    .collect();
                TreeEnsemble::train(&ranking, params)
            }
            Some(context) => {
                let rows: Vec<Vec<ContextRow>> = groups
                    .iter()
                    .zip(context)
                    .map(|(g, signals)| context_rows(&g.rows, signals))
                    .collect();
                let ranking: Vec<RankingGroup<'_, N_CONTEXT>> = groups
                    .iter()
                    .zip(&rows)
                    .zip(bases)
                    .filter(|((g, _), _)| !g.rows.is_empty())
                    .map(|((g, rows), base)| RankingGroup {
                        rows,
                        gains: gains(g),
                        base,
                    })
                    .collect();
                TreeEnsemble::train(&ranking, params)
            }
        };
        Self {
            booster: self.booster.clone(),
            listwise: Some(Arc::new(ensemble)),
            reads_context: context.is_some(),
        }
    }

    /// Number of listwise trees (0 for a pointwise-only ranker).
    pub fn listwise_trees(&self) -> usize {
        self.listwise.as_ref().map_or(0, |l| l.len())
    }

    /// Whether the listwise trees read [`RANKER_CONTEXT_FEATURES`] (serve with
    /// [`Self::predict_in_context`]).
    pub fn reads_context(&self) -> bool {
        self.reads_context && self.listwise.is_some()
    }

    /// Scores candidates (higher is better): the first stage plus the listwise trees, if any. A
    /// model that [`Self::reads_context`] gets each row's own list signals in place of the ranker's
    /// context; serving uses [`Self::predict_in_context`].
    pub fn predict(&self, rows: &[FeatureRow]) -> Vec<f64> {
        self.predict_in_context(rows, |_| rows.iter().map(own_signals).collect())
            .0
    }

    /// Scores candidates. A model that [`Self::reads_context`] first ranks them by its first stage
    /// and asks `context` for every candidate's [`RANKER_CONTEXT_FEATURES`] over the feedback set it
    /// passes (the [`ranker_feedback_set`], indices into `rows`); those signals are returned with the
    /// scores, for [`Self::contributions_of`]. Other models never call `context`.
    pub fn predict_in_context(
        &self,
        rows: &[FeatureRow],
        context: impl FnOnce(&[usize]) -> Vec<ListSignals>,
    ) -> (Vec<f64>, Option<Vec<ListSignals>>) {
        let mut scores = predict_with(&self.booster, rows);
        let Some(listwise) = &self.listwise else {
            return (scores, None);
        };
        if !self.reads_context {
            for (s, r) in scores.iter_mut().zip(rows) {
                *s += listwise.predict(r);
            }
            return (scores, None);
        }
        let signals = context(&ranker_feedback_set(&scores));
        for (s, r) in scores.iter_mut().zip(context_rows(rows, &signals)) {
            *s += listwise.predict(&r);
        }
        (scores, Some(signals))
    }

    /// How much each feature added to this candidate's [`Self::predict`] score, by name, and the part
    /// no feature explains (the model's mean output): they sum to the score. They are Shapley values
    /// (TreeSHAP, path-dependent, as XGBoost's `pred_contribs`): a feature's credit does not depend
    /// on where in a tree it is tested. Listwise trees saved before session 30 lack the row counts
    /// this needs and are credited per split instead (Saabas). `None` for listwise trees saved
    /// before they recorded their means.
    ///
    /// Why: a merchandiser asking why a product ranks where it does needs the reasons in the
    /// score's own units, not 29 inputs to guess from.
    pub fn contributions(
        &self,
        row: &FeatureRow,
    ) -> Option<(std::collections::BTreeMap<String, f64>, f64)> {
        self.contributions_of(std::slice::from_ref(row), None)?
            .pop()
    }

    /// [`Self::contributions`] of many candidates in one pass: an explained page of 50 hits is one
    /// call into the model, not 50. `context` is what [`Self::predict_in_context`] returned for
    /// these rows (same order); without it, a model that reads context gets the rows' own signals,
    /// as in [`Self::predict`].
    pub fn contributions_of(
        &self,
        rows: &[FeatureRow],
        context: Option<&[ListSignals]>,
    ) -> Option<Vec<(std::collections::BTreeMap<String, f64>, f64)>> {
        if rows.is_empty() {
            return Some(Vec::new());
        }
        let data = column_major(rows);
        // forust's TreeSHAP asserts on a path state that a well-formed model cannot reach; should a
        // model file reach it anyway, the answer loses its explanation rather than the request.
        let all = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.booster.predict_contributions(
                &Matrix::new(&data, rows.len(), FEATURES.len()),
                forust_ml::gradientbooster::ContributionsMethod::Shapley,
                true,
            )
        }))
        .ok()?;
        let signals: Vec<ListSignals> = match context {
            Some(c) if c.len() == rows.len() => c.to_vec(),
            _ => rows.iter().map(own_signals).collect(),
        };
        // One row of the output per candidate: each feature's share, then the bias. Exact Shapley
        // values cost a few milliseconds a candidate, so candidates are explained in parallel.
        all.par_chunks_exact(FEATURES.len() + 1)
            .zip(rows.par_iter().zip(signals.par_iter()))
            .map(|(first, (row, signals))| {
                let (mut by_feature, mut base) =
                    (first[..FEATURES.len()].to_vec(), first[FEATURES.len()]);
                if let Some(listwise) = &self.listwise {
                    let (extra, extra_base) = if self.reads_context {
                        by_feature.resize(N_CONTEXT, 0.0);
                        listwise.contributions(&context_row(row, signals))?
                    } else {
                        listwise.contributions(row)?
                    };
                    by_feature.iter_mut().zip(extra).for_each(|(c, e)| *c += e);
                    base += extra_base;
                }
                let named = FEATURES
                    .iter()
                    .chain(&RANKER_CONTEXT_FEATURES)
                    .zip(by_feature)
                    .map(|(name, c)| (name.to_string(), c))
                    .collect();
                Some((named, base))
            })
            .collect()
    }

    /// Saves the model as JSON, with the feature names it was trained on.
    pub fn save(&self, path: &std::path::Path) -> Result<(), SearchError> {
        let file = ModelFile {
            features: FEATURES.iter().map(|s| s.to_string()).collect(),
            booster: self.booster.json_dump().map_err(model_err)?,
            listwise: self.listwise.as_deref().cloned(),
            listwise_reads_ranker_context: self.reads_context,
        };
        let json = serde_json::to_string(&file).map_err(model_err)?;
        std::fs::write(path, json).map_err(|e| SearchError::Io(path.display().to_string(), e))
    }

    /// Loads a model saved by [`Self::save`]; a model trained on other features is refused (its
    /// trees would read the wrong columns and rank garbage).
    pub fn load(path: &std::path::Path) -> Result<Self, SearchError> {
        let json = std::fs::read_to_string(path)
            .map_err(|e| SearchError::Io(path.display().to_string(), e))?;
        let file: ModelFile = serde_json::from_str(&json).map_err(|e| {
            model_err(format!(
                "{}: not a ranker saved by this version ({e}); retrain with `vitrine eval search --save-ranker`",
                path.display()
            ))
        })?;
        if file.features != FEATURES {
            return Err(model_err(format!(
                "{} was trained on features {:?}, this version computes {:?}; retrain with `vitrine eval search --save-ranker`",
                path.display(),
                file.features,
                FEATURES
            )));
        }
        Ok(Self {
            booster: Arc::new(GradientBooster::from_json(&file.booster).map_err(model_err)?),
            listwise: file.listwise.map(Arc::new),
            reads_context: file.listwise_reads_ranker_context,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small first stage (3 trees) over every group's rows.
    fn first_stage(groups: &[TrainingGroup]) -> LearnedRanker {
        let rows: Vec<FeatureRow> = groups.iter().flat_map(|g| g.rows.clone()).collect();
        let labels: Vec<f64> = groups.iter().flat_map(|g| g.labels.clone()).collect();
        LearnedRanker::train(&rows, &labels, 3, 1).expect("trains")
    }

    /// Listwise settings that learn a toy order in a few rounds.
    fn quick_params(rounds: usize) -> LambdaParams {
        LambdaParams {
            rounds,
            learning_rate: 0.3,
            min_rows_in_leaf: 5,
            ..LambdaParams::default()
        }
    }

    #[test]
    fn saved_models_round_trip_and_other_feature_sets_are_refused() {
        let rows: Vec<FeatureRow> = (0..200)
            .map(|i| {
                let mut r = [0.0; N_FEATURES];
                r[0] = f64::from(i % 10);
                r
            })
            .collect();
        let labels: Vec<f64> = rows.iter().map(|r| r[0] / 3.0).collect();
        let model = LearnedRanker::train(&rows, &labels, 20, 1).expect("trains");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ranker.json");
        model.save(&path).expect("saves");
        let loaded = LearnedRanker::load(&path).expect("loads");
        assert_eq!(model.predict(&rows), loaded.predict(&rows));
        let p = model.predict(&rows);
        assert!(p[9] > p[1], "learned the order of the label");
        // The explanation sums to the score and names the one feature the label follows.
        let (by_feature, base) = loaded.contributions(&rows[9]).expect("explained");
        let sum = base + by_feature.values().sum::<f64>();
        assert!((sum - p[9]).abs() < 1e-6, "{sum} vs {}", p[9]);
        assert!(by_feature["lexical_score"] > 0.0, "{by_feature:?}");
        assert!(by_feature
            .iter()
            .filter(|(name, _)| *name != "lexical_score")
            .all(|(_, c)| c.abs() < 1e-9));
        // A page explained in one call gives each candidate its own explanation, in order.
        let page = loaded
            .contributions_of(&rows[..12], None)
            .expect("explained");
        assert_eq!(page.len(), 12);
        for (i, (by_feature, base)) in page.iter().enumerate() {
            let sum = base + by_feature.values().sum::<f64>();
            assert!((sum - p[i]).abs() < 1e-6, "row {i}: {sum} vs {}", p[i]);
            assert_eq!(page[i], loaded.contributions(&rows[i]).expect("explained"));
        }

        let mut file: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("reads")).expect("json");
        file["features"] = serde_json::json!(["lexical_score"]);
        std::fs::write(&path, file.to_string()).expect("writes");
        let err = LearnedRanker::load(&path)
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("retrain"), "{err}");
        std::fs::write(&path, "{\"trees\": []}").expect("writes");
        assert!(
            LearnedRanker::load(&path).is_err(),
            "an old-format file is refused"
        );
    }

    #[test]
    fn listwise_trees_reorder_what_the_pointwise_stage_ties_and_survive_a_round_trip() {
        // Feature 0 separates relevant from irrelevant; within the relevant ones only feature 1 orders
        // them, by a small share of the label that squared loss with few trees hardly sees.
        let mut groups = Vec::new();
        for q in 0..60 {
            let mut rows = Vec::new();
            let mut labels = Vec::new();
            for i in 0..30 {
                let mut r = [0.0; N_FEATURES];
                let relevant = i < 6;
                r[0] = if relevant { 10.0 } else { 0.0 };
                r[1] = f64::from((i * 7 + q) % 10);
                rows.push(r);
                labels.push(if relevant { 1.5 + r[1] / 10.0 } else { 1.0 });
            }
            groups.push(TrainingGroup { rows, labels });
        }
        let first = first_stage(&groups);
        let params = quick_params(40);
        let gain = |l: f64| (l - 1.0).max(0.0);
        let in_sample = first.with_listwise(&groups, gain, &params);
        let cross_fitted = first
            .with_listwise_cross_fitted(&groups, gain, &params, 3, 3, 1)
            .expect("trains");
        // The row a model puts on top of a group.
        let top = |model: &LearnedRanker, g: &TrainingGroup| {
            let scores = model.predict(&g.rows);
            let best = (0..scores.len())
                .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
                .expect("rows");
            g.rows[best]
        };
        for model in [&cross_fitted, &in_sample] {
            let best = top(model, &groups[1]);
            assert!(best[1] >= 8.0, "{:?}", &best[..2]);
        }
        let listwise = in_sample;
        let g = &groups[0];
        let scores = listwise.predict(&g.rows);
        let best = top(&listwise, g);
        assert!(
            best[0] == 10.0 && best[1] >= 8.0,
            "the best relevant row on top: {:?}",
            &best[..2]
        );

        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ranker.json");
        listwise.save(&path).expect("saves");
        let loaded = LearnedRanker::load(&path).expect("loads");
        assert_eq!(scores, loaded.predict(&g.rows));
        cross_fitted.save(&path).expect("saves");
        let loaded = LearnedRanker::load(&path).expect("loads");
        assert_eq!(cross_fitted.predict(&g.rows), loaded.predict(&g.rows));
    }

    #[test]
    fn the_feedback_set_is_the_first_stage_best_five_in_index_order() {
        let scores = [0.1, 0.9, 0.3, 0.8, 0.2, 0.7, 0.6, 0.0];
        assert_eq!(ranker_feedback_set(&scores), vec![1, 2, 3, 5, 6]);
        assert_eq!(ranker_feedback_set(&[0.5, 0.5]), vec![0, 1]);
        assert!(ranker_feedback_set(&[]).is_empty());
    }

    #[test]
    fn context_trees_learn_what_only_the_context_tells_and_survive_a_round_trip() {
        // Every row has the same features; only the context's title consensus says which is relevant.
        let mut groups = Vec::new();
        let mut context = Vec::new();
        for q in 0..40 {
            let rows = vec![[1.0; N_FEATURES]; 20];
            let relevant = q % 20;
            let labels = (0..20)
                .map(|i| if i == relevant { 3.0 } else { 1.0 })
                .collect();
            context.push(
                (0..20)
                    .map(|i| ListSignals {
                        cosine_to_top: 0.5,
                        title_consensus: if i == relevant { 0.9 } else { 0.1 },
                    })
                    .collect::<Vec<_>>(),
            );
            groups.push(TrainingGroup { rows, labels });
        }
        let first = first_stage(&groups);
        let params = quick_params(20);
        let bases = first.first_stage_scores(&groups, 2, 3, 1).expect("scores");
        let model = first.with_listwise_over(&groups, bases, Some(&context), |l| l - 1.0, &params);
        assert!(model.reads_context());
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ranker.json");
        model.save(&path).expect("saves");
        let loaded = LearnedRanker::load(&path).expect("loads");
        assert!(loaded.reads_context());
        let g = &groups[3];
        let mut asked = None;
        let (scores, signals) = loaded.predict_in_context(&g.rows, |set| {
            asked = Some(set.to_vec());
            context[3].clone()
        });
        assert_eq!(
            asked.expect("context asked for").len(),
            RANKER_FEEDBACK_DEPTH
        );
        let best = (0..scores.len())
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .expect("rows");
        assert_eq!(best, 3, "{scores:?}");
        let signals = signals.expect("the context is returned");
        let explained = loaded
            .contributions_of(&g.rows, Some(&signals))
            .expect("explained");
        let (by_feature, base) = &explained[best];
        let sum = base + by_feature.values().sum::<f64>();
        assert!(
            (sum - scores[best]).abs() < 1e-6,
            "{sum} vs {}",
            scores[best]
        );
        assert!(by_feature["title_consensus_with_ranker_top_results"] > 0.0);
        // A model without context never asks for it.
        let plain = first.with_listwise(&groups, |l| l - 1.0, &params);
        assert!(!plain.reads_context());
        let (_, none) = plain.predict_in_context(&g.rows, |_| panic!("not asked"));
        assert!(none.is_none());
    }
}
