//! The epoch loop both tuners share (the sentence encoder in [`super::tune_encoder`] and the
//! cross-encoder in [`super::cross`]): shuffle, fixed-size steps under a warm-up-then-decay learning
//! rate, a running loss for progress, and a held-out check after every epoch that keeps the best one.
//!
//! Why one loop: what makes fine-tuning safe here is the same for both models — the saved weights are
//! never worse on the hold-out than the weights training started from — and that rule should live in one
//! place with one test.

use super::TuneProgress;
use crate::ModelError;
use rand::{rngs::StdRng, seq::SliceRandom};

/// How the epochs run.
#[derive(Debug, Clone, Copy)]
pub(super) struct EpochPlan {
    /// Passes over the training items.
    pub epochs: usize,
    /// Items per optimiser step (a trailing partial step is skipped).
    pub per_step: usize,
    /// Peak learning rate, reached after the first tenth of all steps.
    pub peak_rate: f64,
    /// Held-out loss of the starting weights (which the caller saved before training).
    pub base_loss: f32,
}

/// One optimiser step over a chunk of items at a learning rate; returns the step's training loss.
pub(super) type StepFn<'a, T> = dyn FnMut(&[T], f64, &mut StdRng) -> Result<f32, ModelError> + 'a;

/// What the epochs did.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct EpochOutcome {
    /// Held-out loss after each epoch.
    pub losses: Vec<f32>,
    /// The epoch whose weights were kept (0: none beat `base_loss`).
    pub kept: usize,
}

/// The learning rate at step `step_no` (0-based): a linear warm-up to `peak` over `warmup` steps, then a
/// linear decay to zero at `total_steps`.
pub(super) fn scheduled_rate(peak: f64, step_no: usize, warmup: usize, total_steps: usize) -> f64 {
    if step_no < warmup {
        peak * (step_no + 1) as f64 / warmup as f64
    } else {
        peak * total_steps.saturating_sub(step_no) as f64 / (total_steps - warmup).max(1) as f64
    }
}

/// Runs `plan` over `items`. `step(chunk, rate, rng)` takes one optimiser step at that learning rate and
/// returns its training loss; `validate()` returns the held-out loss; `keep()` saves the current weights
/// and is called only when an epoch beats every earlier one and the plan's `base_loss`.
pub(super) fn run_epochs<T>(
    items: &mut [T],
    plan: EpochPlan,
    rng: &mut StdRng,
    step: &mut StepFn<'_, T>,
    validate: &mut dyn FnMut() -> Result<f32, ModelError>,
    keep: &mut dyn FnMut() -> Result<(), ModelError>,
    progress: &dyn Fn(&TuneProgress),
) -> Result<EpochOutcome, ModelError> {
    let per_step = plan.per_step.max(1);
    let steps_per_epoch = items.len() / per_step;
    let total_steps = (steps_per_epoch * plan.epochs).max(1);
    let warmup = (total_steps / 10).max(1);
    let mut losses = Vec::with_capacity(plan.epochs);
    let mut best = (plan.base_loss, 0usize);
    let mut step_no = 0usize;
    for epoch in 1..=plan.epochs {
        items.shuffle(rng);
        let mut running = 0.0f64;
        for (i, chunk) in items.chunks_exact(per_step).enumerate() {
            let rate = scheduled_rate(plan.peak_rate, step_no, warmup, total_steps);
            running += f64::from(step(chunk, rate, rng)?);
            step_no += 1;
            progress(&TuneProgress {
                epoch,
                step: i + 1,
                steps: steps_per_epoch,
                loss: (running / (i + 1) as f64) as f32,
            });
        }
        let loss = validate()?;
        losses.push(loss);
        if loss < best.0 {
            best = (loss, epoch);
            keep()?;
        }
    }
    Ok(EpochOutcome {
        losses,
        kept: best.1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::cell::{Cell, RefCell};

    #[test]
    fn learning_rate_warms_up_then_decays_to_zero() {
        let rates: Vec<f64> = (0..100).map(|s| scheduled_rate(1.0, s, 10, 100)).collect();
        assert!((rates[0] - 0.1).abs() < 1e-12);
        assert!((rates[9] - 1.0).abs() < 1e-12);
        assert!(rates[10..].windows(2).all(|w| w[1] < w[0]));
        assert!(rates[99] > 0.0 && rates[99] < 0.02);
    }

    /// A one-parameter "model" fitted to the mean of its items: training lowers the held-out loss, every
    /// item is seen once per epoch, and the kept weights are the best epoch's, not the last one's.
    #[test]
    fn trains_every_item_each_epoch_and_keeps_the_best_epoch() {
        let mut items: Vec<f32> = (0..40).map(|i| 3.0 + (i % 5) as f32 * 0.1).collect();
        let weight = Cell::new(0.0f32);
        let saved = Cell::new(f32::NAN);
        let seen = RefCell::new(Vec::new());
        let rates = RefCell::new(Vec::new());
        let progressed = Cell::new(0usize);
        let held_out = |w: f32| (w - 3.2) * (w - 3.2);
        let base = held_out(weight.get());
        let mut rng = StdRng::seed_from_u64(7);
        let plan = EpochPlan {
            epochs: 3,
            per_step: 2,
            peak_rate: 0.9,
            base_loss: base,
        };
        let mut step = |chunk: &[f32], rate: f64, _: &mut StdRng| {
            seen.borrow_mut().extend_from_slice(chunk);
            rates.borrow_mut().push(rate);
            let target = chunk.iter().sum::<f32>() / chunk.len() as f32;
            let w = weight.get();
            // The third epoch overshoots on purpose, so the best epoch is not the last.
            let rate = if seen.borrow().len() > 80 { 3.5 } else { rate };
            weight.set(w + rate as f32 * (target - w));
            Ok((target - w) * (target - w))
        };
        let mut validate = || Ok(held_out(weight.get()));
        let mut keep = || {
            saved.set(weight.get());
            Ok(())
        };
        let progress = |_: &TuneProgress| progressed.set(progressed.get() + 1);
        let outcome = run_epochs(
            &mut items,
            plan,
            &mut rng,
            &mut step,
            &mut validate,
            &mut keep,
            &progress,
        )
        .expect("toy training runs");

        assert_eq!(outcome.losses.len(), 3);
        assert_eq!(
            progressed.get(),
            60,
            "20 steps of 2 items in each of 3 epochs"
        );
        let mut seen = seen.into_inner();
        assert_eq!(seen.len(), 120);
        let mut once: Vec<f32> = items.clone();
        once.sort_by(f32::total_cmp);
        for epoch in seen.chunks_mut(40) {
            epoch.sort_by(f32::total_cmp);
            assert_eq!(epoch, &once[..], "each epoch sees every item once");
        }
        let rates = rates.into_inner();
        assert!(rates[0] < rates[1], "warm-up first");
        assert!(rates[59] < rates[10], "then decay");
        assert!(
            outcome.losses[0] < base,
            "training lowers the held-out loss"
        );
        assert!(
            outcome.losses[2] > outcome.losses[0].max(outcome.losses[1]),
            "the overshooting epoch is the worst"
        );
        let best = if outcome.losses[1] < outcome.losses[0] {
            2
        } else {
            1
        };
        assert_eq!(outcome.kept, best, "the best epoch is kept, not the last");
        assert!((held_out(saved.get()) - outcome.losses[1]).abs() < 1e-6);
    }

    #[test]
    fn no_epoch_is_kept_when_none_beats_the_start() {
        let mut items = vec![1.0f32; 8];
        let mut rng = StdRng::seed_from_u64(1);
        let plan = EpochPlan {
            epochs: 2,
            per_step: 3,
            peak_rate: 0.1,
            base_loss: 0.5,
        };
        let kept = Cell::new(0);
        let outcome = run_epochs(
            &mut items,
            plan,
            &mut rng,
            &mut |_, _, _| Ok(1.0),
            &mut || Ok(0.7),
            &mut || {
                kept.set(kept.get() + 1);
                Ok(())
            },
            &|_| {},
        )
        .expect("runs");
        assert_eq!(outcome.kept, 0);
        assert_eq!(kept.get(), 0, "the starting weights stay saved");
        assert_eq!(outcome.losses, vec![0.7, 0.7]);
    }
}
