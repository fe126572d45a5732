//! Training the cross-encoder ([`crate::rerank::CrossEncoder`]) on judged search results.
//!
//! Why listwise groups from the serving list: the cross-encoder re-orders only the top of the list the
//! engine already built, so it is trained on exactly that kind of list. Each step takes a few queries; for
//! each, a group of candidates from its top list, one of them relevant, and the loss is the cross-entropy
//! between the softmax of the group's scores and the group's gains normalised to sum to one (ListNet).
//! Graded gains therefore teach order among relevant products too, not only relevant against not.
//!
//! The encoder starts from a checkpoint (the installed all-MiniLM-L6-v2 or a tuned one) and a linear head
//! on its pooled vector starts near zero; the head learns faster than the encoder (its own optimiser), so
//! the pretrained weights are not pushed around by a random head. A tenth of the queries is held out and
//! the epoch with the lowest held-out loss is kept.

use super::epochs::{run_epochs, EpochPlan};
use super::{encode, load_trainable, TuneProgress};
use crate::rerank::{pair_text, HEAD_BIAS, HEAD_WEIGHT};
use crate::ModelError;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use std::path::Path;
use std::time::Instant;

/// One training query and the candidates the engine ranked at its top, each with its gain (0 for an
/// irrelevant or unjudged product).
#[derive(Debug, Clone)]
pub struct RerankExample {
    /// The query as the shopper typed it.
    pub query: String,
    /// Product texts and gains, in the engine's order.
    pub candidates: Vec<(String, f32)>,
}

/// Training settings.
#[derive(Debug, Clone)]
pub struct CrossOptions {
    /// Passes over the training queries.
    pub epochs: usize,
    /// Queries per step.
    pub queries_per_step: usize,
    /// Candidates per query in a step: one relevant, the rest drawn from its list.
    pub group_size: usize,
    /// Peak AdamW learning rate of the encoder (warm-up over the first tenth, then linear decay).
    pub learning_rate: f64,
    /// Learning rate of the head.
    pub head_learning_rate: f64,
    /// Longest tokenized pair.
    pub max_tokens: usize,
    /// Lowest encoder layers kept fixed.
    pub frozen_layers: usize,
    /// Share of queries held out to choose the epoch.
    pub validation_share: f64,
    /// Seed of the split, the order and the groups drawn.
    pub seed: u64,
}

impl Default for CrossOptions {
    fn default() -> Self {
        Self {
            epochs: 1,
            queries_per_step: 8,
            group_size: 4,
            learning_rate: 4e-5,
            head_learning_rate: 1e-3,
            max_tokens: 64,
            frozen_layers: 0,
            validation_share: 0.1,
            seed: 42,
        }
    }
}

/// What training did.
#[derive(Debug, Clone)]
pub struct CrossReport {
    /// Queries trained on (those with a relevant candidate).
    pub train_queries: usize,
    /// Indexes (into the examples given) of the held-out queries, to tune anything that combines the
    /// cross-encoder with other scores without touching its training queries.
    pub validation: Vec<usize>,
    /// Held-out loss before training.
    pub base_loss: f32,
    /// Held-out loss after each epoch.
    pub epoch_losses: Vec<f32>,
    /// The epoch whose weights were saved (0: the untrained start).
    pub kept_epoch: usize,
    /// Wall time.
    pub seconds: f64,
}

/// Trains a cross-encoder from `init` (or the installed encoder) on `examples`; writes the best epoch to
/// `out` as a checkpoint [`crate::rerank::CrossEncoder::load`] reads.
pub fn train_cross_encoder(
    models_dir: &Path,
    init: Option<&Path>,
    examples: &[RerankExample],
    options: &CrossOptions,
    out: &Path,
    progress: &dyn Fn(&TuneProgress),
) -> Result<CrossReport, ModelError> {
    let started = Instant::now();
    if options.group_size < 2 || options.queries_per_step < 1 {
        return Err(ModelError::InvalidInput(
            "a cross-encoder step needs groups of 2 or more candidates and at least one query"
                .into(),
        ));
    }
    let mut usable: Vec<usize> = (0..examples.len())
        .filter(|&i| {
            let e = &examples[i];
            !e.query.trim().is_empty()
                && e.candidates.len() >= 2
                && e.candidates.iter().any(|(_, g)| *g > 0.0)
        })
        .collect();
    if usable.len() < 4 * options.queries_per_step {
        return Err(ModelError::InvalidInput(format!(
            "cross-encoder training needs at least {} queries with a relevant candidate; got {}",
            4 * options.queries_per_step,
            usable.len()
        )));
    }
    let (model, tokenizer) =
        load_trainable(models_dir, init, options.max_tokens, options.frozen_layers)?;
    let hidden = model.hidden_size();
    let mut rng = StdRng::seed_from_u64(options.seed);
    let head_init: Vec<f32> = (0..hidden).map(|_| rng.gen_range(-0.01..0.01)).collect();
    let head = Var::from_tensor(&Tensor::from_vec(head_init, (hidden, 1), &Device::Cpu)?)?;
    let bias = Var::from_tensor(&Tensor::zeros((1, 1), DType::F32, &Device::Cpu)?)?;

    usable.shuffle(&mut rng);
    let n_validation = ((usable.len() as f64 * options.validation_share) as usize)
        .max(options.queries_per_step)
        .min(usable.len() / 2);
    let (validation, train) = usable.split_at(n_validation);
    // Held-out groups are drawn once, so every epoch is measured on the same pairs.
    let validation_groups: Vec<Group> = validation
        .iter()
        .map(|&i| draw_group(&examples[i], options.group_size, &mut rng))
        .collect();
    let save = |path: &Path| -> Result<(), ModelError> {
        let w = head.as_tensor().flatten_all()?;
        let b = bias.as_tensor().flatten_all()?;
        model.save_with(path, &[(HEAD_WEIGHT, &w), (HEAD_BIAS, &b)])
    };
    let loss_of = |groups: &[Group]| -> Result<Tensor, ModelError> {
        let texts: Vec<String> = groups
            .iter()
            .flat_map(|g| g.texts.iter().map(|t| pair_text(&g.query, t)))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (ids, mask) = encode(&tokenizer, &refs)?;
        let pooled = model.embed(&ids, &mask)?;
        let scores = pooled
            .matmul(head.as_tensor())?
            .broadcast_add(bias.as_tensor())?
            .reshape((groups.len(), options.group_size))?;
        let targets: Vec<f32> = groups.iter().flat_map(|g| g.targets.clone()).collect();
        let targets = Tensor::from_vec(targets, (groups.len(), options.group_size), &Device::Cpu)?;
        let log_probs = candle_nn::ops::log_softmax(&scores, 1)?;
        Ok(((log_probs * targets)?.sum_all()? * (-1.0 / groups.len() as f64))?)
    };
    let validate = || -> Result<f32, ModelError> {
        let mut total = 0.0f64;
        let mut batches = 0usize;
        for chunk in validation_groups.chunks(options.queries_per_step * 2) {
            total += f64::from(loss_of(chunk)?.to_scalar::<f32>()?) * chunk.len() as f64;
            batches += chunk.len();
        }
        Ok((total / batches.max(1) as f64) as f32)
    };
    let base_loss = validate()?;
    save(out)?;

    let mut encoder_optimiser = AdamW::new(
        model.trainable(),
        ParamsAdamW {
            lr: options.learning_rate,
            weight_decay: 0.01,
            ..Default::default()
        },
    )?;
    let mut head_optimiser = AdamW::new(
        vec![head.clone(), bias.clone()],
        ParamsAdamW {
            lr: options.head_learning_rate,
            weight_decay: 0.0,
            ..Default::default()
        },
    )?;
    let mut train: Vec<usize> = train.to_vec();
    let plan = EpochPlan {
        epochs: options.epochs,
        per_step: options.queries_per_step,
        peak_rate: options.learning_rate,
        base_loss,
    };
    let mut step = |chunk: &[usize], rate: f64, rng: &mut StdRng| {
        encoder_optimiser.set_learning_rate(rate);
        let groups: Vec<Group> = chunk
            .iter()
            .map(|&i| draw_group(&examples[i], options.group_size, rng))
            .collect();
        let loss = loss_of(&groups)?;
        let grads = loss.backward()?;
        encoder_optimiser.step(&grads)?;
        head_optimiser.step(&grads)?;
        Ok(loss.to_scalar::<f32>()?)
    };
    let outcome = run_epochs(
        &mut train,
        plan,
        &mut rng,
        &mut step,
        &mut || validate(),
        &mut || save(out),
        progress,
    )?;
    Ok(CrossReport {
        train_queries: train.len(),
        validation: validation.to_vec(),
        base_loss,
        epoch_losses: outcome.losses,
        kept_epoch: outcome.kept,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// One query's candidates in a step, and the share of the target each should get.
struct Group {
    query: String,
    texts: Vec<String>,
    targets: Vec<f32>,
}

/// A relevant candidate (drawn in proportion to its gain) and `size − 1` others drawn from the rest of
/// the list (repeating when the list is short); targets are the gains normalised to sum to one.
fn draw_group(example: &RerankExample, size: usize, rng: &mut StdRng) -> Group {
    let candidates = &example.candidates;
    let total: f32 = candidates.iter().map(|(_, g)| g.max(0.0)).sum();
    let mut pick = rng.gen::<f32>() * total;
    let mut positive = candidates.len() - 1;
    for (i, (_, g)) in candidates.iter().enumerate() {
        let g = g.max(0.0);
        if g > 0.0 && pick < g {
            positive = i;
            break;
        }
        pick -= g;
    }
    let mut others: Vec<usize> = (0..candidates.len()).filter(|&i| i != positive).collect();
    others.shuffle(rng);
    let mut chosen = vec![positive];
    for k in 0..size - 1 {
        chosen.push(others[k % others.len()]);
    }
    let gains: Vec<f32> = chosen.iter().map(|&i| candidates[i].1.max(0.0)).collect();
    let sum: f32 = gains.iter().sum::<f32>().max(f32::MIN_POSITIVE);
    Group {
        query: example.query.clone(),
        texts: chosen.iter().map(|&i| candidates[i].0.clone()).collect(),
        targets: gains.iter().map(|g| g / sum).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::installed_models_dir;
    use super::*;

    #[test]
    fn groups_hold_a_relevant_candidate_and_targets_sum_to_one() {
        let example = RerankExample {
            query: "q".into(),
            candidates: vec![
                ("a".into(), 0.0),
                ("b".into(), 2.0),
                ("c".into(), 0.0),
                ("d".into(), 1.0),
                ("e".into(), 0.0),
            ],
        };
        let mut rng = StdRng::seed_from_u64(3);
        let mut first_b = 0;
        for _ in 0..3000 {
            let g = draw_group(&example, 4, &mut rng);
            assert_eq!(g.texts.len(), 4);
            assert!(g.targets[0] > 0.0, "the first candidate is a relevant one");
            let sum: f32 = g.targets.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5);
            let mut texts = g.texts.clone();
            texts.sort();
            texts.dedup();
            assert_eq!(
                texts.len(),
                4,
                "no candidate twice when the list is long enough"
            );
            first_b += usize::from(g.texts[0] == "b");
        }
        // "b" has two thirds of the gain.
        assert!((1800..2200).contains(&first_b), "b first {first_b} of 3000");
    }

    /// One short real epoch through the shared loop: every step reports progress and the saved
    /// checkpoint (encoder and head) is one the serving cross-encoder loads and scores with.
    #[test]
    fn one_short_epoch_saves_a_servable_cross_encoder() {
        let Some(dir) = installed_models_dir() else {
            return;
        };
        let examples: Vec<RerankExample> = (0..16)
            .map(|i| RerankExample {
                query: format!("cordless drill {i}"),
                candidates: vec![
                    ("garden hose 50 ft".into(), 0.0),
                    (format!("DEWALT 20V cordless drill kit {i}"), 2.0),
                    ("LED bulb 60 W".into(), 0.0),
                ],
            })
            .collect();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("cross.safetensors");
        let options = CrossOptions {
            epochs: 1,
            queries_per_step: 2,
            group_size: 3,
            max_tokens: 24,
            ..Default::default()
        };
        let steps = std::cell::Cell::new(0usize);
        let report = train_cross_encoder(&dir, None, &examples, &options, &path, &|p| {
            steps.set(p.step)
        })
        .unwrap();
        assert_eq!(report.validation.len(), 2);
        assert_eq!(report.train_queries, 14);
        assert_eq!(steps.get(), 7, "14 training queries in steps of 2");
        assert_eq!(report.epoch_losses.len(), 1);
        assert!(report.epoch_losses[0].is_finite());
        let served = crate::CrossEncoder::load(&dir, &path).unwrap();
        let scores = served
            .score_blocking("cordless drill", &["garden hose".to_string()])
            .unwrap();
        assert!(scores[0].is_finite());
    }

    /// The served cross-encoder must score what the trained one scores, or training would optimise a
    /// model nobody serves. Runs where the encoder is installed (CI fetches it before the tests).
    #[test]
    fn served_scores_match_the_trained_forward_pass() {
        let Some(dir) = installed_models_dir() else {
            return;
        };
        let examples: Vec<RerankExample> = (0..40)
            .map(|i| RerankExample {
                query: format!("cordless drill {i}"),
                candidates: vec![
                    (format!("DEWALT 20V cordless drill kit {i}"), 2.0),
                    ("garden hose 50 ft".into(), 0.0),
                    ("LED bulb 60 W".into(), 0.0),
                ],
            })
            .collect();
        let out =
            std::env::temp_dir().join(format!("vitrine-cross-{}.safetensors", std::process::id()));
        let options = CrossOptions {
            epochs: 0,
            ..Default::default()
        };
        let report = train_cross_encoder(&dir, None, &examples, &options, &out, &|_| {}).unwrap();
        assert_eq!(report.kept_epoch, 0);
        assert!(report.base_loss.is_finite());
        // A head of real scale (10 × the first pair's own pooled vector) and a bias, so a mismatch in
        // the pooled vectors, the head or the bias shows in the scores.
        let (model, tokenizer) = load_trainable(&dir, Some(&out), 64, 0).unwrap();
        let query = "cordless drill";
        let products: Vec<String> = examples[0].candidates.iter().map(|c| c.0.clone()).collect();
        let pairs: Vec<String> = products.iter().map(|p| pair_text(query, p)).collect();
        let refs: Vec<&str> = pairs.iter().map(String::as_str).collect();
        let (ids, mask) = encode(&tokenizer, &refs).unwrap();
        let pooled = model.embed(&ids, &mask).unwrap();
        let head = (pooled.get(0).unwrap() * 10.0).unwrap();
        let mut tensors = candle_core::safetensors::load(&out, &Device::Cpu).unwrap();
        tensors.insert(HEAD_WEIGHT.into(), head.clone());
        tensors.insert(
            HEAD_BIAS.into(),
            Tensor::new(&[1.5f32], &Device::Cpu).unwrap(),
        );
        candle_core::safetensors::save(&tensors, &out).unwrap();
        let trained: Vec<f32> = pooled
            .matmul(&head.unsqueeze(1).unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let served = crate::CrossEncoder::load(&dir, &out).unwrap();
        let scores = served.score_blocking(query, &products).unwrap();
        std::fs::remove_file(&out).ok();
        assert_eq!(scores.len(), 3);
        assert!(
            trained[0] > trained[1] + 1.0,
            "{trained:?}: the head favours the first pair"
        );
        for (s, t) in scores.iter().zip(&trained) {
            assert!(
                (s - (t + 1.5)).abs() < 0.05,
                "served {s}, trained {}",
                t + 1.5
            );
        }
    }
}
