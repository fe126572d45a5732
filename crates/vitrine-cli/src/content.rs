//! `vitrine content …`: governed product copy from the command line.
//!
//! `generate` creates a job (or resumes the unfinished job made from the same selection), then runs it
//! in-process with a progress bar and ETA. Each product's version and its "done" mark commit together, so
//! Ctrl-C or a crash loses at most the product in flight and never duplicates one.

use crate::config::{Backend, Config};
use std::sync::Arc;
use vitrine_content::{jobs::Jobs, workflow::Workflow, CopyWriter};
use vitrine_models::Generator;
use vitrine_server::ContentServices;
use vitrine_store::{ContentStore, SqliteStore, Store};

/// The workflow and job runner over `store`; jobs need a generation backend (without one they are
/// accepted and wait, and the reason is logged).
pub fn services(
    config: &Config,
    store: Arc<SqliteStore>,
    generator: Result<Arc<dyn Generator>, String>,
) -> Result<ContentServices, String> {
    config.content.check()?;
    let workflow = Workflow::new(
        store.clone() as Arc<dyn Store>,
        store.clone() as Arc<dyn ContentStore>,
        config.content.clone(),
    );
    let writer = match generator {
        Ok(g) => Some(CopyWriter::new(
            g,
            &format!("{:?}", config.models.generation).to_lowercase(),
            &model_version(config),
            config.content.clone(),
        )),
        Err(reason) => {
            tracing::warn!("content generation unavailable: {reason}");
            None
        }
    };
    let jobs = Jobs::new(
        store.clone() as Arc<dyn Store>,
        store as Arc<dyn ContentStore>,
        workflow.clone(),
        writer,
    );
    Ok(ContentServices { workflow, jobs })
}

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

/// `vitrine content …` subcommands.
#[derive(clap::Subcommand)]
pub enum ContentWhat {
    /// Write copy for a set of products (resumable: rerunning the same command continues where it stopped).
    Generate {
        /// Every product.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Products by id (comma-separated).
        #[arg(long, value_delimiter = ',')]
        ids: Vec<String>,
        /// Filter: category path prefix.
        #[arg(long)]
        category: Option<String>,
        /// Filter: exact brand.
        #[arg(long)]
        brand: Option<String>,
        /// Filter: title contains.
        #[arg(long)]
        title_contains: Option<String>,
        /// Filter: only products without any copy yet.
        #[arg(long)]
        missing: bool,
        /// At most this many products.
        #[arg(long)]
        limit: Option<usize>,
        /// Candidates per product (best-of-N); default from `[content] candidates`.
        #[arg(long)]
        candidates: Option<usize>,
        /// SEO keywords (comma-separated).
        #[arg(long, value_delimiter = ',')]
        keywords: Vec<String>,
        /// Resume this job id instead of matching by selection.
        #[arg(long)]
        resume: Option<String>,
    },
    /// Versions waiting for review, by business impact.
    Queue {
        /// Most entries.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

/// Runs a `vitrine content` command.
pub async fn run(
    what: ContentWhat,
    config: &Config,
    store: Arc<SqliteStore>,
) -> anyhow::Result<()> {
    match what {
        ContentWhat::Generate {
            all,
            ids,
            category,
            brand,
            title_contains,
            missing,
            limit,
            candidates,
            keywords,
            resume,
        } => {
            let filtered = all
                || category.is_some()
                || brand.is_some()
                || title_contains.is_some()
                || missing
                || limit.is_some();
            if ids.is_empty() && !filtered && resume.is_none() {
                anyhow::bail!("choose products: --all, --ids, or a filter (--category, --brand, --title-contains, --missing, --limit)");
            }
            let spec = vitrine_content::jobs::JobSpec {
                product_ids: ids.clone(),
                filter: (ids.is_empty()).then_some(vitrine_content::jobs::ProductFilter {
                    category,
                    brand,
                    title_contains,
                    missing_copy: missing,
                    limit,
                }),
                candidates,
                keywords,
            };
            let generator = crate::models::backends(config)
                .generator
                .map_err(|e| anyhow::anyhow!("generation backend: {e}"))?;
            let s = services(config, store, Ok(generator)).map_err(|e| anyhow::anyhow!(e))?;
            let job = match resume {
                Some(id) => s.jobs.get(&id).await?,
                None => match s.jobs.unfinished_with_spec(&spec).await? {
                    Some(j) => j,
                    None => s.jobs.create(&spec).await?,
                },
            };
            if job.done + job.failed > 0 {
                eprintln!(
                    "resuming {}: {} of {} products already done",
                    job.id,
                    job.done + job.failed,
                    job.total
                );
            } else {
                eprintln!("job {}: {} products", job.id, job.total);
            }
            let pb = crate::progress::items(job.total as u64, "products");
            pb.set_position((job.done + job.failed) as u64);
            let bar = pb.clone();
            let progress: vitrine_content::jobs::Progress =
                Arc::new(move |done, failed, _| bar.set_position((done + failed) as u64));
            let finished = s.jobs.run(&job.id, Some(progress)).await?;
            pb.finish_and_clear();
            let published = s.workflow.review_queue(usize::MAX).await?.len();
            println!(
                "job {}: {} done, {} failed of {} ({} versions now wait for review){}",
                finished.id,
                finished.done,
                finished.failed,
                finished.total,
                published,
                finished.error.map(|e| format!("; {e}")).unwrap_or_default()
            );
            Ok(())
        }
        ContentWhat::Queue { limit } => {
            let s = services(config, store, Err("not needed".into()))
                .map_err(|e| anyhow::anyhow!(e))?;
            for e in s.workflow.review_queue(limit).await? {
                println!(
                    "{:>10.2}  {}  v{}  confidence {:.2}  ({} views)",
                    e.impact,
                    e.version.product_id,
                    e.version.version,
                    e.version.confidence,
                    e.views
                );
            }
            Ok(())
        }
    }
}
