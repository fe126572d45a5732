//! `vitrine models …` and the construction of model backends from the configuration.

use crate::config::{Backend, Config};
use crate::ModelsWhat;
use anyhow::Context;
use std::sync::Arc;
use vitrine_models::{
    embed::{BatchingEmbedder, CachedEmbedder},
    fetch,
    manifest::Manifest,
    openai::OpenAiBackend,
    ChatMessage, Embedder, GenerateOptions, Generator, LocalEmbedder, LocalGenerator,
};

/// The model backends a server or command uses; `None` with the reason when a capability is unavailable.
pub struct Backends {
    /// Embeddings.
    pub embedder: Result<Arc<dyn Embedder>, String>,
    /// Generation.
    pub generator: Result<Arc<dyn Generator>, String>,
    /// The local embedder's counters, when it is local.
    pub local_embedder: Option<LocalEmbedder>,
}

/// Builds the backends the configuration asks for; failures become reasons, not errors, so the server can
/// still serve the catalog and events while explaining how to enable models.
pub fn backends(config: &Config) -> Backends {
    let m = &config.models;
    let mut local_embedder = None;
    let embedder: Result<Arc<dyn Embedder>, String> = match m.embedding {
        Backend::Off => Err("embeddings are disabled ([models] embedding = \"off\")".into()),
        Backend::Local => {
            match LocalEmbedder::load_with_weights(&m.dir, m.embedding_weights.as_deref()) {
                Ok(e) => {
                    local_embedder = Some(e.clone());
                    // Cache first (hits never queue), then one batching worker in front of the model.
                    Ok(Arc::new(CachedEmbedder::new(
                        Arc::new(BatchingEmbedder::new(Arc::new(e))),
                        m.embedding_cache,
                    )))
                }
                Err(e) => Err(e.to_string()),
            }
        }
        Backend::Openai => OpenAiBackend::new(m.openai.clone())
            .map(|b| Arc::new(b) as Arc<dyn Embedder>)
            .map_err(|e| e.to_string()),
    };
    let generator: Result<Arc<dyn Generator>, String> = match m.generation {
        Backend::Off => Err("generation is disabled ([models] generation = \"off\")".into()),
        Backend::Local => LocalGenerator::load(&m.dir, m.llm_instances)
            .map(|g| Arc::new(g) as Arc<dyn Generator>)
            .map_err(|e| e.to_string()),
        Backend::Openai => OpenAiBackend::new(m.openai.clone())
            .map(|b| Arc::new(b) as Arc<dyn Generator>)
            .map_err(|e| e.to_string()),
    };
    Backends {
        embedder,
        generator,
        local_embedder,
    }
}

pub async fn run(what: ModelsWhat, config: &Config) -> anyhow::Result<()> {
    match what {
        ModelsWhat::Fetch => {
            let dir = config.models.dir.clone();
            let outcome = tokio::task::spawn_blocking(move || {
                fetch::fetch_all(&Manifest::builtin(), &dir, |line| eprintln!("{line}"))
            })
            .await??;
            eprintln!(
                "{} model(s) ready in {}",
                outcome.len(),
                config.models.dir.display()
            );
            Ok(())
        }
        ModelsWhat::List => {
            for spec in &Manifest::builtin().models {
                let state = match fetch::verify(&config.models.dir, spec) {
                    Ok(_) => "installed, verified".to_string(),
                    Err(e) => e.to_string(),
                };
                println!(
                    "{:<24} {:<10} {}=={}  [{}]  {}",
                    spec.name, spec.kind, spec.package, spec.version, spec.licence, state
                );
            }
            Ok(())
        }
        ModelsWhat::Embed { texts } => {
            let embedder = backends_embedder(config)?;
            for (t, v) in texts.iter().zip(embedder.embed(texts.clone()).await?) {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                println!(
                    "{t:?}: dim {} norm {norm:.4} [{:.4}, {:.4}, {:.4}, …]",
                    v.len(),
                    v[0],
                    v[1],
                    v[2]
                );
            }
            Ok(())
        }
        ModelsWhat::Generate {
            prompt,
            max_tokens,
            temperature,
            seed,
            ban,
        } => {
            let generator = backends(config).generator.map_err(anyhow::Error::msg)?;
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let printer = tokio::spawn(async move {
                use std::io::Write;
                while let Some(delta) = rx.recv().await {
                    print!("{delta}");
                    let _ = std::io::stdout().flush();
                }
            });
            let options = GenerateOptions {
                max_tokens,
                temperature,
                seed,
                banned: ban,
                ..Default::default()
            };
            let g = generator
                .generate(vec![ChatMessage::new("user", prompt)], options, Some(tx))
                .await?;
            printer.await?;
            println!();
            eprintln!(
                "[{} prompt + {} completion tokens, first token {:.0} ms, {:.1} tokens/s, finish: {:?}]",
                g.prompt_tokens,
                g.completion_tokens,
                g.time_to_first_token_ms,
                g.completion_tokens as f64 / (g.total_ms / 1000.0).max(1e-9),
                g.finish_reason
            );
            Ok(())
        }
    }
}

fn backends_embedder(config: &Config) -> anyhow::Result<Arc<dyn Embedder>> {
    let m = &config.models;
    Ok(match m.embedding {
        Backend::Openai => Arc::new(OpenAiBackend::new(m.openai.clone())?),
        _ => Arc::new(LocalEmbedder::load(&m.dir).context("loading the local embedder")?),
    })
}
