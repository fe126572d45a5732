//! The command-line settings of `vitrine eval search`, turned into the evaluation's own settings.

use crate::config::Config;
use crate::eval::{RankerTraining, SearchEval};
use std::path::PathBuf;
use vitrine_search::lambdamart::LambdaParams;

/// Home Depot protocol: NDCG@10 and Recall@100 for BM25, vectors and hybrid fusions, in one run.
#[derive(clap::Args)]
pub struct SearchArgs {
    /// Folder with products.csv and judgments_dev.csv.
    #[arg(long, default_value = "../shared/datasets/homedepot")]
    pub dataset: PathBuf,
    /// Queries sampled (seeded); 0 = all.
    #[arg(long, default_value_t = 1_500)]
    pub queries: usize,
    /// Sampling seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Where product embeddings are cached between runs.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Write every row's per-query top 10 here (one JSON-lines file per row), to study what a method
    /// gets wrong query by query.
    #[arg(long)]
    pub dump_dir: Option<PathBuf>,
    /// Most judged queries (disjoint from the evaluated ones) used to train the learned ranker; the
    /// default takes all the others; 0 skips the ranker.
    #[arg(long, default_value_t = 100_000)]
    pub train_queries: usize,
    /// Candidates per retriever in the ranker's training rows; the default is the engine's own depth
    /// (`[search] candidates`), so the ranker trains on the pool it re-ranks.
    #[arg(long)]
    pub train_depth: Option<usize>,
    /// Trees of the learned ranker.
    #[arg(long, default_value_t = 200)]
    pub ranker_trees: usize,
    /// Rounds of listwise (LambdaMART) trees trained on top of the pointwise ranker; both rows are
    /// printed (0: pointwise only).
    #[arg(long, default_value_t = 400)]
    pub ranker_listwise_rounds: usize,
    /// Learning rate of the listwise trees.
    #[arg(long, default_value_t = 0.05)]
    pub ranker_listwise_rate: f64,
    /// The listwise trees weigh only pairs with one member within this many positions of the top.
    #[arg(long, default_value_t = 10)]
    pub ranker_listwise_truncation: usize,
    /// First stages trained on the other folds of the training queries to give the listwise trees
    /// out-of-fold starting scores (below 2: the in-sample scores of the full first stage).
    #[arg(long, default_value_t = 3)]
    pub ranker_cross_folds: usize,
    /// Hold out every N-th training query to choose how many listwise trees to keep (0: keep all;
    /// only honest with `--ranker-cross-folds` of 2 or more).
    #[arg(long, default_value_t = 10)]
    pub ranker_listwise_validation_every: usize,
    /// Rounds without a better held-out NDCG@10 before the listwise trees stop growing.
    #[arg(long, default_value_t = 100)]
    pub ranker_listwise_patience: usize,
    /// Share of the training queries each listwise tree is grown on (drawn per tree, seeded).
    #[arg(long, default_value_t = 1.0)]
    pub ranker_listwise_query_fraction: f64,
    /// Share of the features each listwise tree may split on (drawn per tree, seeded).
    #[arg(long, default_value_t = 1.0)]
    pub ranker_listwise_feature_fraction: f64,
    /// Depth limit of the listwise trees.
    #[arg(long, default_value_t = 6)]
    pub ranker_listwise_depth: usize,
    /// Fewest training candidates in a leaf of the listwise trees.
    #[arg(long, default_value_t = 50)]
    pub ranker_listwise_min_rows: usize,
    /// Let the listwise trees also read each candidate's resemblance to the first stage's own top 5
    /// (cosine and title-word consensus), computed over out-of-fold first-stage scores in training.
    #[arg(long)]
    pub ranker_listwise_context: bool,
    /// Skip the learned ranker over the installed encoder when a tuned encoder is evaluated.
    #[arg(long)]
    pub only_tuned_ranker: bool,
    /// Load this ranker (an earlier run's `--save-ranker`, same encoder) instead of training one.
    #[arg(long)]
    pub load_ranker: Option<PathBuf>,
    /// Save the trained ranker here (load it with `[search] ranker = "…"`).
    #[arg(long)]
    pub save_ranker: Option<PathBuf>,
    /// Epochs of the learned query-embedding map (trained on the judged training queries, over the
    /// tuned encoder when there is one); 0 skips it.
    #[arg(long, default_value_t = 4)]
    pub adapter_epochs: usize,
    /// Save the trained query map here (load it with `[search] query_adapter = "…"`).
    #[arg(long)]
    pub save_adapter: Option<PathBuf>,
    /// Epochs of fine-tuning the sentence encoder on the same judged queries; 0 skips it.
    #[arg(long, default_value_t = 2)]
    pub tune_epochs: usize,
    /// Peak learning rate of the encoder fine-tuning.
    #[arg(long, default_value_t = 3e-5)]
    pub tune_lr: f64,
    /// Lowest encoder layers kept fixed while fine-tuning.
    #[arg(long, default_value_t = 0)]
    pub tune_frozen_layers: usize,
    /// Save the fine-tuned encoder here (serve it with `[models] embedding_weights = "…"`).
    #[arg(long)]
    pub save_encoder: Option<PathBuf>,
    /// Load these fine-tuned encoder weights instead of tuning (an earlier run's `--save-encoder`).
    #[arg(long)]
    pub tuned_encoder: Option<PathBuf>,
    /// Share of the training queries the encoder is tuned on (the first ones). Below 1, the ranker
    /// is trained twice over the tuned engine: on all training queries, and only on the ones the
    /// encoder did not see, whose tuned cosines are as good as they will be on new queries.
    #[arg(long, default_value_t = 1.0)]
    pub tune_share: f64,
    /// Unjudged products from each training query's text-index top 30 used as extra hard negatives
    /// when tuning the encoder (at most this many per query, best first); 0 uses judged-poor ones only.
    #[arg(long, default_value_t = 0)]
    pub tune_mined_negatives: usize,
    /// Tune two encoders, on each half of the training queries, and train the ranker on features
    /// from the encoder that did not see each query (removes the tuned cosine's in-sample bias).
    #[arg(long)]
    pub tune_cross_fit: bool,
    #[command(flatten)]
    pub cross: Box<crate::eval_cross::CrossArgs>,
}

impl SearchArgs {
    /// The data set folder and the evaluation's settings (the ranker's depth defaults to the engine's).
    pub(crate) fn into_eval(self, config: &Config) -> anyhow::Result<(PathBuf, SearchEval)> {
        let SearchArgs {
            dataset,
            queries,
            seed,
            cache_dir,
            dump_dir,
            train_queries,
            train_depth,
            ranker_trees,
            ranker_listwise_rounds,
            ranker_listwise_rate,
            ranker_cross_folds,
            ranker_listwise_validation_every,
            ranker_listwise_patience,
            ranker_listwise_truncation,
            ranker_listwise_query_fraction,
            ranker_listwise_feature_fraction,
            ranker_listwise_depth,
            ranker_listwise_min_rows,
            ranker_listwise_context,
            only_tuned_ranker,
            load_ranker,
            save_ranker,
            adapter_epochs,
            save_adapter,
            tune_epochs,
            tune_lr,
            tune_frozen_layers,
            save_encoder,
            tuned_encoder,
            tune_share,
            tune_mined_negatives,
            tune_cross_fit,
            cross,
        } = self;
        anyhow::ensure!(
            tune_share > 0.0 && tune_share <= 1.0,
            "--tune-share must be in (0, 1], got {tune_share}"
        );
        anyhow::ensure!(
            !tune_cross_fit || tune_share == 1.0 || tune_share == 0.5,
            "--tune-cross-fit tunes on halves; --tune-share must be left out or 0.5, got {tune_share}"
        );
        for (flag, share) in [
            (
                "--ranker-listwise-query-fraction",
                ranker_listwise_query_fraction,
            ),
            (
                "--ranker-listwise-feature-fraction",
                ranker_listwise_feature_fraction,
            ),
        ] {
            anyhow::ensure!(
                share > 0.0 && share <= 1.0,
                "{flag} must be in (0, 1], got {share}"
            );
        }
        let tune_share = if tune_cross_fit { 0.5 } else { tune_share };
        let opts = SearchEval {
            tuning: crate::eval_tune::EncoderTuning {
                epochs: tune_epochs,
                learning_rate: tune_lr,
                frozen_layers: tune_frozen_layers,
                save: save_encoder,
                load: tuned_encoder,
                share: tune_share,
                seed,
                mined_negatives: tune_mined_negatives,
                cross_fit: tune_cross_fit,
            },
            n_queries: queries,
            seed,
            cache_dir,
            dump_dir,
            train_queries,
            ranking: RankerTraining {
                depth: train_depth.unwrap_or(config.search.candidates),
                trees: ranker_trees,
                seed,
                save: save_ranker,
                load: load_ranker,
                listwise: LambdaParams {
                    rounds: ranker_listwise_rounds,
                    learning_rate: ranker_listwise_rate,
                    validation_every: ranker_listwise_validation_every,
                    patience: ranker_listwise_patience,
                    truncation: ranker_listwise_truncation,
                    query_fraction: ranker_listwise_query_fraction,
                    feature_fraction: ranker_listwise_feature_fraction,
                    max_depth: ranker_listwise_depth,
                    min_rows_in_leaf: ranker_listwise_min_rows,
                    seed,
                    ..LambdaParams::default()
                },
                cross_folds: ranker_cross_folds,
                listwise_context: ranker_listwise_context,
            },
            only_tuned_ranker,
            adapter_epochs,
            save_adapter,
            cross,
        };
        Ok((dataset, opts))
    }
}
