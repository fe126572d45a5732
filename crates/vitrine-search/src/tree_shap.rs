//! Exact Shapley values of one regression tree's output (TreeSHAP, path-dependent: Lundberg, Erion
//! and Lee, 2018, algorithm 2), for `explain=true`.
//!
//! Why not the simpler per-split credit (Saabas): it depends on the order in which a path tests its
//! features, so a feature split near the root is over-credited, and two trees that compute the same
//! function can explain it differently. Shapley values are the one additive attribution that is
//! consistent and fair across features; TreeSHAP computes them exactly in polynomial time, with "a
//! feature is unknown" meaning "follow both branches, weighted by how many training rows took each".
//!
//! The tree is seen through [`ShapNode`], so any tree layout (ours, forust's) can be explained.

/// A node as TreeSHAP needs it for one input row.
pub(crate) enum ShapNode {
    /// A leaf and its output.
    Leaf(f64),
    /// A split on `feature`: `hot` is the child the row follows, `cold` the other one.
    Split {
        feature: usize,
        hot: usize,
        cold: usize,
    },
}

/// One feature on the current path: the share of training rows that follow the path when the
/// feature is unknown (`zero`), whether the row itself follows it (`one`), and the permutation
/// weight of subsets of that size.
#[derive(Clone, Copy)]
struct PathStep {
    feature: usize,
    zero: f64,
    one: f64,
    weight: f64,
}

/// Feature index of the root's placeholder step (never a real feature).
const NO_FEATURE: usize = usize::MAX;

/// Longest path explained: a path holds at most one step per tree level (plus the root's).
pub(crate) const MAX_DEPTH: usize = 30;

/// The steps of the current path, on the stack: copied at every split, so it must be cheap.
#[derive(Clone, Copy)]
struct Path {
    steps: [PathStep; MAX_DEPTH + 2],
    len: usize,
}

impl Path {
    fn new() -> Self {
        let empty = PathStep {
            feature: NO_FEATURE,
            zero: 0.0,
            one: 0.0,
            weight: 0.0,
        };
        Self {
            steps: [empty; MAX_DEPTH + 2],
            len: 0,
        }
    }
}

/// Adds each feature's Shapley value for the tree's output to `out` (indexed by feature). `node`
/// describes node `at` for the row being explained, `cover` how many training rows reached it; node
/// 0 is the root. The values sum to the row's output minus the tree's cover-weighted mean output.
/// Returns false, having added nothing, for a tree deeper than [`MAX_DEPTH`].
pub(crate) fn add_shapley(
    node: &dyn Fn(usize) -> ShapNode,
    cover: &dyn Fn(usize) -> f64,
    out: &mut [f64],
) -> bool {
    let mut shares = vec![0.0; out.len()];
    if !recurse(
        node,
        cover,
        &mut shares,
        0,
        Path::new(),
        1.0,
        1.0,
        NO_FEATURE,
    ) {
        return false;
    }
    out.iter_mut().zip(shares).for_each(|(o, s)| *o += s);
    true
}

#[allow(clippy::too_many_arguments)]
fn recurse(
    node: &dyn Fn(usize) -> ShapNode,
    cover: &dyn Fn(usize) -> f64,
    out: &mut [f64],
    at: usize,
    mut path: Path,
    zero: f64,
    one: f64,
    feature: usize,
) -> bool {
    if path.len > MAX_DEPTH {
        return false;
    }
    extend(&mut path, zero, one, feature);
    match node(at) {
        ShapNode::Leaf(value) => {
            let steps = &path.steps[..path.len];
            for i in 1..steps.len() {
                let w = unwound_sum(steps, i);
                let step = steps[i];
                if let Some(o) = out.get_mut(step.feature) {
                    *o += w * (step.one - step.zero) * value;
                }
            }
            true
        }
        ShapNode::Split {
            feature: split,
            hot,
            cold,
        } => {
            let (mut incoming_zero, mut incoming_one) = (1.0, 1.0);
            // A feature tested again on the path is undone first, then redone with both tests.
            if let Some(k) = path.steps[..path.len]
                .iter()
                .position(|s| s.feature == split)
            {
                incoming_zero = path.steps[k].zero;
                incoming_one = path.steps[k].one;
                unwind(&mut path, k);
            }
            let here = cover(at);
            let share = |child: usize| if here > 0.0 { cover(child) / here } else { 0.0 };
            recurse(
                node,
                cover,
                out,
                hot,
                path,
                share(hot) * incoming_zero,
                incoming_one,
                split,
            ) && recurse(
                node,
                cover,
                out,
                cold,
                path,
                share(cold) * incoming_zero,
                0.0,
                split,
            )
        }
    }
}

/// Grows the path by one feature and updates the subset-size weights.
fn extend(path: &mut Path, zero: f64, one: f64, feature: usize) {
    let depth = path.len;
    path.steps[depth] = PathStep {
        feature,
        zero,
        one,
        weight: if depth == 0 { 1.0 } else { 0.0 },
    };
    path.len += 1;
    let path = &mut path.steps;
    let d = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].weight += one * path[i].weight * (i + 1) as f64 / d;
        path[i].weight = zero * path[i].weight * (depth - i) as f64 / d;
    }
}

/// Removes step `index` from the path, undoing its effect on the weights.
fn unwind(path: &mut Path, index: usize) {
    path.len -= 1;
    let depth = path.len;
    let path = &mut path.steps;
    let PathStep { zero, one, .. } = path[index];
    let d = (depth + 1) as f64;
    let mut next = path[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let kept = path[i].weight;
            path[i].weight = next * d / ((i + 1) as f64 * one);
            next = kept - path[i].weight * zero * (depth - i) as f64 / d;
        } else if zero != 0.0 {
            path[i].weight = path[i].weight * d / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero = path[i + 1].zero;
        path[i].one = path[i + 1].one;
    }
}

/// The total weight the path would have without step `index` (without changing it).
fn unwound_sum(path: &[PathStep], index: usize) -> f64 {
    let depth = path.len() - 1;
    let PathStep { zero, one, .. } = path[index];
    let d = (depth + 1) as f64;
    let mut next = path[depth].weight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let w = next * d / ((i + 1) as f64 * one);
            total += w;
            next = path[i].weight - w * zero * (depth - i) as f64 / d;
        } else if zero != 0.0 {
            total += path[i].weight / zero / ((depth - i) as f64 / d);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::uniform;

    /// A test tree: `(feature, threshold, left, right)` splits or leaf values, with covers.
    enum TestNode {
        Split(usize, f64, usize, usize),
        Leaf(f64),
    }

    struct TestTree {
        nodes: Vec<TestNode>,
        covers: Vec<f64>,
    }

    impl TestTree {
        fn shapley(&self, x: &[f64]) -> Vec<f64> {
            let mut out = vec![0.0; x.len()];
            let node = |at: usize| match self.nodes[at] {
                TestNode::Leaf(v) => ShapNode::Leaf(v),
                TestNode::Split(f, t, l, r) => {
                    let (hot, cold) = if x[f] > t { (r, l) } else { (l, r) };
                    ShapNode::Split {
                        feature: f,
                        hot,
                        cold,
                    }
                }
            };
            assert!(add_shapley(&node, &|at| self.covers[at], &mut out));
            out
        }

        /// The output's expectation when only the features in `known` are known: unknown splits
        /// follow both children, weighted by cover (the definition TreeSHAP computes exactly).
        fn expected(&self, x: &[f64], known: u32, at: usize) -> f64 {
            match self.nodes[at] {
                TestNode::Leaf(v) => v,
                TestNode::Split(f, t, l, r) if known & (1 << f) != 0 => {
                    self.expected(x, known, if x[f] > t { r } else { l })
                }
                TestNode::Split(_, _, l, r) => {
                    (self.covers[l] * self.expected(x, known, l)
                        + self.covers[r] * self.expected(x, known, r))
                        / self.covers[at]
                }
            }
        }

        /// Shapley values by their definition: every subset of the other features, weighted.
        fn brute_force(&self, x: &[f64]) -> Vec<f64> {
            let m = x.len();
            let fact = |n: usize| (1..=n).product::<usize>() as f64;
            (0..m)
                .map(|i| {
                    (0..1u32 << m)
                        .filter(|s| s & (1 << i) == 0)
                        .map(|s| {
                            let size = s.count_ones() as usize;
                            let weight = fact(size) * fact(m - size - 1) / fact(m);
                            weight * (self.expected(x, s | (1 << i), 0) - self.expected(x, s, 0))
                        })
                        .sum()
                })
                .collect()
        }
    }

    /// A random full tree of `depth` over `features` features (features repeat along paths), with
    /// random positive covers that add up from the leaves.
    fn random_tree(next: &mut impl FnMut() -> f64, depth: usize, features: usize) -> TestTree {
        fn grow(
            t: &mut TestTree,
            next: &mut dyn FnMut() -> f64,
            depth: usize,
            features: usize,
        ) -> usize {
            let at = t.nodes.len();
            t.nodes.push(TestNode::Leaf(0.0));
            t.covers.push(0.0);
            if depth == 0 {
                t.nodes[at] = TestNode::Leaf(next() * 10.0 - 5.0);
                t.covers[at] = 1.0 + (next() * 20.0).floor();
                return at;
            }
            let f = ((next() * features as f64) as usize).min(features - 1);
            let threshold = next();
            let l = grow(t, next, depth - 1, features);
            let r = grow(t, next, depth - 1, features);
            t.nodes[at] = TestNode::Split(f, threshold, l, r);
            t.covers[at] = t.covers[l] + t.covers[r];
            at
        }
        let mut t = TestTree {
            nodes: Vec::new(),
            covers: Vec::new(),
        };
        grow(&mut t, next, depth, features);
        t
    }

    #[test]
    fn equals_shapley_values_by_definition_on_random_trees() {
        let mut next = uniform(3);
        for case in 0..200 {
            let features = 2 + case % 4;
            let tree = random_tree(&mut next, 1 + case % 5, features);
            let x: Vec<f64> = (0..features).map(|_| next()).collect();
            let fast = tree.shapley(&x);
            let exact = tree.brute_force(&x);
            for (f, e) in fast.iter().zip(&exact) {
                assert!((f - e).abs() < 1e-9, "case {case}: {fast:?} vs {exact:?}");
            }
            // Efficiency: they add up to the output minus the mean output.
            let sum: f64 = fast.iter().sum();
            let gap = tree.expected(&x, u32::MAX, 0) - tree.expected(&x, 0, 0);
            assert!((sum - gap).abs() < 1e-9, "case {case}: {sum} vs {gap}");
        }
    }

    #[test]
    fn a_feature_the_tree_never_tests_gets_nothing() {
        let tree = TestTree {
            nodes: vec![
                TestNode::Split(0, 0.5, 1, 2),
                TestNode::Leaf(1.0),
                TestNode::Leaf(3.0),
            ],
            covers: vec![4.0, 3.0, 1.0],
        };
        let phi = tree.shapley(&[0.9, 0.1]);
        // Known: 3; unknown: (3·1 + 1·3)/4 = 1.5, so feature 0 explains 1.5.
        assert!((phi[0] - 1.5).abs() < 1e-12, "{phi:?}");
        assert_eq!(phi[1], 0.0);
    }
}
