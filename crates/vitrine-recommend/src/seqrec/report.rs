//! The `vitrine eval recommend` protocol: popularity, co-visitation, the sequence model and their blend,
//! hyper-parameters chosen on the validation target only, figures reported on the test target.

use super::linear::{LinearSeqConfig, LinearSeqModel};
use super::{evaluate, NextItemScorer, Popularity, RankMetrics, SeqDataset, Stage};
use crate::covis::{CoVisitConfig, CoVisitScorer, CoVisitation};

/// One method's figures.
#[derive(Debug, Clone)]
pub struct MethodResult {
    /// Method name.
    pub method: String,
    /// Chosen setting, human-readable.
    pub setting: String,
    /// Validation figures (used for the choice).
    pub valid: RankMetrics,
    /// Test figures (reported).
    pub test: RankMetrics,
}

/// Mixes max-normalised scores of two scorers: `a·first + (1−a)·second`.
pub struct Blend<'a> {
    /// First scorer (the sequence model).
    pub first: &'a dyn NextItemScorer,
    /// Second scorer (co-visitation).
    pub second: &'a dyn NextItemScorer,
    /// Weight of the first.
    pub a: f32,
}

impl NextItemScorer for Blend<'_> {
    fn score(&self, context: &[u32], scores: &mut [f32]) {
        let mut other = vec![0f32; scores.len()];
        self.first.score(context, scores);
        self.second.score(context, &mut other);
        let max = |v: &[f32]| v.iter().fold(0f32, |m, x| m.max(*x)).max(1e-9);
        let (m1, m2) = (max(scores), max(&other));
        for (s, o) in scores.iter_mut().zip(&other) {
            *s = self.a * *s / m1 + (1.0 - self.a) * o / m2;
        }
    }
}

/// Runs every method on `data`; `log` receives progress lines.
pub fn run(
    data: &SeqDataset,
    grid: &[LinearSeqConfig],
    log: &mut dyn FnMut(String),
) -> Result<Vec<MethodResult>, String> {
    let mut out = Vec::new();
    let both = |s: &dyn NextItemScorer| {
        (
            evaluate(data, s, Stage::Valid),
            evaluate(data, s, Stage::Test),
        )
    };
    let pop = Popularity::fit(data);
    let (valid, test) = both(&pop);
    out.push(MethodResult {
        method: "popularity".into(),
        setting: "-".into(),
        valid,
        test,
    });

    let mut graph = CoVisitation::new(CoVisitConfig::default());
    for s in &data.train {
        graph.observe_sequence(s);
    }
    let mut best_covis: Option<(CoVisitScorer, MethodResult)> = None;
    for tau in [0.5f32, 1.0, 2.0] {
        let scorer = CoVisitScorer {
            graph: graph.clone(),
            tau,
        };
        let valid = evaluate(data, &scorer, Stage::Valid);
        log(format!(
            "  co-visitation tau {tau}: valid NDCG@10 {:.4}",
            valid.ndcg10
        ));
        if best_covis
            .as_ref()
            .is_none_or(|(_, b)| valid.ndcg10 > b.valid.ndcg10)
        {
            let r = MethodResult {
                method: "co-visitation".into(),
                setting: format!("tau {tau}"),
                valid,
                test: RankMetrics::default(),
            };
            best_covis = Some((scorer, r));
        }
    }
    let (covis, mut covis_result) = best_covis.ok_or("no co-visitation setting")?;
    covis_result.test = evaluate(data, &covis, Stage::Test);
    out.push(covis_result);

    let mut best_seq: Option<(LinearSeqModel, MethodResult)> = None;
    for config in grid {
        let started = std::time::Instant::now();
        let model = LinearSeqModel::fit(&data.train, data.items, *config, &mut |_| {})
            .map_err(|e| e.to_string())?;
        let valid = evaluate(data, &model, Stage::Valid);
        log(format!(
            "  sequence model alpha {} lambda {} tau {}: fitted in {:.1}s, valid NDCG@10 {:.4}",
            config.alpha,
            config.lambda,
            config.tau_train,
            started.elapsed().as_secs_f64(),
            valid.ndcg10
        ));
        if best_seq
            .as_ref()
            .is_none_or(|(_, b)| valid.ndcg10 > b.valid.ndcg10)
        {
            let setting = format!(
                "alpha {} lambda {} tau {}",
                config.alpha, config.lambda, config.tau_train
            );
            best_seq = Some((
                model,
                MethodResult {
                    method: "sequence model (linear)".into(),
                    setting,
                    valid,
                    test: RankMetrics::default(),
                },
            ));
        }
    }
    let (seq, mut seq_result) = best_seq.ok_or("empty sequence-model grid")?;
    seq_result.test = evaluate(data, &seq, Stage::Test);
    out.push(seq_result);

    let mut best_blend: Option<(f32, RankMetrics)> = None;
    for a in [0.3f32, 0.5, 0.7, 0.85, 1.0] {
        let blend = Blend {
            first: &seq,
            second: &covis,
            a,
        };
        let valid = evaluate(data, &blend, Stage::Valid);
        log(format!("  blend a {a}: valid NDCG@10 {:.4}", valid.ndcg10));
        if best_blend.is_none_or(|(_, b)| valid.ndcg10 > b.ndcg10) {
            best_blend = Some((a, valid));
        }
    }
    let (a, valid) = best_blend.ok_or("empty blend grid")?;
    let test = evaluate(
        data,
        &Blend {
            first: &seq,
            second: &covis,
            a,
        },
        Stage::Test,
    );
    out.push(MethodResult {
        method: "blend (sequence + co-visitation)".into(),
        setting: format!("a {a}"),
        valid,
        test,
    });
    Ok(out)
}
