//! A cross-encoder: one transformer pass over the query and a product text together, giving a relevance
//! score.
//!
//! Why: the sentence encoder embeds the query and the product apart, so it cannot see which query word
//! lines up with which title word ("3/4 in." against "1/2 in.", "for men" against "women's"); the learned
//! ranker sees such matches only through hand-made overlap features. Reading both texts in one pass lets
//! attention compare them directly. It costs one forward pass per (query, product) pair, so it re-orders
//! only the top of a list that cheaper stages built.
//!
//! The model is all-MiniLM-L6-v2 fine-tuned for the task ([`crate::embed::tune::cross`]) with a linear
//! head on its pooled vector. It runs on the same packed forward pass as the sentence encoder: the pair is
//! one text, the query, `[SEP]`, then the product text ([`pair_text`]), so serving needs no second
//! implementation of BERT.

use crate::{LocalEmbedder, ModelError};
use candle_core::{safetensors, Device, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// Name of the head's weight vector (one per hidden unit) in a cross-encoder checkpoint.
pub const HEAD_WEIGHT: &str = "cross_head.weight";
/// Name of the head's bias (one value).
pub const HEAD_BIAS: &str = "cross_head.bias";

/// The one text the model reads for a (query, product) pair, in training and in serving alike.
pub fn pair_text(query: &str, product: &str) -> String {
    format!("{} [SEP] {}", query.trim(), product.trim())
}

/// A loaded cross-encoder. Cheap to clone (shared weights).
#[derive(Clone)]
pub struct CrossEncoder {
    encoder: LocalEmbedder,
    head: Vec<f32>,
    bias: f32,
}

impl CrossEncoder {
    /// Loads a checkpoint written by [`crate::embed::tune::cross::train_cross_encoder`], with the
    /// installed encoder's tokenizer and configuration from `models_dir`.
    pub fn load(models_dir: &Path, weights: &Path) -> Result<Self, ModelError> {
        let encoder = LocalEmbedder::load_with_weights(models_dir, Some(weights))?;
        let tensors: HashMap<String, Tensor> = safetensors::load(weights, &Device::Cpu)?;
        let get = |name: &str| {
            tensors.get(name).ok_or_else(|| {
                ModelError::Runtime(format!(
                    "{} is not a cross-encoder checkpoint: it lacks {name}",
                    weights.display()
                ))
            })
        };
        let head = get(HEAD_WEIGHT)?.flatten_all()?.to_vec1::<f32>()?;
        let bias = get(HEAD_BIAS)?.flatten_all()?.to_vec1::<f32>()?;
        let dimension = crate::Embedder::dimension(&encoder);
        if head.len() != dimension || bias.len() != 1 {
            return Err(ModelError::Runtime(format!(
                "cross-encoder head has {} weights and {} biases; the encoder needs {dimension} and 1",
                head.len(),
                bias.len()
            )));
        }
        Ok(Self {
            encoder,
            head,
            bias: bias[0],
        })
    }

    /// Scores each product text against `query` (higher is more relevant; comparable within one query),
    /// on the calling thread with the matrix work spread over the cores.
    pub fn score_blocking(&self, query: &str, products: &[String]) -> Result<Vec<f32>, ModelError> {
        if products.is_empty() {
            return Ok(Vec::new());
        }
        let texts: Vec<String> = products.iter().map(|p| pair_text(query, p)).collect();
        let pooled = self.encoder.embed_blocking(&texts)?;
        Ok(pooled.iter().map(|v| self.apply_head(v)).collect())
    }

    fn apply_head(&self, pooled: &[f32]) -> f32 {
        pooled
            .iter()
            .zip(&self.head)
            .map(|(x, w)| x * w)
            .sum::<f32>()
            + self.bias
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_text_separates_query_and_product() {
        assert_eq!(
            pair_text(" drill ", "DEWALT 20V Drill "),
            "drill [SEP] DEWALT 20V Drill"
        );
    }
}
