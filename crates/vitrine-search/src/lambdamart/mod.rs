//! LambdaMART: gradient-boosted regression trees fitted to LambdaRank gradients, a listwise objective.
//!
//! Squared loss on the grade spends a ranker's trees on telling hundreds of irrelevant candidates from
//! the few relevant ones; NDCG@10 only sees the order of the top. LambdaRank weighs each mis-ordered
//! pair by how much swapping the two would change the query's NDCG, so the trees go where the metric
//! is. forust (the pointwise stage) has no ranking objective and no custom-gradient entry point, so the
//! trees are grown here: histogram splits on features binned once, Newton leaf values, depth-limited.
//! The formulation follows LightGBM's `lambdarank` (truncation level, score-gap and per-query
//! normalisation), described in Burges, "From RankNet to LambdaRank to LambdaMART" (2010).
//!
//! The ensemble is trained on top of a base score per candidate (the pointwise stage's prediction), so
//! it starts from a good order and learns the corrections that matter to NDCG.

mod sample;

use crate::tree_shap::{add_shapley, ShapNode};
use rayon::prelude::*;
use sample::{Sampler, TreeSample};
use serde::{Deserialize, Serialize};

/// How the listwise trees are grown.
#[derive(Clone, Debug)]
pub struct LambdaParams {
    /// Boosting rounds (one tree each).
    pub rounds: usize,
    /// Shrinkage of every tree's leaf values.
    pub learning_rate: f64,
    /// Depth limit of a tree (2^depth leaves at most).
    pub max_depth: usize,
    /// Fewest training rows in a leaf.
    pub min_rows_in_leaf: usize,
    /// Smallest hessian sum in a leaf (LambdaRank hessians are small, so this is small too).
    pub min_hessian_in_leaf: f64,
    /// L2 regularisation of leaf values.
    pub l2: f64,
    /// Only pairs with one member within this many positions of the current top are weighed: 10, the
    /// depth NDCG@10 reads. LightGBM's customary 30 scored the same within rerun noise (session 27).
    pub truncation: usize,
    /// Every this-many-th query is held out to choose the number of trees (0: none held out, all
    /// `rounds` trees kept). Only meaningful when the base scores of the held-out queries are not
    /// in-sample: a base model trained on them scores them better than it would new queries, and the
    /// trees never look like they help (measured: 0 trees kept of 800 over the in-sample pointwise
    /// stage, where a fixed 300 gained 0.013 NDCG@10 on the evaluated queries). Over out-of-fold
    /// base scores (`LearnedRanker::with_listwise_cross_fitted`) it keeps 116–150 trees that gain as
    /// much as the fixed 300.
    pub validation_every: usize,
    /// Stop after this many rounds without a better held-out NDCG@10.
    pub patience: usize,
    /// Share of the training queries each tree is grown on, drawn afresh per tree (1: all).
    pub query_fraction: f64,
    /// Share of the features each tree may split on, drawn afresh per tree (1: all).
    pub feature_fraction: f64,
    /// Seed of those draws, so a retrain gives the same trees.
    pub seed: u64,
}

impl Default for LambdaParams {
    fn default() -> Self {
        Self {
            rounds: 300,
            learning_rate: 0.05,
            max_depth: 6,
            min_rows_in_leaf: 50,
            min_hessian_in_leaf: 1e-3,
            l2: 1e-3,
            truncation: 10,
            validation_every: 0,
            patience: 50,
            query_fraction: 1.0,
            feature_fraction: 1.0,
            seed: 0,
        }
    }
}

/// One query's candidates: feature rows, gains (what NDCG counts for each) and the base scores the
/// ensemble is added to.
pub struct RankingGroup<'a, const F: usize> {
    /// Feature rows of the candidates.
    pub rows: &'a [[f64; F]],
    /// Gain of each candidate (0 for irrelevant), same order.
    pub gains: Vec<f64>,
    /// Score before the ensemble, same order.
    pub base: Vec<f64>,
}

/// A node of a regression tree; `Split` sends `x[feature] <= threshold` (and NaN) left.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Node {
    Split {
        feature: usize,
        threshold: f64,
        left: usize,
        right: usize,
        /// The mean output over the training rows that reached this node, for feature
        /// contributions (absent in models saved before they were explained).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mean: Option<f64>,
    },
    Leaf(f64),
}

/// One regression tree, root first.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Tree {
    nodes: Vec<Node>,
    /// How many training rows reached each node, by node index, for Shapley contributions (empty in
    /// models saved before session 30, which are explained per split instead).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    covers: Vec<f64>,
}

impl Tree {
    /// Node `at` as `x` meets it: a leaf's output, or a split's feature with the child `x` goes to
    /// (`hot`) and the other one. `x[feature] <= threshold` (and NaN) goes left.
    fn route(&self, at: usize, x: &[f64]) -> ShapNode {
        match &self.nodes[at] {
            Node::Leaf(v) => ShapNode::Leaf(*v),
            Node::Split {
                feature,
                threshold,
                left,
                right,
                ..
            } => {
                let (hot, cold) = if x[*feature] > *threshold {
                    (*right, *left)
                } else {
                    (*left, *right)
                };
                ShapNode::Split {
                    feature: *feature,
                    hot,
                    cold,
                }
            }
        }
    }

    fn predict(&self, x: &[f64]) -> f64 {
        let mut at = 0;
        loop {
            match self.route(at, x) {
                ShapNode::Leaf(v) => return v,
                ShapNode::Split { hot, .. } => at = hot,
            }
        }
    }

    /// The mean output of the rows that reached node `at` (a leaf's output is its own mean).
    fn mean(&self, at: usize) -> Option<f64> {
        match &self.nodes[at] {
            Node::Leaf(v) => Some(*v),
            Node::Split { mean, .. } => *mean,
        }
    }

    /// Adds each feature's share of [`Self::predict`] at `x` to its entry of `out` and returns the root
    /// mean: together they sum to the prediction. Shapley values (TreeSHAP) where the covers were
    /// recorded (and the tree is at most [`crate::tree_shap::MAX_DEPTH`] deep); otherwise each split's
    /// change of mean along `x`'s path (Saabas).
    fn contributions(&self, x: &[f64], out: &mut [f64]) -> Option<f64> {
        let root = self.mean(0)?;
        if self.covers.len() == self.nodes.len()
            && add_shapley(&|at| self.route(at, x), &|at| self.covers[at], out)
        {
            return Some(root);
        }
        let mut at = 0;
        while let ShapNode::Split { feature, hot, .. } = self.route(at, x) {
            out[feature] += self.mean(hot)? - self.mean(at)?;
            at = hot;
        }
        Some(root)
    }
}

/// The trained trees; a candidate's score is its base score plus the sum of their outputs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TreeEnsemble {
    trees: Vec<Tree>,
}

impl TreeEnsemble {
    /// The ensemble's addition to one candidate's base score.
    pub fn predict(&self, x: &[f64]) -> f64 {
        self.trees.iter().map(|t| t.predict(x)).sum()
    }

    /// Number of trees.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// How much each of `x`'s features added to [`Self::predict`] (Shapley values for trees trained
    /// since session 30, per-split credit for older ones), and the part no feature explains (the
    /// trees' mean output): they sum to the prediction. `None` for trees saved without means.
    pub fn contributions(&self, x: &[f64]) -> Option<(Vec<f64>, f64)> {
        let mut out = vec![0.0; x.len()];
        let mut base = 0.0;
        for t in &self.trees {
            base += t.contributions(x, &mut out)?;
        }
        Some((out, base))
    }

    /// Whether there are no trees (the ensemble adds nothing).
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }

    /// Trains the ensemble on `groups` with LambdaRank gradients for NDCG; with held-out queries,
    /// keeps the trees up to the round that scored best on them.
    pub fn train<const F: usize>(groups: &[RankingGroup<'_, F>], params: &LambdaParams) -> Self {
        let every = params.validation_every;
        let held_out = |i: usize| every > 1 && i % every == every - 1;
        let (valid, train): (Vec<_>, Vec<_>) =
            groups.iter().enumerate().partition(|(i, _)| held_out(*i));
        let train = Scored::new(train.into_iter().map(|(_, g)| g).collect());
        let mut valid = Scored::new(valid.into_iter().map(|(_, g)| g).collect());
        let bins = Binned::new(&train.rows, F);
        let mut train = train;
        let mut trees = Vec::with_capacity(params.rounds);
        let (mut best, mut best_len) = (valid.ndcg_at_10(), 0);
        let mut sampler = Sampler::new(params.seed, params.query_fraction, params.feature_fraction);
        for round in 0..params.rounds {
            let (grad, hess) = train.lambdas(params.truncation);
            let sample = sampler.draw(&train.starts, train.rows.len(), F);
            let tree = grow(&bins, sample, &grad, &hess, params);
            train.add(&tree);
            valid.add(&tree);
            trees.push(tree);
            if valid.groups.is_empty() {
                best_len = trees.len();
                continue;
            }
            let ndcg = valid.ndcg_at_10();
            if (round + 1) % 50 == 0 {
                tracing::info!(
                    trees = round + 1,
                    held_out_ndcg_at_10 = ndcg,
                    "listwise trees"
                );
            }
            if ndcg > best {
                (best, best_len) = (ndcg, trees.len());
            } else if round + 1 - best_len >= params.patience {
                break;
            }
        }
        trees.truncate(best_len);
        tracing::info!(
            trees = trees.len(),
            held_out_ndcg_at_10 = best,
            "listwise trees trained"
        );
        Self { trees }
    }
}

/// Groups with their rows flattened and their current scores (base plus the trees so far).
struct Scored<'g, 'a, const F: usize> {
    groups: Vec<&'g RankingGroup<'a, F>>,
    rows: Vec<&'a [f64; F]>,
    starts: Vec<usize>,
    scores: Vec<f64>,
}

impl<'g, 'a, const F: usize> Scored<'g, 'a, F> {
    fn new(groups: Vec<&'g RankingGroup<'a, F>>) -> Self {
        let rows = groups.iter().flat_map(|g| g.rows.iter()).collect();
        let scores = groups.iter().flat_map(|g| g.base.iter().copied()).collect();
        let starts = groups
            .iter()
            .scan(0, |at, g| {
                let s = *at;
                *at += g.rows.len();
                Some(s)
            })
            .collect();
        Self {
            groups,
            rows,
            starts,
            scores,
        }
    }

    fn add(&mut self, tree: &Tree) {
        let rows = &self.rows;
        self.scores
            .par_iter_mut()
            .enumerate()
            .for_each(|(i, s)| *s += tree.predict(&rows[i][..]));
    }

    fn lambdas(&self, truncation: usize) -> (Vec<f64>, Vec<f64>) {
        let mut grad = vec![0.0; self.rows.len()];
        let mut hess = vec![0.0; self.rows.len()];
        let per_group: Vec<_> = self
            .groups
            .par_iter()
            .zip(&self.starts)
            .map(|(g, &s)| lambdas(&g.gains, &self.scores[s..s + g.rows.len()], truncation))
            .collect();
        for ((g, h), &s) in per_group.into_iter().zip(&self.starts) {
            grad[s..s + g.len()].copy_from_slice(&g);
            hess[s..s + h.len()].copy_from_slice(&h);
        }
        (grad, hess)
    }

    /// Mean NDCG@10 over the groups with a relevant candidate.
    fn ndcg_at_10(&self) -> f64 {
        let values: Vec<f64> = self
            .groups
            .iter()
            .zip(&self.starts)
            .filter_map(|(g, &s)| ndcg_at(&g.gains, &self.scores[s..s + g.rows.len()], 10))
            .collect();
        values.iter().sum::<f64>() / values.len().max(1) as f64
    }
}

/// NDCG@k of `scores` against `gains`; `None` when no candidate has a gain.
fn ndcg_at(gains: &[f64], scores: &[f64], k: usize) -> Option<f64> {
    let mut order: Vec<usize> = (0..gains.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let dcg: f64 = order
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, &i)| gains[i] / discount_inverse(r))
        .sum();
    let idcg = ideal_dcg(gains, k);
    (idcg > 0.0).then(|| dcg / idcg)
}

/// DCG@k of the best possible order of `gains`.
fn ideal_dcg(gains: &[f64], k: usize) -> f64 {
    let mut ideal = gains.to_vec();
    ideal.sort_by(|a, b| b.total_cmp(a));
    ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(r, g)| g / discount_inverse(r))
        .sum()
}

/// LambdaRank gradients and hessians of one query (gradients of the loss: negative pushes a candidate
/// up).
fn lambdas(gains: &[f64], scores: &[f64], truncation: usize) -> (Vec<f64>, Vec<f64>) {
    let n = gains.len();
    let mut grad = vec![0.0; n];
    let mut hess = vec![0.0; n];
    let idcg = ideal_dcg(gains, truncation);
    if idcg <= 0.0 {
        return (grad, hess);
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let best = scores[order[0]];
    let worst = scores[order[n - 1]];
    let mut sum_lambdas = 0.0;
    for a in 0..truncation.min(n) {
        let i = order[a];
        for (b, &j) in order.iter().enumerate().skip(a + 1) {
            if gains[i] == gains[j] {
                continue;
            }
            let (hi, lo, hi_pos, lo_pos) = if gains[i] > gains[j] {
                (i, j, a, b)
            } else {
                (j, i, b, a)
            };
            let delta_score = scores[hi] - scores[lo];
            let mut delta_ndcg = (gains[hi] - gains[lo])
                * (1.0 / discount_inverse(hi_pos) - 1.0 / discount_inverse(lo_pos)).abs()
                / idcg;
            if best != worst {
                delta_ndcg /= 0.01 + delta_score.abs();
            }
            let rho = 1.0 / (1.0 + delta_score.exp());
            let lambda = rho * delta_ndcg;
            let h = rho * (1.0 - rho) * delta_ndcg;
            grad[hi] -= lambda;
            grad[lo] += lambda;
            hess[hi] += h;
            hess[lo] += h;
            sum_lambdas += 2.0 * lambda;
        }
    }
    if sum_lambdas > 0.0 {
        let norm = (1.0 + sum_lambdas).log2() / sum_lambdas;
        grad.iter_mut().for_each(|g| *g *= norm);
        hess.iter_mut().for_each(|h| *h *= norm);
    }
    (grad, hess)
}

/// log2(2 + rank): the DCG discount's inverse at a 0-based rank.
fn discount_inverse(rank: usize) -> f64 {
    (rank as f64 + 2.0).log2()
}

/// Every feature binned once into at most 256 quantile bins (`bin b` ⇔ `x <= cuts[b]`, the last bin
/// is above every cut), stored column by column.
struct Binned {
    bins: Vec<Vec<u8>>,
    cuts: Vec<Vec<f64>>,
}

impl Binned {
    fn new<const F: usize>(rows: &[&[f64; F]], features: usize) -> Self {
        let (bins, cuts) = (0..features)
            .into_par_iter()
            .map(|f| {
                let mut values: Vec<f64> =
                    rows.iter().map(|r| r[f]).filter(|v| !v.is_nan()).collect();
                values.sort_by(f64::total_cmp);
                let mut cuts: Vec<f64> = Vec::new();
                for q in 1..256 {
                    let Some(&v) = values.get(q * values.len() / 256) else {
                        break;
                    };
                    if cuts.last().is_none_or(|&c| v > c) {
                        cuts.push(v);
                    }
                }
                // 255 cuts make 256 bins; the last value is never a cut, so the top bin is not empty.
                cuts.truncate(255);
                if cuts.last() == values.last() {
                    cuts.pop();
                }
                let bins: Vec<u8> = rows
                    .iter()
                    .map(|r| {
                        let x = r[f];
                        if x.is_nan() {
                            0
                        } else {
                            cuts.partition_point(|&c| c < x) as u8
                        }
                    })
                    .collect();
                (bins, cuts)
            })
            .unzip();
        Self { bins, cuts }
    }
}

/// Gradient and hessian sums and a row count.
#[derive(Clone, Copy, Default)]
struct Stats {
    g: f64,
    h: f64,
    n: usize,
}

impl Stats {
    fn add(&mut self, g: f64, h: f64) {
        self.g += g;
        self.h += h;
        self.n += 1;
    }

    fn score(&self, l2: f64) -> f64 {
        self.g * self.g / (self.h + l2)
    }
}

/// The best split of a node: feature, bin (left takes bins `<= bin`), gain.
struct Split {
    feature: usize,
    bin: usize,
    gain: f64,
}

fn best_split(
    bins: &Binned,
    features: &[usize],
    rows: &[u32],
    grad: &[f64],
    hess: &[f64],
    p: &LambdaParams,
) -> Option<Split> {
    let mut total = Stats::default();
    for &r in rows {
        total.add(grad[r as usize], hess[r as usize]);
    }
    let parent = total.score(p.l2);
    features
        .par_iter()
        .filter_map(|&f| {
            let column = &bins.bins[f];
            let mut hist = [Stats::default(); 256];
            for &r in rows {
                let r = r as usize;
                hist[column[r] as usize].add(grad[r], hess[r]);
            }
            let mut left = Stats::default();
            let mut best: Option<Split> = None;
            for (b, s) in hist.iter().enumerate().take(bins.cuts[f].len()) {
                left.g += s.g;
                left.h += s.h;
                left.n += s.n;
                let right = Stats {
                    g: total.g - left.g,
                    h: total.h - left.h,
                    n: total.n - left.n,
                };
                if left.n < p.min_rows_in_leaf
                    || right.n < p.min_rows_in_leaf
                    || left.h < p.min_hessian_in_leaf
                    || right.h < p.min_hessian_in_leaf
                {
                    continue;
                }
                let gain = left.score(p.l2) + right.score(p.l2) - parent;
                if gain > best.as_ref().map_or(1e-12, |s| s.gain) {
                    best = Some(Split {
                        feature: f,
                        bin: b,
                        gain,
                    });
                }
            }
            best
        })
        .max_by(|a, b| a.gain.total_cmp(&b.gain))
}

/// Grows one tree depth-first on the binned rows and features of `sample`.
fn grow(bins: &Binned, sample: TreeSample, grad: &[f64], hess: &[f64], p: &LambdaParams) -> Tree {
    let mut tree = Tree {
        nodes: Vec::new(),
        covers: Vec::new(),
    };
    let TreeSample { rows, features } = sample;
    let at = Growing {
        bins,
        features: &features,
        grad,
        hess,
        p,
    };
    at.node(&mut tree, rows, 0);
    tree
}

/// Where a grown node sits in its tree, how many training rows reached it, and their mean output.
struct Grown {
    at: usize,
    rows: usize,
    mean: f64,
}

/// What every node of the tree being grown reads: the binned rows, the features this tree may split
/// on, the round's gradients and the parameters.
struct Growing<'a> {
    bins: &'a Binned,
    features: &'a [usize],
    grad: &'a [f64],
    hess: &'a [f64],
    p: &'a LambdaParams,
}

impl Growing<'_> {
    fn node(&self, tree: &mut Tree, rows: Vec<u32>, depth: usize) -> Grown {
        let (bins, grad, hess, p) = (self.bins, self.grad, self.hess, self.p);
        let at = tree.nodes.len();
        let n = rows.len();
        let split = if depth < p.max_depth {
            best_split(bins, self.features, &rows, grad, hess, p)
        } else {
            None
        };
        let Some(split) = split else {
            let (g, h) = rows.iter().fold((0.0, 0.0), |(g, h), &r| {
                (g + grad[r as usize], h + hess[r as usize])
            });
            let value = -p.learning_rate * g / (h + p.l2);
            tree.nodes.push(Node::Leaf(value));
            tree.covers.push(n as f64);
            return Grown {
                at,
                rows: n,
                mean: value,
            };
        };
        tree.nodes.push(Node::Leaf(0.0));
        tree.covers.push(n as f64);
        let column = &bins.bins[split.feature];
        let (left_rows, right_rows): (Vec<u32>, Vec<u32>) = rows
            .into_iter()
            .partition(|&r| column[r as usize] as usize <= split.bin);
        let left = self.node(tree, left_rows, depth + 1);
        let right = self.node(tree, right_rows, depth + 1);
        let mean =
            (left.mean * left.rows as f64 + right.mean * right.rows as f64) / n.max(1) as f64;
        tree.nodes[at] = Node::Split {
            feature: split.feature,
            threshold: bins.cuts[split.feature][split.bin],
            left: left.at,
            right: right.at,
            mean: Some(mean),
        };
        Grown { at, rows: n, mean }
    }
}

#[cfg(test)]
mod tests;
