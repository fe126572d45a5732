//! Retraining from the logs: the sequence model from every shopper's interest events, the four ranking
//! models from logged impressions (their serving-time features) joined with the reward ledger. The result
//! is a new registry version with its training window, feature schema and offline metrics.

use crate::config::RecommendConfig;
use crate::features::{FEATURES, RETURN_RATE_POOLED, SOURCES, WIDTH};
use crate::ranker::{auc, Classifier, Rankers};
use crate::registry::{ModelBundle, SequenceArtifact};
use crate::seqrec::linear::{LinearSeqModel, MAX_DENSE_ITEMS};
use crate::seqrec::{rank_of, NextItemScorer, RankMetrics};
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use vitrine_core::EventType;
use vitrine_store::{RecStore, Store};

/// Errors of a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Reading logs failed.
    #[error("store: {0}")]
    Store(#[from] vitrine_store::StoreError),
    /// Fitting failed.
    #[error("training: {0}")]
    Fit(String),
    /// Writing the version failed.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// Registry version.
    pub version: i64,
    /// Its manifest (window, schema, metrics).
    pub manifest: serde_json::Value,
}

/// Progress callback: stage name and share done (0–1).
pub type Progress<'a> = &'a (dyn Fn(&str, f32) + Sync);

/// Interest sequences per shopper (user, else session), product ids oldest first, consecutive repeats merged.
async fn sequences(
    store: &dyn Store,
    progress: Progress<'_>,
    total: u64,
) -> Result<Vec<Vec<String>>, TrainError> {
    let mut by_shopper: HashMap<String, Vec<String>> = HashMap::new();
    let mut events = store.stream_events();
    let mut seen = 0u64;
    while let Some(e) = events.next().await {
        let e = e?.event;
        seen += 1;
        if seen.is_multiple_of(100_000) {
            progress("reading events", seen as f32 / total.max(1) as f32);
        }
        if !matches!(
            e.event_type,
            EventType::View | EventType::Click | EventType::AddToCart | EventType::Purchase
        ) {
            continue;
        }
        let Some(key) = e.user_id.clone().or(e.session_id.clone()) else {
            continue;
        };
        let seq = by_shopper.entry(key).or_default();
        for p in e.product_ids {
            if seq.last() != Some(&p) {
                seq.push(p);
            }
        }
    }
    Ok(by_shopper.into_values().filter(|s| s.len() >= 2).collect())
}

/// Fits the sequence model on the most active items; returns it and its next-item HR@10 on each
/// shopper's held-out last item.
fn fit_sequence(
    sequences: &[Vec<String>],
    config: &RecommendConfig,
    progress: Progress<'_>,
) -> Result<Option<(SequenceArtifact, RankMetrics)>, TrainError> {
    let mut activity: HashMap<&str, u32> = HashMap::new();
    for s in sequences {
        for p in s {
            *activity.entry(p.as_str()).or_default() += 1;
        }
    }
    let mut head: Vec<(&str, u32)> = activity.into_iter().filter(|(_, n)| *n >= 2).collect();
    head.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    head.truncate(config.sequence_items.min(MAX_DENSE_ITEMS));
    if head.len() < 2 {
        return Ok(None);
    }
    let index: HashMap<&str, u32> = head
        .iter()
        .enumerate()
        .map(|(i, (s, _))| (*s, i as u32))
        .collect();
    let dense: Vec<Vec<u32>> = sequences
        .iter()
        .map(|s| {
            s.iter()
                .filter_map(|p| index.get(p.as_str()).copied())
                .collect::<Vec<u32>>()
        })
        .map(|s| s[s.len().saturating_sub(50)..].to_vec())
        .filter(|s| s.len() >= 2)
        .collect();
    let train: Vec<Vec<u32>> = dense.iter().map(|s| s[..s.len() - 1].to_vec()).collect();
    let mut model = LinearSeqModel::fit(&train, head.len(), config.sequence, &mut |f| {
        progress("sequence model", f)
    })
    .map_err(|e| TrainError::Fit(e.to_string()))?;
    model.prune(config.sequence_keep.max(1));
    let mut metrics = RankMetrics::default();
    let mut scores = vec![0f32; head.len()];
    for s in dense.iter().take(20_000) {
        let (context, target) = (&s[..s.len() - 1], s[s.len() - 1]);
        scores.iter_mut().for_each(|x| *x = 0.0);
        model.score(context, &mut scores);
        metrics.add(rank_of(&scores, target, context));
    }
    let skus = head.iter().map(|(s, _)| s.to_string()).collect();
    Ok(Some((SequenceArtifact { skus, model }, metrics.finish())))
}

#[derive(Default)]
struct RankingData {
    rows: Vec<[f32; WIDTH]>,
    weights: Vec<f64>,
    holdout: Vec<bool>,
    click: Vec<f64>,
    cart: Vec<f64>,
    purchase: Vec<f64>,
    /// Rows of purchased items, whether they came back, and their weight.
    return_rows: Vec<usize>,
    returned: Vec<f64>,
    return_weights: Vec<f64>,
}

/// Reads the logged impressions of `[from, to)` with their outcomes. A purchase not (yet) returned is
/// weighted by how much of the `return_window` has passed since it was shown: its "kept" label is still
/// provisional, and counting it whole would teach the return model that what sold last is never returned.
async fn ranking_data(
    rec: &dyn RecStore,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    return_window: Duration,
) -> Result<RankingData, TrainError> {
    let window_secs = return_window.num_seconds().max(1) as f64;
    let mut outcomes: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for r in rec.rewards_between(from, to).await? {
        outcomes
            .entry((r.request_id, r.product_id))
            .or_default()
            .insert(r.outcome);
    }
    let mut data = RankingData::default();
    let mut after = 0;
    loop {
        let page = rec.impressions_between(from, to, after, 2_000).await?;
        let Some((last, _)) = page.last() else { break };
        after = *last;
        for (_, imp) in page {
            let holdout = crate::engine::request_hash(&imp.request_id).is_multiple_of(10);
            let features = imp.detail["features"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let propensities = imp.detail["propensities"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for (i, sku) in imp.items.iter().enumerate() {
                let Some(values) = features.get(i).and_then(|f| f.as_array()) else {
                    continue;
                };
                if values.len() != WIDTH {
                    continue;
                }
                let mut row = [0f32; WIDTH];
                for (r, v) in row.iter_mut().zip(values) {
                    *r = v.as_f64().unwrap_or(0.0) as f32;
                }
                let propensity = propensities
                    .get(i)
                    .and_then(|p| p.as_f64())
                    .unwrap_or(1.0)
                    .max(1e-3);
                let got = outcomes.get(&(imp.request_id.clone(), sku.clone()));
                let has = |o: &str| got.is_some_and(|g| g.contains(o));
                let purchased = has("purchase");
                let carted = purchased || has("add_to_cart");
                let clicked = carted || has("click");
                // Inverse-propensity weights (clipped) keep exploration slots from being under-counted.
                let weight = (1.0 / propensity).clamp(1.0, 10.0);
                if purchased {
                    let returned = has("return");
                    let matured =
                        ((to - imp.at).num_seconds() as f64 / window_secs).clamp(0.05, 1.0);
                    data.return_rows.push(data.rows.len());
                    data.returned.push(f64::from(u8::from(returned)));
                    data.return_weights
                        .push(if returned { weight } else { weight * matured });
                }
                data.rows.push(row);
                data.weights.push(weight);
                data.holdout.push(holdout);
                data.click.push(f64::from(u8::from(clicked)));
                data.cart.push(f64::from(u8::from(carted)));
                data.purchase.push(f64::from(u8::from(purchased)));
            }
        }
    }
    Ok(data)
}

/// Trains one classifier on the non-holdout rows and reports its holdout AUC.
fn fit_one(
    rows: &[[f32; WIDTH]],
    labels: &[f64],
    weights: &[f64],
    holdout: &[bool],
    trees: usize,
) -> Result<(Option<Classifier>, Option<f64>), TrainError> {
    let pick = |keep: bool| -> (Vec<[f32; WIDTH]>, Vec<f64>, Vec<f64>) {
        let idx: Vec<usize> = (0..rows.len()).filter(|&i| holdout[i] != keep).collect();
        (
            idx.iter().map(|&i| rows[i]).collect(),
            idx.iter().map(|&i| labels[i]).collect(),
            idx.iter().map(|&i| weights[i]).collect(),
        )
    };
    let (train_rows, train_labels, train_weights) = pick(true);
    let model = Classifier::train(&train_rows, &train_labels, &train_weights, trees, 7)
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    let (test_rows, test_labels, _) = pick(false);
    let metric = model
        .as_ref()
        .and_then(|m| auc(&m.predict(&test_rows), &test_labels));
    Ok((model, metric))
}

/// Keeps a fitted return model only if it predicts the held-out purchases' returns better (weighted log
/// loss) than the pooled return rate it would replace.
///
/// Why: a young shop has a few hundred returns. A boosted model fitted on them is noisier than the pooled
/// rate (an item's own returns shrunk to its category's), and serving it would make the return term
/// follow noise. The pooled rate stays p(return) until the model has earned its place.
fn keep_return_model_if_better(
    model: Option<Classifier>,
    rows: &[[f32; WIDTH]],
    returned: &[f64],
    weights: &[f64],
    holdout: &[bool],
) -> Option<Classifier> {
    let model = model?;
    let idx: Vec<usize> = (0..rows.len()).filter(|&i| holdout[i]).collect();
    let test: Vec<[f32; WIDTH]> = idx.iter().map(|&i| rows[i]).collect();
    let predicted = model.predict(&test);
    let pooled: Vec<f32> = test.iter().map(|r| r[RETURN_RATE_POOLED]).collect();
    let labels: Vec<f64> = idx.iter().map(|&i| returned[i]).collect();
    let w: Vec<f64> = idx.iter().map(|&i| weights[i]).collect();
    let (model_loss, pooled_loss) = (
        weighted_log_loss(&predicted, &labels, &w)?,
        weighted_log_loss(&pooled, &labels, &w)?,
    );
    (model_loss < pooled_loss).then_some(model)
}

/// Mean log loss weighted by `weights`; `None` when the weights sum to zero.
fn weighted_log_loss(p: &[f32], labels: &[f64], weights: &[f64]) -> Option<f64> {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let loss: f64 = p
        .iter()
        .zip(labels)
        .zip(weights)
        .map(|((&p, &y), &w)| {
            let p = f64::from(p).clamp(1e-4, 1.0 - 1e-4);
            -w * (y * p.ln() + (1.0 - y) * (1.0 - p).ln())
        })
        .sum();
    Some(loss / total)
}

/// Runs a full training and registers the result as a new version under `models_dir`.
pub async fn train(
    store: &dyn Store,
    rec: &dyn RecStore,
    config: &RecommendConfig,
    models_dir: &Path,
    now: DateTime<Utc>,
    progress: Progress<'_>,
) -> Result<TrainOutcome, TrainError> {
    let total = store.stats().await?.events.max(1) as u64;
    let seqs = sequences(store, progress, total).await?;
    let seq_config = config.clone();
    let (sequence, seq_metrics) = {
        let fitted = tokio::task::block_in_place(|| fit_sequence(&seqs, &seq_config, progress))?;
        match fitted {
            Some((a, m)) => (Some(a), Some(m)),
            None => (None, None),
        }
    };
    drop(seqs);
    let from = now - Duration::days(config.train_window_days.max(1));
    progress("reading impressions", 0.0);
    let return_window = Duration::seconds((config.signals.return_window_days * 86_400.0) as i64);
    let data = ranking_data(rec, from, now + Duration::seconds(1), return_window).await?;
    progress("ranking models", 0.0);
    let trees = config.trees.max(1);
    let (rankers, aucs) = tokio::task::block_in_place(|| -> Result<_, TrainError> {
        let (click, click_auc) =
            fit_one(&data.rows, &data.click, &data.weights, &data.holdout, trees)?;
        progress("ranking models", 0.25);
        let (cart, cart_auc) =
            fit_one(&data.rows, &data.cart, &data.weights, &data.holdout, trees)?;
        progress("ranking models", 0.5);
        let (purchase, purchase_auc) = fit_one(
            &data.rows,
            &data.purchase,
            &data.weights,
            &data.holdout,
            trees,
        )?;
        progress("ranking models", 0.75);
        let rrows: Vec<[f32; WIDTH]> = data.return_rows.iter().map(|&i| data.rows[i]).collect();
        let rweights = &data.return_weights;
        let rhold: Vec<bool> = data.return_rows.iter().map(|&i| data.holdout[i]).collect();
        let (ret, return_auc) = fit_one(&rrows, &data.returned, rweights, &rhold, trees)?;
        let ret = keep_return_model_if_better(ret, &rrows, &data.returned, rweights, &rhold);
        progress("ranking models", 1.0);
        Ok((
            Rankers {
                click,
                cart,
                purchase,
                ret,
            },
            [click_auc, cart_auc, purchase_auc, return_auc],
        ))
    })?;
    let positives = |v: &[f64]| v.iter().filter(|x| **x > 0.5).count();
    let manifest = serde_json::json!({
        "trained_at": now,
        "window": { "from": from, "to": now },
        "feature_schema": FEATURES,
        "sources": SOURCES,
        "objective": config.objective,
        "rows": {
            "impressions_items": data.rows.len(),
            "clicks": positives(&data.click),
            "carts": positives(&data.cart),
            "purchases": positives(&data.purchase),
            "returns": positives(&data.returned),
        },
        "models": {
            "click": rankers.click.is_some(),
            "cart": rankers.cart.is_some(),
            "purchase": rankers.purchase.is_some(),
            "return": rankers.ret.is_some(),
        },
        "metrics": {
            "click_auc": aucs[0],
            "cart_auc": aucs[1],
            "purchase_auc": aucs[2],
            "return_auc": aucs[3],
            "sequence_hr10": seq_metrics.map(|m| m.hr10),
            "sequence_ndcg10": seq_metrics.map(|m| m.ndcg10),
            "sequence_shoppers": seq_metrics.map(|m| m.users),
        },
        "sequence": {
            "items": sequence.as_ref().map(|s| s.skus.len()),
            "config": config.sequence,
        },
    });
    let bundle = ModelBundle {
        version: None,
        rankers,
        sequence,
        ..Default::default()
    };
    let dir = models_dir.join(format!("trained-{}", now.timestamp_millis()));
    tokio::task::block_in_place(|| bundle.save(&dir))?;
    let version = rec
        .register_model(&manifest, &dir.display().to_string())
        .await?;
    Ok(TrainOutcome { version, manifest })
}
