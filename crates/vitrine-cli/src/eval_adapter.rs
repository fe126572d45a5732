//! Training the learned query-embedding map (`vitrine_search::adapter`) from judged queries, for
//! `vitrine eval search`. The same judged queries train the ranker; none of them is evaluated.

use anyhow::Context;
use std::collections::HashMap;
use std::time::Instant;
use vitrine_models::Embedder;
use vitrine_search::adapter::{AdapterExample, AdapterOptions, QueryAdapter};
use vitrine_search::eval::JudgedQuery;
use vitrine_search::SearchEngine;

/// Embeds each training query's relevance words (what the engine embeds when serving) and trains the
/// map to retrieve the query's judged products (weight: relevance − 1) against the whole catalog.
pub async fn train(
    engine: &SearchEngine,
    embedder: &dyn Embedder,
    train: &[JudgedQuery],
    products: &[vitrine_core::Product],
    catalog: &[f32],
    epochs: usize,
) -> anyhow::Result<QueryAdapter> {
    let t = Instant::now();
    let dim = embedder.dimension();
    let rows: HashMap<&str, usize> = products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let mut texts = Vec::new();
    let mut targets = Vec::new();
    for q in train {
        let text = engine.parse(&q.text).text;
        let judged: Vec<(usize, f32)> = q
            .judgments
            .iter()
            .filter(|(_, &rel)| rel > 1.0)
            .filter_map(|(id, &rel)| rows.get(id.as_str()).map(|&r| (r, (rel - 1.0) as f32)))
            .collect();
        if !text.trim().is_empty() && !judged.is_empty() {
            texts.push(text);
            targets.push(judged);
        }
    }
    let mut vectors = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(64) {
        vectors.extend(embedder.embed(chunk.to_vec()).await?);
    }
    let examples: Vec<AdapterExample> = vectors
        .into_iter()
        .zip(targets)
        .map(|(query, targets)| AdapterExample { query, targets })
        .collect();
    let mut unit = catalog.to_vec();
    for row in unit.chunks_exact_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }
    let options = AdapterOptions {
        epochs,
        ..Default::default()
    };
    let (adapter, report) = tokio::task::block_in_place(|| {
        QueryAdapter::train(&examples, &unit, dim, &options, &|epoch, loss| {
            eprintln!("query map: epoch {epoch}, validation loss {loss:.4}");
        })
    })
    .context("training the query map")?;
    eprintln!(
        "query map: {} training queries; validation loss {:.4} (encoder alone) → {:.4} (epoch {} kept) in {:.0} s",
        examples.len(),
        report.identity_loss,
        report
            .kept_epoch
            .checked_sub(1)
            .map_or(report.identity_loss, |e| report.epoch_losses[e]),
        report.kept_epoch,
        t.elapsed().as_secs_f64()
    );
    Ok(adapter)
}
