//! Offline next-item evaluation on `amazon_seqrec` (leave-one-out, full ranking against every item).
//!
//! The protocol is the one the published tables use (S3-Rec, CIKM 2020; ICLRec, WWW 2022): per user the
//! last item is the test target, the second-to-last the validation target, the rest is history. Models
//! are fitted on the histories only; the validation target tunes hyper-parameters; the test ranking sees
//! history + validation item as context. As in the published code, items already in the context are not
//! recommended (their scores are masked) and the target is ranked against **all** other items.

pub mod linear;
pub mod report;

use std::path::Path;

/// One user's interactions, as dense item indices (0-based) in time order.
pub type Sequence = Vec<u32>;

/// A dataset split for leave-one-out evaluation.
#[derive(Debug, Clone)]
pub struct SeqDataset {
    /// Human name (`Beauty`, `Sports_and_Outdoors`).
    pub name: String,
    /// Number of distinct items (dense indices `0..items`).
    pub items: usize,
    /// Per user: everything but the last two interactions (what models may learn from).
    pub train: Vec<Sequence>,
    /// Per user: the validation target (second-to-last interaction).
    pub valid: Vec<u32>,
    /// Per user: the test target (last interaction).
    pub test: Vec<u32>,
}

/// Errors reading a dataset file.
#[derive(Debug, thiserror::Error)]
pub enum SeqDataError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A line is not `user item item …` with integer ids.
    #[error("{path}:{line}: {reason}")]
    Parse {
        /// File.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

impl SeqDataset {
    /// Reads `user item item …` lines (ids are positive integers); users with fewer than three
    /// interactions cannot be split and are skipped (5-core data has none).
    pub fn load(path: &Path) -> Result<Self, SeqDataError> {
        let text = std::fs::read_to_string(path).map_err(|source| SeqDataError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        Self::parse(&name, &text).map_err(|(line, reason)| SeqDataError::Parse {
            path: path.display().to_string(),
            line,
            reason,
        })
    }

    /// Parses the text of a dataset file; errors carry the 1-based line.
    pub fn parse(name: &str, text: &str) -> Result<Self, (usize, String)> {
        let mut remap = std::collections::HashMap::<u64, u32>::new();
        let (mut train, mut valid, mut test) = (Vec::new(), Vec::new(), Vec::new());
        for (number, line) in text.lines().enumerate() {
            let mut fields = line.split_whitespace();
            if fields.next().is_none() {
                continue;
            }
            let mut sequence = Vec::new();
            for field in fields {
                let raw: u64 = field
                    .parse()
                    .map_err(|_| (number + 1, format!("item id {field:?} is not an integer")))?;
                let next = remap.len() as u32;
                sequence.push(*remap.entry(raw).or_insert(next));
            }
            if sequence.len() < 3 {
                continue;
            }
            test.push(sequence.pop().unwrap_or_default());
            valid.push(sequence.pop().unwrap_or_default());
            train.push(sequence);
        }
        Ok(Self {
            name: name.to_string(),
            items: remap.len(),
            train,
            valid,
            test,
        })
    }

    /// Number of users.
    pub fn users(&self) -> usize {
        self.train.len()
    }

    /// The context a model sees for `stage`, and the target it must rank.
    pub fn case(&self, user: usize, stage: Stage) -> (Vec<u32>, u32) {
        let mut context = self.train[user].clone();
        match stage {
            Stage::Valid => (context, self.valid[user]),
            Stage::Test => {
                context.push(self.valid[user]);
                (context, self.test[user])
            }
        }
    }
}

/// Which held-out target to rank.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Second-to-last item: used to choose hyper-parameters.
    Valid,
    /// Last item: the reported figure.
    Test,
}

/// HR and NDCG at 10 and 20, averaged over users.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RankMetrics {
    /// Hit ratio at 10.
    pub hr10: f64,
    /// NDCG at 10.
    pub ndcg10: f64,
    /// Hit ratio at 20.
    pub hr20: f64,
    /// NDCG at 20.
    pub ndcg20: f64,
    /// Users evaluated.
    pub users: usize,
}

impl RankMetrics {
    /// Adds one user whose target landed at 0-based `rank` (`None`: not in the top 20).
    pub fn add(&mut self, rank: Option<usize>) {
        self.users += 1;
        if let Some(rank) = rank {
            let gain = 1.0 / ((rank as f64) + 2.0).log2();
            if rank < 10 {
                self.hr10 += 1.0;
                self.ndcg10 += gain;
            }
            if rank < 20 {
                self.hr20 += 1.0;
                self.ndcg20 += gain;
            }
        }
    }

    /// Averages the sums (call once, after the last `add`).
    pub fn finish(mut self) -> Self {
        let n = self.users.max(1) as f64;
        self.hr10 /= n;
        self.ndcg10 /= n;
        self.hr20 /= n;
        self.ndcg20 /= n;
        self
    }
}

/// Rank of `target` among all items by `scores` (higher first), with `masked` items excluded. Ties count
/// against the target (an item with an equal score is ranked above it), so constant scorers get no credit.
pub fn rank_of(scores: &[f32], target: u32, masked: &[u32]) -> Option<usize> {
    let target_score = scores[target as usize];
    if masked.contains(&target) || !target_score.is_finite() {
        return None;
    }
    let mut above = 0usize;
    for (item, &score) in scores.iter().enumerate() {
        if item as u32 != target && score >= target_score && !masked.contains(&(item as u32)) {
            above += 1;
            if above >= 20 {
                return None;
            }
        }
    }
    Some(above)
}

/// Anything that scores every item for a context (a user's items in time order).
pub trait NextItemScorer: Sync {
    /// Writes one score per item into `scores` (length = item count); higher is better.
    fn score(&self, context: &[u32], scores: &mut [f32]);
}

/// Evaluates a scorer on every user of `data` at `stage`, in parallel.
pub fn evaluate(data: &SeqDataset, scorer: &dyn NextItemScorer, stage: Stage) -> RankMetrics {
    use rayon::prelude::*;
    let metrics = (0..data.users())
        .into_par_iter()
        .fold(
            || (RankMetrics::default(), vec![0f32; data.items]),
            |(mut metrics, mut scores), user| {
                let (context, target) = data.case(user, stage);
                scores.iter_mut().for_each(|s| *s = 0.0);
                scorer.score(&context, &mut scores);
                metrics.add(rank_of(&scores, target, &context));
                (metrics, scores)
            },
        )
        .map(|(m, _)| m)
        .reduce(RankMetrics::default, |a, b| RankMetrics {
            hr10: a.hr10 + b.hr10,
            ndcg10: a.ndcg10 + b.ndcg10,
            hr20: a.hr20 + b.hr20,
            ndcg20: a.ndcg20 + b.ndcg20,
            users: a.users + b.users,
        });
    metrics.finish()
}

/// Most-interacted items first, the same list for everyone.
pub struct Popularity {
    counts: Vec<f32>,
}

impl Popularity {
    /// Counts interactions in the training histories.
    pub fn fit(data: &SeqDataset) -> Self {
        let mut counts = vec![0f32; data.items];
        for seq in &data.train {
            for &item in seq {
                counts[item as usize] += 1.0;
            }
        }
        Self { counts }
    }

    /// Raw counts, for blending.
    pub fn counts(&self) -> &[f32] {
        &self.counts
    }
}

impl NextItemScorer for Popularity {
    fn score(&self, _context: &[u32], scores: &mut [f32]) {
        scores.copy_from_slice(&self.counts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_last_two_items_out_of_training() {
        let data = SeqDataset::parse("t", "1 10 11 12 13\n2 11 12 14\n3 10\n").unwrap();
        assert_eq!(data.users(), 2, "a user with one item cannot be split");
        assert_eq!(data.train[0].len(), 2);
        assert_eq!(data.case(0, Stage::Test).0.len(), 3);
        assert_ne!(data.valid[0], data.test[0]);
    }

    #[test]
    fn bad_item_id_names_its_line() {
        let err = SeqDataset::parse("t", "1 2 3 4\n2 3 x 4\n").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(err.1.contains("\"x\""));
    }

    #[test]
    fn ties_and_masks_are_not_rewarded() {
        let scores = [1.0, 1.0, 1.0, 0.5];
        assert_eq!(
            rank_of(&scores, 0, &[]),
            Some(2),
            "equal scores rank above the target"
        );
        assert_eq!(rank_of(&scores, 0, &[1, 2]), Some(0));
        assert_eq!(rank_of(&scores, 3, &[3]), None, "a masked target is a miss");
        let mut m = RankMetrics::default();
        m.add(Some(0));
        m.add(Some(15));
        m.add(None);
        let m = m.finish();
        assert!((m.hr10 - 1.0 / 3.0).abs() < 1e-9);
        assert!((m.hr20 - 2.0 / 3.0).abs() < 1e-9);
    }
}
