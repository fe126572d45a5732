//! `[recommend]` configuration: signals, objective, rewards, exploration, training and registry.

use crate::ranker::Objective;
use crate::seqrec::linear::LinearSeqConfig;
use crate::signals::SignalsConfig;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Reward of each outcome attributed to an answer (`[recommend.rewards]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardTable {
    /// Per click (or product view from the answer).
    pub click: f64,
    /// Per add-to-cart.
    pub add_to_cart: f64,
    /// Per purchase, times the unit margin.
    pub purchase_margin: f64,
    /// Per return, times the unit margin (negative: the margin is lost and handling costs).
    pub return_margin: f64,
    /// Per review star above 3 (below 3 is negative).
    pub review_per_star: f64,
}

impl Default for RewardTable {
    fn default() -> Self {
        Self {
            click: 0.05,
            add_to_cart: 0.2,
            purchase_margin: 1.0,
            return_margin: -1.2,
            review_per_star: 0.1,
        }
    }
}

/// The whole recommendation configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecommendConfig {
    /// Serve `/v1/recommend/*`.
    pub enabled: bool,
    /// Online signals.
    pub signals: SignalsConfig,
    /// What the ranking optimises.
    pub objective: Objective,
    /// The reward ledger's values.
    pub rewards: RewardTable,
    /// Share of answers with one exploration slot (0 turns exploration off).
    pub explore_share: f32,
    /// A shown product acted on within this many minutes is credited to the answer even without its id.
    pub attribution_window_minutes: i64,
    /// Rules file (TOML), re-read when it changes.
    pub rules: Option<PathBuf>,
    /// Candidates taken from each source.
    pub candidates_per_source: usize,
    /// Most candidates scored by the ranking models (the best by the source heuristic are kept).
    pub rank_candidates: usize,
    /// Most active items the sequence model is trained on (dense solve: ≤ 20,000).
    pub sequence_items: usize,
    /// Sequence model hyper-parameters.
    pub sequence: LinearSeqConfig,
    /// Entries kept per item row of the sequence model.
    pub sequence_keep: usize,
    /// Trees per ranking model.
    pub trees: usize,
    /// Training reads impressions from the last this many days.
    pub train_window_days: i64,
    /// Retrain every this many hours in the server (absent: only by `vitrine train`).
    pub train_every_hours: Option<f64>,
    /// Serve a newly trained version at once (otherwise promote by API/CLI).
    pub auto_promote: bool,
    /// Where model versions are stored (default: `<data_dir>/recommend`).
    pub models_dir: Option<PathBuf>,
}

impl Default for RecommendConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            signals: SignalsConfig::default(),
            objective: Objective::default(),
            rewards: RewardTable::default(),
            explore_share: 0.1,
            attribution_window_minutes: 60,
            rules: None,
            candidates_per_source: 100,
            rank_candidates: 150,
            sequence_items: 5_000,
            sequence: LinearSeqConfig::default(),
            sequence_keep: 100,
            trees: 60,
            train_window_days: 30,
            train_every_hours: None,
            auto_promote: true,
            models_dir: None,
        }
    }
}
