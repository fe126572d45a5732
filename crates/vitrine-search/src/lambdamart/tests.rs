//! The listwise trees on small synthetic ranking tasks whose right order is known.
use super::*;

use crate::test_support::uniform;

fn ndcg(gains: &[f64], scores: &[f64]) -> f64 {
    ndcg_at(gains, scores, 10).unwrap_or(0.0)
}

#[test]
fn lambdas_push_a_buried_relevant_candidate_up_and_the_one_above_it_down() {
    let gains = [0.0, 0.0, 2.0];
    let scores = [3.0, 2.0, 1.0];
    let (g, h) = lambdas(&gains, &scores, 30);
    assert!(
        g[2] < 0.0,
        "the relevant candidate's loss falls as it rises: {g:?}"
    );
    assert!(g[0] > 0.0 && g[1] > 0.0);
    assert!(h.iter().all(|&h| h > 0.0));
    // Nothing to learn from a query without a relevant candidate.
    let (g, _) = lambdas(&[0.0, 0.0], &[1.0, 2.0], 30);
    assert_eq!(g, vec![0.0, 0.0]);
}

/// `n` queries of 40 candidates with two features: relevance follows feature 0, while feature 1
/// is noise (and the base score).
fn order_task(next: &mut impl FnMut() -> f64, n: usize) -> Vec<(Vec<[f64; 2]>, Vec<f64>)> {
    (0..n)
        .map(|_| {
            let rows: Vec<[f64; 2]> = (0..40).map(|_| [next(), next()]).collect();
            let gains = rows
                .iter()
                .map(|r| if r[0] > 0.8 { 2.0 } else { 0.0 })
                .collect();
            (rows, gains)
        })
        .collect()
}

/// Mean NDCG@10 of `test` ordered by the base score (feature 1), then by base plus `ensemble`.
fn before_and_after(ensemble: &TreeEnsemble, test: &[(Vec<[f64; 2]>, Vec<f64>)]) -> (f64, f64) {
    let (mut before, mut after) = (0.0, 0.0);
    for (rows, gains) in test {
        let base: Vec<f64> = rows.iter().map(|r| r[1]).collect();
        let boosted: Vec<f64> = rows
            .iter()
            .zip(&base)
            .map(|(r, b)| b + ensemble.predict(r))
            .collect();
        before += ndcg(gains, &base) / test.len() as f64;
        after += ndcg(gains, &boosted) / test.len() as f64;
    }
    (before, after)
}

fn groups_of(train: &[(Vec<[f64; 2]>, Vec<f64>)]) -> Vec<RankingGroup<'_, 2>> {
    train
        .iter()
        .map(|(rows, gains)| RankingGroup {
            rows,
            gains: gains.clone(),
            base: rows.iter().map(|r| r[1]).collect(),
        })
        .collect()
}

#[test]
fn trees_learn_an_order_the_base_scores_get_wrong() {
    // Trained on 200 queries, the ensemble must rank fresh queries by feature 0.
    let mut next = uniform(7);
    let train = order_task(&mut next, 200);
    let groups = groups_of(&train);
    let params = LambdaParams {
        rounds: 30,
        learning_rate: 0.3,
        min_rows_in_leaf: 10,
        ..LambdaParams::default()
    };
    let ensemble = TreeEnsemble::train(&groups, &params);
    assert_eq!(ensemble.len(), 30);
    let test = order_task(&mut next, 50);
    let (before, after) = before_and_after(&ensemble, &test);
    assert!(
        after > 0.9 && after > before + 0.3,
        "NDCG@10 {before:.3} → {after:.3}"
    );
    // The explanation adds up to the prediction, and credits the feature relevance follows.
    for (rows, _) in &test {
        for r in rows {
            let (by_feature, base) = ensemble.contributions(r).expect("means recorded");
            let sum: f64 = base + by_feature.iter().sum::<f64>();
            assert!(
                (sum - ensemble.predict(r)).abs() < 1e-9,
                "{sum} vs prediction"
            );
        }
    }
    let relevant = test[0]
        .0
        .iter()
        .find(|r| r[0] > 0.9)
        .expect("a relevant row");
    let (by_feature, _) = ensemble.contributions(relevant).expect("means recorded");
    assert!(
        by_feature[0] > 0.0 && by_feature[0] > by_feature[1].abs(),
        "{by_feature:?}"
    );
}

#[test]
fn trees_grown_on_samples_still_learn_and_a_seed_repeats_them() {
    // Each tree sees half the queries and one of the two features, yet the sum must still rank
    // by feature 0; the same seed must give the same trees, another seed other trees.
    let mut next = uniform(11);
    let train = order_task(&mut next, 200);
    let groups = groups_of(&train);
    let params = |seed| LambdaParams {
        rounds: 40,
        learning_rate: 0.3,
        min_rows_in_leaf: 10,
        query_fraction: 0.5,
        feature_fraction: 0.5,
        seed,
        ..LambdaParams::default()
    };
    let ensemble = TreeEnsemble::train(&groups, &params(1));
    let test = order_task(&mut next, 50);
    let (before, after) = before_and_after(&ensemble, &test);
    assert!(
        after > 0.9 && after > before + 0.3,
        "NDCG@10 {before:.3} → {after:.3}"
    );
    let probe = [0.85, 0.3];
    let again = TreeEnsemble::train(&groups, &params(1));
    assert_eq!(ensemble.predict(&probe), again.predict(&probe));
    let other = TreeEnsemble::train(&groups, &params(2));
    let differs = test[0]
        .0
        .iter()
        .any(|r| other.predict(r) != ensemble.predict(r));
    assert!(differs, "another seed drew the same samples");
}

#[test]
fn held_out_queries_stop_training_when_the_trees_only_fit_noise() {
    // Gains are unrelated to the features: whatever the trees learn is noise, so the held-out
    // queries keep far fewer trees than the rounds allowed.
    let mut next = uniform(11);
    let data: Vec<(Vec<[f64; 2]>, Vec<f64>)> = (0..300)
        .map(|_| {
            let rows: Vec<[f64; 2]> = (0..30).map(|_| [next(), next()]).collect();
            let gains = (0..30)
                .map(|_| if next() > 0.8 { 1.0 } else { 0.0 })
                .collect();
            (rows, gains)
        })
        .collect();
    let groups: Vec<RankingGroup<'_, 2>> = data
        .iter()
        .map(|(rows, gains)| RankingGroup {
            rows,
            gains: gains.clone(),
            base: vec![0.0; rows.len()],
        })
        .collect();
    let params = LambdaParams {
        rounds: 200,
        learning_rate: 0.3,
        min_rows_in_leaf: 5,
        patience: 20,
        validation_every: 10,
        ..LambdaParams::default()
    };
    let ensemble = TreeEnsemble::train(&groups, &params);
    assert!(ensemble.len() < 100, "kept {} trees", ensemble.len());
}

#[test]
fn ensembles_round_trip_through_json() {
    let rows = [[0.0], [1.0], [2.0], [3.0]];
    let groups = [RankingGroup {
        rows: &rows,
        gains: vec![0.0, 0.0, 1.0, 2.0],
        base: vec![0.0; 4],
    }];
    let params = LambdaParams {
        rounds: 3,
        min_rows_in_leaf: 1,
        ..LambdaParams::default()
    };
    let ensemble = TreeEnsemble::train(&groups, &params);
    let back: TreeEnsemble =
        serde_json::from_str(&serde_json::to_string(&ensemble).unwrap()).unwrap();
    for r in &rows {
        assert_eq!(ensemble.predict(r), back.predict(r));
    }
    assert!(ensemble.predict(&[3.0]) > ensemble.predict(&[0.0]));
    assert_eq!(ensemble.contributions(&[3.0]), back.contributions(&[3.0]));
    // A model saved before covers were recorded still loads and is explained per split, still
    // adding up to its prediction.
    let mut file: serde_json::Value = serde_json::to_value(&ensemble).unwrap();
    for tree in file["trees"].as_array_mut().unwrap() {
        tree.as_object_mut().unwrap().remove("covers");
    }
    let old: TreeEnsemble = serde_json::from_value(file).unwrap();
    let (by_feature, base) = old.contributions(&[3.0]).expect("means recorded");
    assert!((base + by_feature[0] - old.predict(&[3.0])).abs() < 1e-12);
}
