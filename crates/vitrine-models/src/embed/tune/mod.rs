//! Fine-tuning the sentence encoder on what shoppers searched for and what they found relevant.
//!
//! Why: all-MiniLM-L6-v2 is a general encoder. On a store's own queries — sizes, model numbers, trade
//! names — it ranks far below BM25, and a linear map on the query side (`vitrine_search::adapter`) recovers
//! only part of the gap. Training the encoder itself on (query, relevant product) pairs moves both sides.
//!
//! The objective is the usual one for bi-encoders (multiple-negatives ranking): in a batch of B queries each
//! with one relevant product, every other query's product is a negative, and the loss is the softmax
//! cross-entropy of the scaled cosine matrix against its diagonal. A tenth of the queries is held out and
//! the epoch with the lowest held-out loss is kept, so more epochs can never make the saved model worse on
//! that hold-out than the encoder it started from.
//!
//! The result is an ordinary checkpoint (same tensor names, f32 safetensors) that
//! [`crate::LocalEmbedder::load_with_weights`] serves with the fast packed forward pass. Product vectors
//! made with another checkpoint are not comparable: the catalog must be re-embedded.

pub mod cross;
mod epochs;
mod model;

use crate::{fetch, manifest::Manifest, ModelError};
use candle_core::{Device, Tensor};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use epochs::{run_epochs, EpochPlan};
use model::TrainableBert;
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use std::path::Path;
use std::time::Instant;
use tokenizers::{Tokenizer, TruncationParams};

/// One training query: its text as the engine embeds it, and its relevant product texts with a weight
/// (how relevant; a product is drawn as the query's positive in proportion to it).
#[derive(Debug, Clone)]
pub struct TuningExample {
    /// The query text.
    pub query: String,
    /// Relevant product texts and their weights (> 0).
    pub products: Vec<(String, f32)>,
    /// Products known to be poor answers to the query (judged, or shown and ignored). One is drawn per
    /// step as an extra negative: these are the near misses that in-batch negatives rarely provide.
    pub negatives: Vec<String>,
}

/// Training settings; the defaults are the ones measured in `docs/search.md`.
#[derive(Debug, Clone)]
pub struct TuneOptions {
    /// Passes over the training queries.
    pub epochs: usize,
    /// Queries per step (each brings one positive; the others' positives are its negatives).
    pub batch_size: usize,
    /// Peak AdamW learning rate (linear warm-up over the first tenth of the steps, then linear decay).
    pub learning_rate: f64,
    /// Cosine scale inside the softmax (inverse temperature).
    pub scale: f64,
    /// Longest tokenized text used in training.
    pub max_tokens: usize,
    /// Lowest encoder layers kept fixed (cheaper steps; 0 trains all six).
    pub frozen_layers: usize,
    /// Share of queries held out to choose the epoch.
    pub validation_share: f64,
    /// Seed for the split, the order and the positives drawn.
    pub seed: u64,
}

impl Default for TuneOptions {
    fn default() -> Self {
        Self {
            epochs: 2,
            batch_size: 32,
            learning_rate: 3e-5,
            scale: 20.0,
            max_tokens: 48,
            frozen_layers: 0,
            validation_share: 0.1,
            seed: 42,
        }
    }
}

/// Where training is, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct TuneProgress {
    /// 1-based epoch.
    pub epoch: usize,
    /// Steps done in this epoch.
    pub step: usize,
    /// Steps per epoch.
    pub steps: usize,
    /// Mean training loss so far in this epoch.
    pub loss: f32,
}

/// What training did.
#[derive(Debug, Clone)]
pub struct TuneReport {
    /// Queries trained on.
    pub train_queries: usize,
    /// Queries held out.
    pub validation_queries: usize,
    /// Held-out loss of the encoder before training.
    pub base_loss: f32,
    /// Held-out loss after each epoch.
    pub epoch_losses: Vec<f32>,
    /// The epoch whose weights were saved (0: none beat the starting encoder, which was saved as is).
    pub kept_epoch: usize,
    /// Wall time.
    pub seconds: f64,
}

/// Fine-tunes the installed all-MiniLM-L6-v2 on `examples` and writes the best checkpoint to `out`.
pub fn tune_encoder(
    models_dir: &Path,
    examples: &[TuningExample],
    options: &TuneOptions,
    out: &Path,
    progress: &dyn Fn(&TuneProgress),
) -> Result<TuneReport, ModelError> {
    let started = Instant::now();
    let usable: Vec<&TuningExample> = examples
        .iter()
        .filter(|e| !e.query.trim().is_empty() && e.products.iter().any(|(_, w)| *w > 0.0))
        .collect();
    if usable.len() < 2 * options.batch_size.max(1) || options.batch_size < 2 {
        return Err(ModelError::InvalidInput(format!(
            "fine-tuning needs at least {} queries with a relevant product and a batch of 2 or more; got {} queries",
            2 * options.batch_size.max(1),
            usable.len()
        )));
    }
    let (model, tokenizer) =
        load_trainable(models_dir, None, options.max_tokens, options.frozen_layers)?;

    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut order: Vec<&TuningExample> = usable;
    order.shuffle(&mut rng);
    let n_validation = ((order.len() as f64 * options.validation_share) as usize)
        .max(options.batch_size)
        .min(order.len() / 2);
    let (validation, train) = order.split_at(n_validation);
    // Held-out batches are fixed: each query with its most relevant product.
    let validation_pairs: Vec<(&str, &str)> = validation
        .iter()
        .map(|e| {
            let best = e
                .products
                .iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map_or("", |(t, _)| t.as_str());
            (e.query.as_str(), best)
        })
        .collect();
    let validate = |model: &TrainableBert| -> Result<f32, ModelError> {
        let mut total = 0.0f64;
        let mut batches = 0usize;
        for chunk in validation_pairs.chunks(options.batch_size) {
            if chunk.len() < 2 {
                continue;
            }
            let queries: Vec<&str> = chunk.iter().map(|p| p.0).collect();
            let products: Vec<&str> = chunk.iter().map(|p| p.1).collect();
            let loss = batch_loss(model, &tokenizer, &queries, &products, &[], options.scale)?;
            total += f64::from(loss.to_scalar::<f32>()?);
            batches += 1;
        }
        Ok((total / batches.max(1) as f64) as f32)
    };
    let base_loss = validate(&model)?;
    model.save(out)?;

    let mut optimiser = AdamW::new(
        model.trainable(),
        ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: 0.01,
            ..Default::default()
        },
    )?;
    let mut train: Vec<&TuningExample> = train.to_vec();
    let plan = EpochPlan {
        epochs: options.epochs,
        per_step: options.batch_size,
        peak_rate: options.learning_rate,
        base_loss,
    };
    let mut step = |chunk: &[&TuningExample], rate: f64, rng: &mut StdRng| {
        optimiser.set_learning_rate(rate);
        let queries: Vec<&str> = chunk.iter().map(|e| e.query.as_str()).collect();
        let products: Vec<&str> = chunk.iter().map(|e| draw(&e.products, rng)).collect();
        let negatives: Vec<&str> = chunk
            .iter()
            .filter_map(|e| e.negatives.choose(rng).map(String::as_str))
            .collect();
        let loss = batch_loss(
            &model,
            &tokenizer,
            &queries,
            &products,
            &negatives,
            options.scale,
        )?;
        optimiser.backward_step(&loss)?;
        Ok(loss.to_scalar::<f32>()?)
    };
    let outcome = run_epochs(
        &mut train,
        plan,
        &mut rng,
        &mut step,
        &mut || validate(&model),
        &mut || model.save(out),
        progress,
    )?;
    Ok(TuneReport {
        train_queries: train.len(),
        validation_queries: validation.len(),
        base_loss,
        epoch_losses: outcome.losses,
        kept_epoch: outcome.kept,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The installed encoder's tokenizer (truncating at `max_tokens`, unpadded) and a trainable copy of its
/// weights, or of `weights` (a checkpoint of the same architecture) when given.
fn load_trainable(
    models_dir: &Path,
    weights: Option<&Path>,
    max_tokens: usize,
    frozen_layers: usize,
) -> Result<(TrainableBert, Tokenizer), ModelError> {
    let spec = Manifest::builtin();
    let spec = spec
        .model(super::local::MODEL_NAME)
        .ok_or_else(|| ModelError::Runtime("manifest lacks the embedder".into()))?;
    let dir = fetch::verify(models_dir, spec)?;
    let config_path = dir.join("config.json");
    let config = std::fs::read_to_string(&config_path).map_err(|source| ModelError::Io {
        path: config_path.clone(),
        source,
    })?;
    let config = serde_json::from_str(&config)
        .map_err(|e| ModelError::Runtime(format!("config.json: {e}")))?;
    let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
        .map_err(|e| ModelError::Runtime(format!("tokenizer.json: {e}")))?;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..Default::default()
        }))
        .map_err(|e| ModelError::Runtime(format!("tokenizer truncation: {e}")))?;
    tokenizer.with_padding(None);
    let weights = weights.map_or_else(|| dir.join("model.safetensors"), Path::to_path_buf);
    let model = TrainableBert::load(&weights, config, frozen_layers)?;
    Ok((model, tokenizer))
}

/// A product text drawn in proportion to its weight.
fn draw<'a>(products: &'a [(String, f32)], rng: &mut StdRng) -> &'a str {
    let total: f32 = products.iter().map(|(_, w)| w.max(0.0)).sum();
    let mut pick = rng.gen::<f32>() * total;
    for (text, w) in products {
        let w = w.max(0.0);
        if pick < w {
            return text;
        }
        pick -= w;
    }
    products.last().map_or("", |(t, _)| t.as_str())
}

/// Multiple-negatives ranking loss of one batch: query i's positive is product i; every other product in
/// the batch and every extra negative is a negative for it.
fn batch_loss(
    model: &TrainableBert,
    tokenizer: &Tokenizer,
    queries: &[&str],
    products: &[&str],
    negatives: &[&str],
    scale: f64,
) -> Result<Tensor, ModelError> {
    let n = queries.len();
    let candidates: Vec<&str> = products.iter().chain(negatives).copied().collect();
    let (qi, qm) = encode(tokenizer, queries)?;
    let (pi, pm) = encode(tokenizer, &candidates)?;
    let q = model.embed(&qi, &qm)?;
    let p = model.embed(&pi, &pm)?;
    let logits = (q.matmul(&p.t()?)? * scale)?;
    let log_probs = candle_nn::ops::log_softmax(&logits, 1)?;
    let mut diagonal = vec![0f32; n * candidates.len()];
    for i in 0..n {
        diagonal[i * candidates.len() + i] = 1.0;
    }
    let diagonal = Tensor::from_vec(diagonal, (n, candidates.len()), &Device::Cpu)?;
    Ok(((log_probs * diagonal)?.sum_all()? * (-1.0 / n as f64))?)
}

/// Token ids padded to the batch's longest text, and the mask of real tokens.
fn encode(tokenizer: &Tokenizer, texts: &[&str]) -> Result<(Tensor, Tensor), ModelError> {
    let encodings = tokenizer
        .encode_batch(texts.to_vec(), true)
        .map_err(|e| ModelError::Runtime(format!("tokenizer: {e}")))?;
    let len = encodings
        .iter()
        .map(|e| e.get_ids().len())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut ids = vec![0u32; texts.len() * len];
    let mut mask = vec![0f32; texts.len() * len];
    for (row, e) in encodings.iter().enumerate() {
        for (col, (&id, &real)) in e.get_ids().iter().zip(e.get_attention_mask()).enumerate() {
            ids[row * len + col] = id;
            mask[row * len + col] = if real == 0 { 0.0 } else { 1.0 };
        }
    }
    Ok((
        Tensor::from_vec(ids, (texts.len(), len), &Device::Cpu)?,
        Tensor::from_vec(mask, (texts.len(), len), &Device::Cpu)?,
    ))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The models directory when the embedder is installed there (CI fetches it before the tests);
    /// otherwise `None`, after saying the test is skipped.
    pub(in crate::embed::tune) fn installed_models_dir() -> Option<std::path::PathBuf> {
        let dir = crate::default_models_dir();
        if crate::LocalEmbedder::load(&dir).is_err() {
            eprintln!(
                "skipped: the embedder is not installed in {}",
                dir.display()
            );
            return None;
        }
        Some(dir)
    }

    #[test]
    fn draw_follows_weights() {
        let products = vec![("a".to_string(), 1.0), ("b".to_string(), 3.0)];
        let mut rng = StdRng::seed_from_u64(1);
        let b = (0..4000)
            .filter(|_| draw(&products, &mut rng) == "b")
            .count();
        assert!((2800..3200).contains(&b), "b drawn {b} times of 4000");
    }

    /// One short real epoch through the shared loop: every step reports progress, the held-out loss is
    /// measured, and the saved checkpoint is one the serving embedder loads.
    #[test]
    fn one_short_epoch_saves_a_servable_checkpoint() {
        let Some(dir) = installed_models_dir() else {
            return;
        };
        let pairs = [
            ("cordless drill", "20-Volt Cordless Drill/Driver Kit"),
            ("garden hose", "50 ft. Heavy Duty Garden Hose"),
            ("ceiling fan", "52 in. Indoor Ceiling Fan with Light"),
            ("paint roller", "9 in. Paint Roller Cover, 3-Pack"),
            ("door knob", "Satin Nickel Passage Door Knob"),
            ("led bulb", "60-Watt Equivalent A19 LED Light Bulb"),
            ("wood screws", "#8 x 2 in. Wood Screws (100-Pack)"),
            ("tile saw", "7 in. Wet Tile Saw with Stand"),
        ];
        let examples: Vec<TuningExample> = pairs
            .iter()
            .map(|(q, p)| TuningExample {
                query: q.to_string(),
                products: vec![(p.to_string(), 1.0)],
                negatives: Vec::new(),
            })
            .collect();
        let options = TuneOptions {
            epochs: 1,
            batch_size: 2,
            max_tokens: 16,
            ..TuneOptions::default()
        };
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("tuned.safetensors");
        let steps = std::cell::Cell::new(0usize);
        let report = tune_encoder(&dir, &examples, &options, &path, &|p| {
            assert_eq!(p.epoch, 1);
            steps.set(p.step);
        })
        .unwrap();
        assert_eq!(report.validation_queries, 2);
        assert_eq!(report.train_queries, 6);
        assert_eq!(steps.get(), 3, "6 training queries in steps of 2");
        assert_eq!(report.epoch_losses.len(), 1);
        assert!(report.epoch_losses[0].is_finite() && report.base_loss.is_finite());
        assert!(report.kept_epoch <= 1);
        let tuned = crate::LocalEmbedder::load_with_weights(&dir, Some(&path)).unwrap();
        let v = tuned
            .embed_blocking(&["cordless drill".to_string()])
            .unwrap();
        assert_eq!(v[0].len(), 384);
    }

    /// The trainable forward pass must compute what the serving one computes, or a tuned checkpoint would
    /// be trained for one model and served by another. Runs where the model is installed (CI fetches it
    /// before the tests).
    #[test]
    fn trainable_forward_matches_serving_forward() {
        let dir = crate::default_models_dir();
        let Ok(serving) = crate::LocalEmbedder::load(&dir) else {
            eprintln!(
                "skipped: the embedder is not installed in {}",
                dir.display()
            );
            return;
        };
        let model_dir = dir.join(super::super::local::MODEL_NAME);
        let config = std::fs::read_to_string(model_dir.join("config.json")).unwrap();
        let model = TrainableBert::load(
            &model_dir.join("model.safetensors"),
            serde_json::from_str(&config).unwrap(),
            0,
        )
        .unwrap();
        let tokenizer = Tokenizer::from_file(model_dir.join("tokenizer.json")).unwrap();
        let texts = [
            "cordless drill",
            "DEWALT 20-Volt MAX Lithium-Ion Cordless 1/2 in. Drill/Driver Kit",
            "2x4 stud",
        ];
        let (ids, mask) = encode(&tokenizer, &texts).unwrap();
        let trained = model.embed(&ids, &mask).unwrap().to_vec2::<f32>().unwrap();
        let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
        let served = serving.embed_blocking(&texts).unwrap();
        for (a, b) in trained.iter().zip(&served) {
            let c = crate::embed::cosine(a, b);
            assert!(c > 0.999, "cosine {c} between the two forward passes");
        }
    }
}
