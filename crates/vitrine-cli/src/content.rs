//! `vitrine content …`: governed product copy from the command line.

use crate::config::{Backend, Config};

/// The generation model's version as recorded in every version's attribution: the pinned package version
/// for the local model, `remote` for an OpenAI-compatible endpoint.
pub fn model_version(config: &Config) -> String {
    match config.models.generation {
        Backend::Local => {
            let manifest = vitrine_models::Manifest::builtin();
            manifest
                .model(vitrine_models::llm::MODEL_NAME)
                .map(|m| m.version.clone())
                .unwrap_or_else(|| "unknown".into())
        }
        Backend::Openai => "remote".into(),
        Backend::Off => "off".into(),
    }
}
