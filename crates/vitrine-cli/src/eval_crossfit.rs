//! The learned ranker over a cross-fitted encoder, for `vitrine eval search --tune-cross-fit`.
//!
//! The ranker learns how far to trust the tuned encoder's cosine from its training queries. When the
//! encoder was tuned on those same queries, their cosines are better than any new query's will be,
//! and the ranker learns to over-trust them. Cross-fitting removes that bias without giving up half
//! the ranker's training queries: encoder A is tuned on the first half of the training queries and
//! encoder B on the second; the second half's ranker features come from A and the first half's from
//! B, so no training query is featurised by an encoder that saw it. Engine A then serves the
//! evaluated queries, which neither encoder saw.

use crate::config::Config;
use crate::eval::{RankerTraining, Table};
use crate::eval_tune::{tuned_engine, EncoderTuning, EvalCatalog};
use std::path::{Path, PathBuf};
use vitrine_search::eval::JudgedQuery;
use vitrine_search::{Retrieval, SearchConfig, SearchEngine};

/// What the cross-fitted ranker row needs: the untuned engine (to mine negatives from), engine A
/// (tuned on `first`), and the two halves of the training queries.
pub(crate) struct CrossFit<'a> {
    pub config: &'a Config,
    pub search_config: SearchConfig,
    pub base: &'a SearchEngine,
    pub tuned: &'a SearchEngine,
    pub first: &'a [JudgedQuery],
    pub second: &'a [JudgedQuery],
    pub catalog: &'a EvalCatalog<'a>,
    pub tuning: &'a EncoderTuning,
}

/// Tunes encoder B on the second half (or loads it next to A's weights), prints its retriever's row,
/// then trains and prints the ranker over both encoders' out-of-sample features.
pub(crate) async fn ranker_row(
    fit: CrossFit<'_>,
    queries: &[JudgedQuery],
    ranking: &RankerTraining,
    table: &mut Table,
) -> anyhow::Result<()> {
    let tuning_b = EncoderTuning {
        save: fit.tuning.save.as_deref().map(second_weights),
        load: fit.tuning.load.as_deref().map(second_weights),
        ..fit.tuning.clone()
    };
    let (other, _) = tuned_engine(
        fit.config,
        fit.search_config,
        fit.base,
        fit.second,
        fit.catalog,
        &tuning_b,
    )
    .await?;
    let name = "vectors only, encoder B (tuned on the other half)";
    table
        .row(&other, queries, name, Retrieval::Semantic, None)
        .await?;
    let parts = [(&other, fit.first), (fit.tuned, fit.second)];
    let name = format!(
        "hybrid + tuned encoder + learned ranker, cross-fitted ({} + {} queries, each featurised by the encoder that did not see it)",
        fit.first.len(),
        fit.second.len()
    );
    table
        .ranker_row_over(fit.tuned, queries, &parts, ranking, &name)
        .await
}

/// Where encoder B's weights go, next to A's: `enc.safetensors` → `enc-b.safetensors`.
fn second_weights(a: &Path) -> PathBuf {
    let stem = a.file_stem().and_then(|s| s.to_str()).unwrap_or("encoder");
    let name = match a.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("{stem}-b.{ext}"),
        None => format!("{stem}-b"),
    };
    a.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_b_is_saved_beside_encoder_a() {
        assert_eq!(
            second_weights(Path::new("/c/enc.safetensors")),
            PathBuf::from("/c/enc-b.safetensors")
        );
        assert_eq!(second_weights(Path::new("enc")), PathBuf::from("enc-b"));
    }
}
