//! Fine-tuning the sentence encoder (`vitrine_models::embed::tune`) on the judged training queries, for
//! `vitrine eval search`: the same queries that train the ranker and the query map, none of the evaluated
//! ones. The catalog is re-embedded with the tuned encoder and a second engine is built over it.

use crate::config::Config;
use anyhow::Context;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vitrine_models::embed::tune::{tune_encoder, TuneOptions, TuningExample};
use vitrine_models::embed::{BatchingEmbedder, CachedEmbedder};
use vitrine_models::{Embedder, LocalEmbedder};
use vitrine_search::eval::JudgedQuery;
use vitrine_search::{SearchConfig, SearchEngine};

/// How the encoder is tuned and where the weights go.
#[derive(Clone)]
pub struct EncoderTuning {
    /// Epochs (0: no tuning).
    pub epochs: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Lowest layers kept fixed.
    pub frozen_layers: usize,
    /// Where the tuned weights are written (default: the evaluation cache).
    pub save: Option<PathBuf>,
    /// Weights of an earlier tuning to load instead of tuning again.
    pub load: Option<PathBuf>,
    /// Share of the training queries tuned on (the rest are left to the ranker); see `--tune-share`.
    pub share: f64,
    /// Seed of the split and the batches.
    pub seed: u64,
    /// Unjudged products from each query's text-index top 30 added to its hard negatives (at most
    /// this many, best first; 0: judged-poor products only); see `--tune-mined-negatives`.
    pub mined_negatives: usize,
    /// Tune a second encoder on the other half and cross-fit the ranker's features
    /// (`eval_crossfit`); implies a share of one half.
    pub cross_fit: bool,
}

/// The evaluation catalog: its products, the text each is embedded from (same order), and the cache
/// directory where vectors and tuned weights are kept between runs.
#[derive(Clone, Copy)]
pub struct EvalCatalog<'a> {
    /// The products, in catalog order.
    pub products: &'a [vitrine_core::Product],
    /// Each product's embedding text.
    pub texts: &'a [String],
    /// Where embeddings and tuned weights are cached.
    pub cache: &'a Path,
}

/// Tunes the encoder on `train` (or loads `tuning.load`) and returns an engine over the same catalog
/// that embeds products and queries with it, and the catalog's tuned vectors.
pub async fn tuned_engine(
    config: &Config,
    search_config: SearchConfig,
    base: &SearchEngine,
    train: &[JudgedQuery],
    catalog: &EvalCatalog<'_>,
    tuning: &EncoderTuning,
) -> anyhow::Result<(SearchEngine, Vec<f32>)> {
    let models_dir = config.models.dir.clone();
    let weights = match &tuning.load {
        Some(p) => {
            anyhow::ensure!(p.exists(), "--tuned-encoder {}: no such file", p.display());
            eprintln!("encoder: loading tuned weights from {}", p.display());
            p.clone()
        }
        None => {
            let mined = mined_negatives(base, train, catalog, tuning.mined_negatives).await?;
            tune(config, base, train, &mined, catalog, tuning)?
        }
    };
    let tuned = LocalEmbedder::load_with_weights(&models_dir, Some(&weights))?;
    let embedder: Arc<dyn Embedder> = Arc::new(CachedEmbedder::new(
        Arc::new(BatchingEmbedder::new(Arc::new(tuned))),
        config.models.embedding_cache,
    ));
    crate::eval::build_engine(
        search_config,
        embedder,
        catalog.products,
        catalog.texts,
        catalog.cache,
    )
    .await
}

/// For each training query, the embedding texts of up to `per_query` products the text index ranks in
/// its top 30 that are not judged for it, best first.
///
/// Why: the metric counts an unjudged product as no gain, and the products that crowd judged ones out
/// of a top 10 are exactly these lexical near misses, which random in-batch negatives almost never are
/// (dense retrievers learn the same way from BM25 negatives). A product whose title equals a judged
/// product's is skipped: Home Depot repeats titles, and a copy of a positive is no negative.
async fn mined_negatives(
    base: &SearchEngine,
    train: &[JudgedQuery],
    catalog: &EvalCatalog<'_>,
    per_query: usize,
) -> anyhow::Result<Vec<Vec<String>>> {
    if per_query == 0 {
        return Ok(vec![Vec::new(); train.len()]);
    }
    let rows: HashMap<&str, usize> = catalog
        .products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let mut out = Vec::with_capacity(train.len());
    for q in train {
        let judged_texts: std::collections::HashSet<&str> = q
            .judgments
            .keys()
            .filter_map(|id| rows.get(id.as_str()).map(|&r| catalog.texts[r].as_str()))
            .collect();
        let req = vitrine_search::SearchRequest {
            query: q.text.clone(),
            limit: 30,
            retrieval: vitrine_search::Retrieval::Lexical,
            ..Default::default()
        };
        let (answer, _) = base.search(&req).await?;
        let negatives: Vec<String> = answer
            .hits
            .iter()
            .filter(|h| !q.judgments.contains_key(&h.id))
            .filter_map(|h| rows.get(h.id.as_str()).map(|&r| catalog.texts[r].as_str()))
            .filter(|text| !judged_texts.contains(text))
            .take(per_query)
            .map(str::to_string)
            .collect();
        out.push(negatives);
    }
    let mined: usize = out.iter().map(Vec::len).sum();
    eprintln!(
        "encoder: {mined} unjudged text-index near misses mined as hard negatives ({per_query} at most per query)"
    );
    Ok(out)
}

/// Fine-tunes the encoder on `train` and returns where its weights were written.
fn tune(
    config: &Config,
    base: &SearchEngine,
    train: &[JudgedQuery],
    mined: &[Vec<String>],
    catalog: &EvalCatalog<'_>,
    tuning: &EncoderTuning,
) -> anyhow::Result<PathBuf> {
    let EvalCatalog {
        products,
        texts,
        cache,
    } = *catalog;
    let models_dir = &config.models.dir;
    let rows: HashMap<&str, usize> = products
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i))
        .collect();
    let examples: Vec<TuningExample> = train
        .iter()
        .zip(mined)
        .map(|(q, mined)| TuningExample {
            // What the engine embeds when serving: the query's relevance words.
            query: base.parse(&q.text).text,
            products: q
                .judgments
                .iter()
                .filter(|(_, &rel)| rel > 1.67)
                .filter_map(|(id, &rel)| {
                    rows.get(id.as_str())
                        .map(|&r| (texts[r].clone(), (rel - 1.0) as f32))
                })
                .collect(),
            // Judged, and judged poor (relevance ≤ 1.67 of 3): near misses, not merely unjudged.
            negatives: q
                .judgments
                .iter()
                .filter(|(_, &rel)| rel <= 1.67)
                .filter_map(|(id, _)| rows.get(id.as_str()).map(|&r| texts[r].clone()))
                .chain(mined.iter().cloned())
                .collect(),
        })
        .collect();
    let with_negatives = examples.iter().filter(|e| !e.negatives.is_empty()).count();
    eprintln!(
        "encoder: {} training queries, {with_negatives} with a hard negative (judged poor or mined)",
        examples.len()
    );
    let options = TuneOptions {
        epochs: tuning.epochs,
        learning_rate: tuning.learning_rate,
        frozen_layers: tuning.frozen_layers,
        seed: tuning.seed,
        ..Default::default()
    };
    let out = match &tuning.save {
        Some(p) => p.clone(),
        None => {
            std::fs::create_dir_all(cache).ok();
            cache.join(format!(
                "encoder-e{}-lr{}-f{}-s{}-q{}.safetensors",
                options.epochs,
                options.learning_rate,
                options.frozen_layers,
                options.seed,
                train.len()
            ))
        }
    };
    let pb = crate::progress::items(0, "tuning the encoder");
    let started = std::time::Instant::now();
    let report = tokio::task::block_in_place(|| {
        tune_encoder(models_dir, &examples, &options, &out, &|p| {
            pb.set_length((p.steps * options.epochs) as u64);
            pb.set_position(((p.epoch - 1) * p.steps + p.step) as u64);
            pb.set_message(format!("epoch {} loss {:.3}", p.epoch, p.loss));
            if p.step % 25 == 0 {
                eprintln!(
                    "encoder: epoch {} step {}/{} loss {:.4} ({:.0} s)",
                    p.epoch,
                    p.step,
                    p.steps,
                    p.loss,
                    started.elapsed().as_secs_f64()
                );
            }
        })
    })
    .context("fine-tuning the encoder")?;
    pb.finish_and_clear();
    eprintln!(
        "encoder: tuned on {} queries ({} held out) in {:.0} s; held-out loss {:.4} → {:?}, epoch {} kept; weights in {}",
        report.train_queries,
        report.validation_queries,
        report.seconds,
        report.base_loss,
        report.epoch_losses,
        report.kept_epoch,
        out.display()
    );
    Ok(out)
}
