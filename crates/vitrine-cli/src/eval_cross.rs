//! `vitrine eval search --cross-epochs N`: a cross-encoder that re-orders the top of the learned ranker's
//! list, trained and measured on the Home Depot protocol.
//!
//! The cross-encoder trains on the training queries' own top lists (from the engine with its ranker
//! installed). How much its score counts against the ranker's is chosen on the queries it held out, never
//! on the evaluated ones; the evaluated queries only get the rows printed.

use crate::eval::Table;
use anyhow::Context;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vitrine_models::embed::tune::cross::{train_cross_encoder, CrossOptions, RerankExample};
use vitrine_models::CrossEncoder;
use vitrine_search::eval::{Accumulator, JudgedQuery};
use vitrine_search::{blend_order, CrossStage, Fusion, Retrieval, SearchEngine, SearchRequest};

/// Command-line settings of the cross-encoder stage.
#[derive(clap::Args, Debug, Clone)]
pub struct CrossArgs {
    /// Epochs of cross-encoder training on the training queries' top lists; 0 skips the stage unless
    /// `--cross-encoder` loads one.
    #[arg(long, default_value_t = 0)]
    pub cross_epochs: usize,
    /// Candidates at the top of the learned ranker's list that the cross-encoder re-orders.
    #[arg(long, default_value_t = 30)]
    pub cross_top: usize,
    /// Peak learning rate of the cross-encoder's transformer.
    #[arg(long, default_value_t = 4e-5)]
    pub cross_lr: f64,
    /// Start the cross-encoder from these weights (e.g. a tuned encoder) instead of the installed ones.
    #[arg(long)]
    pub cross_init: Option<PathBuf>,
    /// Also print NDCG@10 on the evaluated queries for every share (a diagnostic of whether the two
    /// scores complement each other; the share used is still chosen on held-out training queries).
    #[arg(long)]
    pub cross_diagnose: bool,
    /// Save the trained cross-encoder here.
    #[arg(long)]
    pub save_cross_encoder: Option<PathBuf>,
    /// Load this cross-encoder instead of training one (the share of its score is then chosen on the
    /// last tenth of the training queries).
    #[arg(long)]
    pub cross_encoder: Option<PathBuf>,
}

/// The list a query gets from the engine as configured (learned ranker installed): ids and scores.
async fn top_list(
    engine: &SearchEngine,
    query: &str,
    limit: usize,
) -> anyhow::Result<Vec<(String, f64)>> {
    let req = SearchRequest {
        query: query.to_string(),
        limit,
        retrieval: Retrieval::Hybrid,
        fusion: Some(Fusion::Learned),
        ..Default::default()
    };
    let (answer, _) = engine.search(&req).await?;
    Ok(answer
        .hits
        .iter()
        .map(|h| (h.id.clone(), h.score))
        .collect())
}

/// The list with its scored head re-ordered as the engine's cross-encoder stage would; the rest keeps
/// the ranker's order.
fn blended(ids: &[String], ranker: &[f64], cross: &[f32], share: f64) -> Vec<String> {
    let mut out: Vec<String> = blend_order(ranker, cross, share)
        .into_iter()
        .map(|i| ids[i].clone())
        .collect();
    out.extend(ids[ranker.len()..].iter().cloned());
    out
}

/// A query's list with both scores for its top: what blending needs.
struct Scored {
    ids: Vec<String>,
    ranker: Vec<f64>,
    cross: Vec<f32>,
}

async fn score_lists(
    engine: &SearchEngine,
    cross: &CrossEncoder,
    queries: &[&JudgedQuery],
    titles: &HashMap<String, String>,
    top: usize,
    limit: usize,
) -> anyhow::Result<Vec<Scored>> {
    let pb = crate::progress::items(queries.len() as u64, "cross-encoder scoring");
    let mut out = Vec::with_capacity(queries.len());
    for q in queries {
        let list = top_list(engine, &q.text, limit).await?;
        let head = list.len().min(top);
        let texts: Vec<String> = list[..head]
            .iter()
            .map(|(id, _)| titles.get(id).cloned().unwrap_or_default())
            .collect();
        let scores = tokio::task::block_in_place(|| cross.score_blocking(&q.text, &texts))?;
        out.push(Scored {
            ranker: list[..head].iter().map(|(_, s)| *s).collect(),
            ids: list.into_iter().map(|(id, _)| id).collect(),
            cross: scores,
        });
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(out)
}

/// What the stage needs besides the engine and the queries.
pub struct Inputs<'a> {
    /// Product id → the text the cross-encoder reads.
    pub titles: &'a HashMap<String, String>,
    /// Command-line settings.
    pub args: &'a CrossArgs,
    /// Where the installed encoder (tokenizer, configuration) is.
    pub models_dir: &'a Path,
    /// Where a trained cross-encoder is written when no path is given.
    pub cache: &'a Path,
}

/// Trains (or loads) the cross-encoder over `engine`'s ranked lists, picks its share on held-out training
/// queries, and prints rows for the evaluated `queries`.
pub async fn rows(
    engine: &SearchEngine,
    queries: &[JudgedQuery],
    train: &[JudgedQuery],
    inputs: &Inputs<'_>,
    table: &mut Table,
) -> anyhow::Result<()> {
    let Inputs {
        titles,
        args,
        models_dir,
        cache,
    } = *inputs;
    if args.cross_epochs == 0 && args.cross_encoder.is_none() {
        return Ok(());
    }
    let top = args.cross_top.max(2);
    let (path, held_out) = match &args.cross_encoder {
        Some(p) => {
            let from = train.len() - train.len() / 10;
            (p.clone(), (from..train.len()).collect::<Vec<_>>())
        }
        None => train_on_lists(engine, train, titles, args, models_dir, cache, top).await?,
    };
    let cross = CrossEncoder::load(models_dir, &path)
        .with_context(|| format!("loading the cross-encoder {}", path.display()))?;
    let held: Vec<&JudgedQuery> = held_out.iter().map(|&i| &train[i]).collect();
    let held_lists = score_lists(engine, &cross, &held, titles, top, top).await?;
    let mut best = (f64::MIN, 0.0);
    for step in 0..=10 {
        let share = f64::from(step) / 10.0;
        let mut acc = Accumulator::default();
        for (q, s) in held.iter().zip(&held_lists) {
            acc.add(&blended(&s.ids, &s.ranker, &s.cross, share), &q.judgments);
        }
        let ndcg = acc.scores().ndcg_at_10;
        eprintln!("cross-encoder: share {share:.1} → held-out NDCG@10 {ndcg:.4}");
        if ndcg > best.0 {
            best = (ndcg, share);
        }
    }
    if args.cross_diagnose {
        // How every share would do on the evaluated queries: to see whether the two scores are
        // complementary at all. Never used to choose the share.
        let evaluated: Vec<&JudgedQuery> = queries.iter().collect();
        let lists = score_lists(engine, &cross, &evaluated, titles, top, 100).await?;
        for step in 0..=10 {
            let share = f64::from(step) / 10.0;
            let mut acc = Accumulator::default();
            for (q, s) in queries.iter().zip(&lists) {
                acc.add(&blended(&s.ids, &s.ranker, &s.cross, share), &q.judgments);
            }
            let s = acc.scores();
            eprintln!(
                "cross-encoder (diagnostic, evaluated queries): share {share:.1} → NDCG@10 {:.4}",
                s.ndcg_at_10
            );
        }
    }
    for share in [1.0, best.1] {
        engine.set_cross_encoder(Some(CrossStage {
            model: cross.clone(),
            top,
            share,
        }));
        let name = if share >= 1.0 {
            format!("… + cross-encoder on the top {top} alone")
        } else {
            format!(
                "… + cross-encoder on the top {top}, share {share:.1} (chosen on {} held-out training queries)",
                held.len()
            )
        };
        let fusion = Some(Fusion::Learned);
        table
            .row(engine, queries, &name, Retrieval::Hybrid, fusion)
            .await?;
    }
    // Later rows measure the ranker on its own again.
    engine.set_cross_encoder(None);
    Ok(())
}

/// Trains on the training queries' top lists; returns the checkpoint and the held-out query indexes.
async fn train_on_lists(
    engine: &SearchEngine,
    train: &[JudgedQuery],
    titles: &HashMap<String, String>,
    args: &CrossArgs,
    models_dir: &Path,
    cache: &Path,
    top: usize,
) -> anyhow::Result<(PathBuf, Vec<usize>)> {
    let t = Instant::now();
    let mut examples = Vec::with_capacity(train.len());
    for q in train {
        let list = top_list(engine, &q.text, top).await?;
        let candidates = list
            .iter()
            .map(|(id, _)| {
                let title = titles.get(id).cloned().unwrap_or_default();
                // The metric's gain: relevance − 1 when judged, 0 otherwise.
                let gain = q.judgments.get(id).map_or(0.0, |r| (r - 1.0).max(0.0));
                (title, gain as f32)
            })
            .collect();
        examples.push(RerankExample {
            query: q.text.clone(),
            candidates,
        });
    }
    eprintln!(
        "cross-encoder: top {top} lists of {} training queries in {:.0} s",
        train.len(),
        t.elapsed().as_secs_f64()
    );
    let options = CrossOptions {
        epochs: args.cross_epochs,
        learning_rate: args.cross_lr,
        ..Default::default()
    };
    let out = match &args.save_cross_encoder {
        Some(p) => p.clone(),
        None => {
            std::fs::create_dir_all(cache).ok();
            cache.join(format!(
                "cross-e{}-lr{}-top{top}.safetensors",
                options.epochs, options.learning_rate
            ))
        }
    };
    let pb = crate::progress::items(0, "training the cross-encoder");
    let started = Instant::now();
    let report = tokio::task::block_in_place(|| {
        train_cross_encoder(
            models_dir,
            args.cross_init.as_deref(),
            &examples,
            &options,
            &out,
            &|p| {
                pb.set_length((p.steps * options.epochs) as u64);
                pb.set_position(((p.epoch - 1) * p.steps + p.step) as u64);
                pb.set_message(format!("epoch {} loss {:.3}", p.epoch, p.loss));
                if p.step % 25 == 0 {
                    eprintln!(
                        "cross-encoder: epoch {} step {}/{} loss {:.4} ({:.0} s)",
                        p.epoch,
                        p.step,
                        p.steps,
                        p.loss,
                        started.elapsed().as_secs_f64()
                    );
                }
            },
        )
    })
    .context("training the cross-encoder")?;
    pb.finish_and_clear();
    eprintln!(
        "cross-encoder: trained on {} queries ({} held out) in {:.0} s; held-out loss {:.4} → {:?}, epoch {} kept; weights in {}",
        report.train_queries,
        report.validation.len(),
        report.seconds,
        report.base_loss,
        report.epoch_losses,
        report.kept_epoch,
        out.display()
    );
    Ok((out, report.validation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blending_reorders_only_the_scored_top() {
        let ids: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let ranker = [3.0, 2.0, 1.0];
        let cross = [0.0f32, 1.0, 5.0];
        assert_eq!(blended(&ids, &ranker, &cross, 0.0), ["a", "b", "c", "d"]);
        assert_eq!(blended(&ids, &ranker, &cross, 1.0), ["c", "b", "a", "d"]);
    }
}
