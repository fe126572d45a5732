//! Best-of-N copy writing: N candidates from the configured backend, each validated, the best kept; when
//! every candidate has an error-level finding, another round runs with those findings in the prompt.

use crate::config::ContentConfig;
use crate::copy::{self, ProductCopy};
use crate::prompt;
use crate::report::ValidationReport;
use crate::validate::validate;
use crate::ContentError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Instant;
use vitrine_core::Product;
use vitrine_models::{GenerateOptions, Generator};

/// Who and what made a version: enough to reproduce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// `local`, `openai`, or `human`.
    pub backend: String,
    /// Model name (`smollm2-135m-instruct`, the remote model, or the editor's name).
    pub model: String,
    /// Model package version (or `remote`).
    pub model_version: String,
    /// Prompt template version.
    pub template_version: String,
    /// Decoding parameters of the kept candidate.
    pub parameters: Option<GenerateOptions>,
    /// Seed of the kept candidate.
    pub seed: Option<u64>,
    /// sha256 of the product snapshot the copy was written from.
    pub input_hash: String,
    /// Candidates generated in all rounds.
    pub candidates: usize,
    /// Rounds (1 + regenerations used).
    pub rounds: usize,
}

/// One generated candidate with its validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Candidate {
    /// The copy.
    pub copy: ProductCopy,
    /// Its validation.
    pub report: ValidationReport,
    /// Seed it was sampled with.
    pub seed: u64,
    /// Model's raw reply.
    pub raw: String,
}

/// The result of writing one product.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Written {
    /// The kept candidate.
    pub best: Candidate,
    /// Every candidate in generation order (for reports).
    pub all: Vec<Candidate>,
    /// Attribution of the kept candidate.
    pub attribution: Attribution,
    /// Wall time, ms.
    pub elapsed_ms: f64,
}

/// sha256 over the product's content fields: the snapshot a version was written from.
pub fn input_hash(p: &Product) -> String {
    let snapshot = serde_json::json!({
        "id": p.id, "title": p.title, "description": p.description, "brand": p.brand,
        "category": p.category, "attributes": p.attributes, "price": p.price.to_string(),
    });
    let digest = Sha256::digest(snapshot.to_string().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes copy with a generation backend.
#[derive(Clone)]
pub struct CopyWriter {
    generator: Arc<dyn Generator>,
    backend: String,
    model_version: String,
    config: ContentConfig,
}

fn rank(c: &Candidate) -> (bool, i64) {
    (c.report.has_errors(), -(c.report.confidence * 1e6) as i64)
}

impl CopyWriter {
    /// A writer over `generator`; `backend` and `model_version` are recorded in every attribution.
    pub fn new(
        generator: Arc<dyn Generator>,
        backend: &str,
        model_version: &str,
        config: ContentConfig,
    ) -> Self {
        Self {
            generator,
            backend: backend.into(),
            model_version: model_version.into(),
            config,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ContentConfig {
        &self.config
    }

    /// Writes `product`'s copy: best of `candidates` (default from config) by validation.
    pub async fn write(
        &self,
        product: &Product,
        keywords: &[String],
        candidates: Option<usize>,
    ) -> Result<Written, ContentError> {
        if product.title.trim().is_empty() && product.description.trim().is_empty() {
            return Err(ContentError::InvalidInput(format!(
                "product {} has neither a title nor a description: there is nothing to write copy from",
                product.id
            )));
        }
        let started = Instant::now();
        let n = candidates.unwrap_or(self.config.candidates).clamp(1, 16);
        let mut all: Vec<Candidate> = Vec::new();
        let mut feedback: Vec<String> = Vec::new();
        let mut rounds = 0;
        for round in 0..=self.config.regenerations {
            rounds = round + 1;
            let messages = prompt::messages(product, &self.config.voice, keywords, &feedback);
            let seeds: Vec<u64> = (0..n)
                .map(|i| self.config.seed + (round * n + i) as u64)
                .collect();
            let options = seeds.iter().map(|&seed| self.options(seed)).collect();
            // One call for all candidates: the local backend reads the prompt once and decodes them
            // together.
            let generations = self.generator.generate_many(messages, options).await?;
            for (seed, generation) in seeds.into_iter().zip(generations) {
                let copy = copy::assemble(product, &generation.text, &self.config.voice);
                let report = validate(product, &copy, &self.config.voice, keywords);
                all.push(Candidate {
                    copy,
                    report,
                    seed,
                    raw: generation.text,
                });
            }
            let best = all.iter().min_by_key(|c| rank(c));
            match best {
                Some(b) if b.report.has_errors() => feedback = b.report.feedback_lines(6),
                _ => break,
            }
        }
        let best = all
            .iter()
            .min_by_key(|c| rank(c))
            .cloned()
            .ok_or_else(|| ContentError::InvalidInput("no candidate was generated".into()))?;
        let attribution = Attribution {
            backend: self.backend.clone(),
            model: self.generator.model_name().to_string(),
            model_version: self.model_version.clone(),
            template_version: self.config.template_version.clone(),
            parameters: Some(self.options(best.seed)),
            seed: Some(best.seed),
            input_hash: input_hash(product),
            candidates: all.len(),
            rounds,
        };
        Ok(Written {
            best,
            all,
            attribution,
            elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    fn options(&self, seed: u64) -> GenerateOptions {
        GenerateOptions {
            max_tokens: self.config.max_tokens,
            temperature: self.config.temperature,
            seed,
            banned: self.config.voice.banned.clone(),
            ..GenerateOptions::default()
        }
    }
}
