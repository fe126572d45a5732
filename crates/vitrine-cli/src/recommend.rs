//! Starting recommendations inside `vitrine serve` / `vitrine demo` (load, followers, rules reload,
//! registry watch, scheduled retraining), `vitrine train` and `vitrine models-rec …` registry commands.

use crate::config::Config;
use crate::progress;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use vitrine_recommend::rules::RecRules;
use vitrine_recommend::{ContentNeighbours, RecommendEngine};
use vitrine_search::{normalize::doc_key, SearchEngine};
use vitrine_store::{RecStore, SqliteStore};

/// Content similarity from the search engine's vector index.
struct SearchContent(Arc<SearchEngine>);

impl ContentNeighbours for SearchContent {
    fn similar(&self, sku: &str, k: usize) -> Vec<(String, f32)> {
        let Some(vectors) = self.0.vectors() else {
            return Vec::new();
        };
        let key = doc_key(sku);
        let Some(query) = vectors.get(key) else {
            return Vec::new();
        };
        let hits = vectors.search(&query, k + 1, None).unwrap_or_default();
        hits.into_iter()
            .filter(|(k2, _)| *k2 != key)
            .filter_map(|(k2, cos)| self.0.doc(k2).map(|d| (d.id.clone(), cos)))
            .take(k)
            .collect()
    }
}

/// Where model versions are written by default: beside the database.
pub fn models_dir(config: &Config) -> PathBuf {
    config.recommend.models_dir.clone().unwrap_or_else(|| {
        let parent = config
            .store
            .path
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        parent.join("recommend")
    })
}

fn read_rules(path: &std::path::Path) -> Result<RecRules, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    RecRules::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Loads the engine from the store and starts its background tasks; failures become the routes' 503 reason.
pub async fn start(
    config: &Config,
    store: Arc<SqliteStore>,
    search: Option<Arc<SearchEngine>>,
    changed: Arc<tokio::sync::Notify>,
) -> Result<Arc<RecommendEngine>, String> {
    if !config.recommend.enabled {
        return Err("recommendations are disabled ([recommend] enabled = false)".into());
    }
    let engine = RecommendEngine::new(
        config.recommend.clone(),
        store.clone() as Arc<dyn RecStore>,
        models_dir(config),
    );
    if let Some(path) = &config.recommend.rules {
        engine.set_rules(read_rules(path)?);
    }
    if let Some(search) = search {
        engine.set_content(Arc::new(SearchContent(search)));
    }
    engine.set_snapshot_path(models_dir(config).join("signals.snapshot"));
    let started = std::time::Instant::now();
    let report = engine
        .load_from(store.as_ref())
        .await
        .map_err(|e| e.to_string())?;
    tracing::info!(
        products = report.products,
        events_applied = report.events_applied,
        snapshot_seq = ?report.snapshot_seq,
        seconds = started.elapsed().as_secs_f64(),
        version = ?engine.serving_version(),
        "recommendations ready"
    );
    spawn_tasks(
        engine.clone(),
        store,
        changed,
        config.recommend.rules.clone(),
    );
    Ok(engine)
}

fn spawn_tasks(
    engine: Arc<RecommendEngine>,
    store: Arc<SqliteStore>,
    changed: Arc<tokio::sync::Notify>,
    rules: Option<PathBuf>,
) {
    engine.clone().spawn_catalog_follower(
        store.clone() as Arc<dyn vitrine_store::Store>,
        changed,
        Duration::from_secs(1),
    );
    // Registry watch: a promotion or rollback made by the CLI (another process) takes effect here.
    let (e, s) = (engine.clone(), store.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if let Ok(Some(active)) = s.active_model().await {
                if e.serving_version() != Some(active.version) {
                    if let Err(err) = e.serve_version(active.version).await {
                        tracing::warn!(error = %err, version = active.version, "could not load the active model");
                    }
                }
            }
        }
    });
    // Rules reload: re-read on change; a bad file keeps the old rules.
    if let Some(path) = rules {
        let e = engine.clone();
        tokio::spawn(async move {
            let mut last = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let now = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                if now != last {
                    last = now;
                    match read_rules(&path) {
                        Ok(r) => {
                            e.set_rules(r);
                            tracing::info!(path = %path.display(), "recommendation rules reloaded");
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "recommendation rules refused; keeping the old ones")
                        }
                    }
                }
            }
        });
    }
    // Scheduled retraining.
    if let Some(hours) = engine.config().train_every_hours.filter(|h| *h > 0.0) {
        tokio::spawn(async move {
            let period = Duration::from_secs_f64(hours * 3600.0);
            loop {
                tokio::time::sleep(period).await;
                match vitrine_server::run_training(&engine, store.as_ref(), store.as_ref()).await {
                    Ok(v) => tracing::info!(version = v, "scheduled training finished"),
                    Err(err) => tracing::warn!(error = %err, "scheduled training failed"),
                }
            }
        });
    }
}

/// `vitrine train`: retrains everything from the logs with a progress bar and registers a version.
pub async fn train(config: &Config, store: &SqliteStore, promote: bool) -> anyhow::Result<()> {
    let bar = progress::items(1000, "training");
    let started = std::time::Instant::now();
    let outcome = vitrine_recommend::train::train(
        store,
        store,
        &config.recommend,
        &models_dir(config),
        chrono::Utc::now(),
        &|stage, done| {
            bar.set_message(stage.to_string());
            bar.set_position((done.clamp(0.0, 1.0) * 1000.0) as u64);
        },
    )
    .await?;
    bar.finish_and_clear();
    println!(
        "trained version {} in {:.1} s\n{}",
        outcome.version,
        started.elapsed().as_secs_f64(),
        serde_json::to_string_pretty(&outcome.manifest["metrics"])?
    );
    if promote {
        store.activate_model(outcome.version).await?;
        println!(
            "version {} is now active (a running server switches within a second)",
            outcome.version
        );
    }
    Ok(())
}

/// `vitrine recommend-models …`: list, promote, roll back.
pub async fn registry(store: &SqliteStore, action: RegistryAction) -> anyhow::Result<()> {
    match action {
        RegistryAction::List => {
            let active = store.active_model().await?;
            for v in store.model_versions().await? {
                let mark = if active.as_ref().is_some_and(|a| a.version == v.version) {
                    "*"
                } else {
                    " "
                };
                println!(
                    "{mark} v{:<4} {}  metrics {}",
                    v.version,
                    v.created_at.format("%Y-%m-%d %H:%M:%S"),
                    v.manifest["metrics"]
                );
            }
        }
        RegistryAction::Promote { version } => {
            store.activate_model(version).await?.ok_or_else(|| {
                anyhow::anyhow!(
                    "model version {version} does not exist (see `vitrine recommend-models list`)"
                )
            })?;
            println!("version {version} is now active");
        }
        RegistryAction::Rollback => {
            let active = store.active_model().await?;
            let previous = active.and_then(|a| a.previous).ok_or_else(|| {
                anyhow::anyhow!("there is no earlier promoted version to roll back to")
            })?;
            store.activate_model(previous).await?;
            println!("rolled back to version {previous}");
        }
    }
    Ok(())
}

/// Registry commands.
#[derive(clap::Subcommand)]
pub enum RegistryAction {
    /// Every version, newest first (`*` marks the active one).
    List,
    /// Serve this version (a running server switches within a second).
    Promote {
        /// Version number.
        version: i64,
    },
    /// Go back to the version active before the current one.
    Rollback,
}
