//! Configuration: defaults, then a TOML file, then `VITRINE_*` environment variables (double underscore
//! separates sections: `VITRINE_SERVER__ADDR=0.0.0.0:8080`, `VITRINE_STORE__PATH=/var/lib/vitrine/db`).

use figment::{
    providers::{Env, Format, Serialized, Toml},
    Figment,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use vitrine_server::ServerConfig;

/// Where data lives.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite database file.
    pub path: PathBuf,
    /// Read connections.
    pub read_connections: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("vitrine-data/vitrine.db"),
            read_connections: 4,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter, e.g. `info` or `vitrine_server=debug,info`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
        }
    }
}

/// Which backend serves a model capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// The in-process model from the models directory.
    Local,
    /// An OpenAI-compatible endpoint (`[models.openai]`).
    Openai,
    /// Disabled.
    Off,
}

/// Models (`[models]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelsConfig {
    /// Where `vitrine models fetch` installs weights and where they are loaded from.
    pub dir: PathBuf,
    /// Backend for embeddings.
    pub embedding: Backend,
    /// Fine-tuned weights for the local encoder (`vitrine eval search --save-encoder`); unset serves the
    /// installed ones. Changing them makes the vector index rebuild from the catalog.
    pub embedding_weights: Option<PathBuf>,
    /// Backend for text generation.
    pub generation: Backend,
    /// Local LLM instances (prompts generated concurrently).
    pub llm_instances: usize,
    /// Embedding cache capacity (vectors).
    pub embedding_cache: usize,
    /// The remote backend.
    pub openai: vitrine_models::openai::OpenAiConfig,
}

impl Default for ModelsConfig {
    fn default() -> Self {
        Self {
            dir: vitrine_models::default_models_dir(),
            embedding: Backend::Local,
            embedding_weights: None,
            generation: Backend::Local,
            llm_instances: 2,
            embedding_cache: 100_000,
            openai: Default::default(),
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[store]`
    pub store: StoreConfig,
    /// `[server]`
    pub server: ServerConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[models]`
    pub models: ModelsConfig,
    /// `[search]`
    pub search: vitrine_search::SearchConfig,
    /// `[recommend]`
    pub recommend: vitrine_recommend::RecommendConfig,
    /// `[content]`
    pub content: vitrine_content::ContentConfig,
}

impl Config {
    /// Loads defaults ← file (if given) ← environment. A missing explicit file or an unknown key is an error.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                anyhow::bail!("config file {} does not exist", f.display());
            }
            figment = figment.merge(Toml::file(f));
        }
        figment = figment.merge(Env::prefixed("VITRINE_").split("__"));
        figment
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration error: {e}"))
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed by figment.
mod tests {
    use super::*;

    #[test]
    fn file_then_env_override() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("v.toml", "[server]\naddr = \"127.0.0.1:9000\"\nmax_body_bytes = 1000\n[store]\npath = \"x.db\"")?;
            jail.set_env("VITRINE_SERVER__ADDR", "127.0.0.1:9100");
            let c = Config::load(Some(Path::new("v.toml"))).map_err(|e| e.to_string())?;
            assert_eq!(c.server.addr.port(), 9100);
            assert_eq!(c.server.max_body_bytes, 1000);
            assert_eq!(c.store.path, PathBuf::from("x.db"));
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("v.toml", "[server]\nadress = \"x\"")?;
            assert!(Config::load(Some(Path::new("v.toml"))).is_err());
            Ok(())
        });
    }
}
