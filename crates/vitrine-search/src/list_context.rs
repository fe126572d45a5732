//! What the rest of a query's candidate list says about each candidate (pseudo-relevance feedback for
//! the learned ranker).
//!
//! Why: both retrievers' first few answers are usually on topic even when the query's words are not
//! ("deck over" finds deck coatings). A candidate that resembles those first answers — in embedding
//! space or in the words of its title — is more likely relevant than one that matched a single query
//! word. Each candidate is compared with the *other* members of the feedback set, so a top answer is
//! not credited for resembling itself.

use crate::fusion::Fused;
use crate::normalize::is_stop_word;
use std::collections::HashMap;

/// Ranks (1-based) in either retriever's list that make a candidate part of the feedback set.
pub const FEEDBACK_DEPTH: usize = 5;

/// Indices of the candidates in the feedback set: the first [`FEEDBACK_DEPTH`] of each retriever.
pub fn feedback_set(fused: &[Fused]) -> Vec<usize> {
    fused
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.lexical.is_some_and(|l| l.1 <= FEEDBACK_DEPTH)
                || f.semantic.is_some_and(|s| s.1 <= FEEDBACK_DEPTH)
        })
        .map(|(i, _)| i)
        .collect()
}

/// Distinct non-stop words of a title, sorted, from its normalised form ([`crate::normalize::padded`], which
/// the doc table already holds, so no title is tokenised again per search).
pub fn title_words(padded_title: &str) -> Vec<&str> {
    let mut words: Vec<&str> = padded_title
        .split_whitespace()
        .filter(|w| !is_stop_word(w))
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// For each candidate, the mean over its title words of the share of the other feedback titles that
/// contain the word (0 when the feedback set has no other member). `words[i]` is candidate `i`'s
/// [`title_words`].
pub fn title_consensus(words: &[Vec<&str>], set: &[usize]) -> Vec<f64> {
    let mut holders: HashMap<&str, usize> = HashMap::new();
    for &i in set {
        for w in &words[i] {
            *holders.entry(w).or_default() += 1;
        }
    }
    words
        .iter()
        .enumerate()
        .map(|(i, own)| {
            let member = set.contains(&i);
            let others = set.len() - usize::from(member);
            if others == 0 || own.is_empty() {
                return 0.0;
            }
            let shared: usize = own
                .iter()
                .map(|w| holders.get(w).copied().unwrap_or(0) - usize::from(member))
                .sum();
            shared as f64 / (own.len() * others) as f64
        })
        .collect()
}

/// The sum of the feedback set's unit vectors (members without a vector are skipped); `None` when no
/// member has one.
pub fn centroid(vectors: &[Option<Vec<f32>>]) -> Option<Vec<f32>> {
    let mut sum: Option<Vec<f32>> = None;
    for v in vectors.iter().flatten() {
        match sum.as_mut() {
            Some(s) => s.iter_mut().zip(v).for_each(|(a, b)| *a += b),
            None => sum = Some(v.clone()),
        }
    }
    sum
}

/// Cosine of a candidate with the sum of the *other* feedback vectors, from its cosine with the whole
/// sum `S`: a member's own unit vector `c` is taken out (`(c·S − 1) / |S − c|`).
pub fn cosine_to_others(cos_with_sum: f32, sum_norm: f32, member: bool, members: usize) -> f32 {
    if !member {
        return cos_with_sum;
    }
    if members < 2 {
        return 0.0;
    }
    let dot = cos_with_sum * sum_norm;
    let rest = (sum_norm * sum_norm - 2.0 * dot + 1.0).max(0.0).sqrt();
    if rest < 1e-6 {
        0.0
    } else {
        (dot - 1.0) / rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize;

    fn fused(lexical: Option<usize>, semantic: Option<usize>) -> Fused {
        Fused {
            key: 0,
            score: 0.0,
            lexical: lexical.map(|r| (1.0, r)),
            semantic: semantic.map(|r| (0.5, r)),
        }
    }

    #[test]
    fn the_feedback_set_is_the_top_of_either_list() {
        let list = [
            fused(Some(1), None),
            fused(Some(9), Some(2)),
            fused(Some(6), Some(7)),
            fused(None, Some(5)),
        ];
        assert_eq!(feedback_set(&list), vec![0, 1, 3]);
    }

    #[test]
    fn consensus_counts_other_members_only() {
        let padded: Vec<String> = [
            "Deck Coating Wood",
            "Deck Coating Concrete",
            "Deck Screws",
            "Coating Brush",
        ]
        .iter()
        .map(|t| normalize::padded(t))
        .collect();
        let words: Vec<Vec<&str>> = padded.iter().map(|t| title_words(t)).collect();
        let c = title_consensus(&words, &[0, 1, 2]);
        // Member 0: "coating" in 1 of 2 others, "deck" in 2 of 2, "wood" in 0 → 3 / (3 × 2).
        assert!((c[0] - 0.5).abs() < 1e-9);
        // Outsider 3: "brush" in 0 of 3, "coating" in 2 of 3 → 2 / (2 × 3).
        assert!((c[3] - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(title_consensus(&words, &[0])[0], 0.0);
    }

    #[test]
    fn a_member_is_compared_with_the_others_not_itself() {
        let a = vec![1.0, 0.0];
        let b = vec![0.0, 1.0];
        let sum = centroid(&[Some(a.clone()), Some(b.clone()), None]).unwrap();
        let norm = (sum[0] * sum[0] + sum[1] * sum[1]).sqrt();
        let cos_a = (a[0] * sum[0] + a[1] * sum[1]) / norm;
        // Without itself, a's only companion is b, orthogonal to it.
        assert!(cosine_to_others(cos_a, norm, true, 2).abs() < 1e-6);
        assert_eq!(cosine_to_others(cos_a, norm, false, 2), cos_a);
        assert_eq!(cosine_to_others(cos_a, norm, true, 1), 0.0);
    }
}
