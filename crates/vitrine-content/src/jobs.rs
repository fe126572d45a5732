//! Generation jobs: a set of products chosen by id or filter, stored with one row per product, so a job
//! interrupted at any point (crash, Ctrl-C, a backend that times out) resumes with exactly the products not
//! yet done: a product's version and its "done" mark are written in one transaction.

use crate::workflow::Workflow;
use crate::{ContentError, CopyWriter};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use vitrine_models::ModelError;
use vitrine_store::{ContentJob, ContentStore, ProductQuery, Store};

/// Attempts per product before it is marked failed (backend errors are retried with backoff).
pub const MAX_ATTEMPTS: i64 = 4;
/// Most products one job may hold.
pub const MAX_JOB_PRODUCTS: usize = 100_000;

/// Which products a job covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductFilter {
    /// Category path prefix.
    pub category: Option<String>,
    /// Exact brand.
    pub brand: Option<String>,
    /// Title contains (case-insensitive).
    pub title_contains: Option<String>,
    /// Only products without any copy version yet.
    #[serde(default)]
    pub missing_copy: bool,
    /// At most this many products.
    pub limit: Option<usize>,
}

/// A job request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Products by id.
    #[serde(default)]
    pub product_ids: Vec<String>,
    /// Or by filter (`all` = an empty filter).
    pub filter: Option<ProductFilter>,
    /// Candidates per product (default from config).
    pub candidates: Option<usize>,
    /// SEO keywords (default: the store's frequent search terms matching the product, then config).
    #[serde(default)]
    pub keywords: Vec<String>,
}

/// Progress callback: (done, failed, total).
pub type Progress = Arc<dyn Fn(i64, i64, i64) + Send + Sync>;

/// Creates and runs jobs.
#[derive(Clone)]
pub struct Jobs {
    products: Arc<dyn Store>,
    content: Arc<dyn ContentStore>,
    workflow: Workflow,
    writer: Option<CopyWriter>,
    wake: Arc<Notify>,
    retry_base: Duration,
}

impl Jobs {
    /// Jobs over the stores; `writer` is `None` when no generation backend is configured (jobs are then
    /// accepted but wait).
    pub fn new(
        products: Arc<dyn Store>,
        content: Arc<dyn ContentStore>,
        workflow: Workflow,
        writer: Option<CopyWriter>,
    ) -> Self {
        Self {
            products,
            content,
            workflow,
            writer,
            wake: Arc::new(Notify::new()),
            retry_base: Duration::from_secs(1),
        }
    }

    /// Shorter backoff between retries (tests).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    /// Resolves the spec's products and stores the job (queued).
    pub async fn create(&self, spec: &JobSpec) -> Result<ContentJob, ContentError> {
        let ids = self.resolve(spec).await?;
        if ids.is_empty() {
            return Err(ContentError::InvalidInput(
                "the job selects no products".into(),
            ));
        }
        let id = format!("job-{}", uuid_like());
        let job = self
            .content
            .create_content_job(&id, &serde_json::to_value(spec).unwrap_or_default(), &ids)
            .await?;
        self.wake.notify_one();
        Ok(job)
    }

    async fn resolve(&self, spec: &JobSpec) -> Result<Vec<String>, ContentError> {
        if let Some(n) = spec.candidates {
            if n == 0 || n > 16 {
                return Err(ContentError::InvalidInput(
                    "candidates must be 1 to 16".into(),
                ));
            }
        }
        match (&spec.product_ids[..], &spec.filter) {
            ([], None) => Err(ContentError::InvalidInput(
                "give product_ids or a filter".into(),
            )),
            ([_, ..], Some(_)) => Err(ContentError::InvalidInput(
                "give product_ids or a filter, not both".into(),
            )),
            (ids, None) => {
                if ids.len() > MAX_JOB_PRODUCTS {
                    return Err(ContentError::InvalidInput(format!(
                        "at most {MAX_JOB_PRODUCTS} products per job"
                    )));
                }
                let mut missing = Vec::new();
                for id in ids {
                    if self.products.get_product(id).await?.is_none() {
                        missing.push(id.clone());
                    }
                }
                if !missing.is_empty() {
                    return Err(ContentError::NotFound(format!(
                        "products {}",
                        missing.join(", ")
                    )));
                }
                let mut ids = ids.to_vec();
                ids.dedup();
                Ok(ids)
            }
            ([], Some(f)) => {
                let limit = f.limit.unwrap_or(MAX_JOB_PRODUCTS).min(MAX_JOB_PRODUCTS);
                let mut out = Vec::new();
                let mut query = ProductQuery {
                    category: f.category.clone(),
                    brand: f.brand.clone(),
                    title_contains: f.title_contains.clone(),
                    limit: 500,
                    ..ProductQuery::default()
                };
                loop {
                    let page = self.products.list_products(&query).await?;
                    for p in page.items {
                        if out.len() >= limit {
                            break;
                        }
                        if f.missing_copy && !self.content.content_versions(&p.id).await?.is_empty()
                        {
                            continue;
                        }
                        out.push(p.id);
                    }
                    match page.next_cursor {
                        Some(c) if out.len() < limit => query.after = Some(c),
                        _ => break,
                    }
                }
                Ok(out)
            }
        }
    }

    /// Runs one job to the end (or until every remaining product has failed `MAX_ATTEMPTS` times).
    pub async fn run(
        &self,
        job_id: &str,
        progress: Option<Progress>,
    ) -> Result<ContentJob, ContentError> {
        let writer = self.writer.as_ref().ok_or_else(|| {
            ContentError::InvalidInput(
                "no generation backend is configured ([models] generation)".into(),
            )
        })?;
        let job = self
            .content
            .content_job(job_id)
            .await?
            .ok_or_else(|| ContentError::NotFound(format!("job {job_id}")))?;
        let spec: JobSpec = serde_json::from_value(job.spec.clone()).unwrap_or_default();
        self.content
            .set_content_job_status(job_id, "running", None)
            .await?;
        loop {
            let items = self.content.pending_job_items(job_id, 16).await?;
            if items.is_empty() {
                break;
            }
            for item in items {
                let outcome = match self.products.get_product(&item.product_id).await? {
                    None => Err(ContentError::NotFound(format!(
                        "product {} no longer exists",
                        item.product_id
                    ))),
                    Some(product) => match writer
                        .write(&product, &spec.keywords, spec.candidates)
                        .await
                    {
                        Ok(written) => self
                            .workflow
                            .record_generated(&product, &written, Some(job_id))
                            .await
                            .map(|_| ()),
                        Err(e) => Err(e),
                    },
                };
                if let Err(e) = outcome {
                    // Backend trouble is retried (with backoff); bad input is not.
                    let retryable = match &e {
                        ContentError::Model(m) => !matches!(
                            m,
                            ModelError::InvalidInput(_)
                                | ModelError::Missing { .. }
                                | ModelError::Corrupt { .. }
                        ),
                        ContentError::Store(_) => true,
                        _ => false,
                    };
                    let give_up = !retryable || item.attempts + 1 >= MAX_ATTEMPTS;
                    tracing::warn!(job = job_id, product = %item.product_id, error = %e, give_up, "content generation failed");
                    self.content
                        .job_item_failed(job_id, &item.product_id, &e.to_string(), give_up)
                        .await?;
                    if !give_up {
                        tokio::time::sleep(
                            self.retry_base * 2u32.pow(item.attempts.clamp(0, 6) as u32),
                        )
                        .await;
                    }
                }
                if let Some(p) = &progress {
                    if let Some(j) = self.content.content_job(job_id).await? {
                        p(j.done, j.failed, j.total);
                    }
                }
            }
        }
        let job = self
            .content
            .content_job(job_id)
            .await?
            .ok_or_else(|| ContentError::NotFound(format!("job {job_id}")))?;
        let status = if job.failed > 0 && job.done == 0 {
            "failed"
        } else {
            "done"
        };
        let error = (job.failed > 0).then(|| {
            format!(
                "{} of {} products failed; see the job's items",
                job.failed, job.total
            )
        });
        self.content
            .set_content_job_status(job_id, status, error.as_deref())
            .await?;
        Ok(self.content.content_job(job_id).await?.unwrap_or(job))
    }

    /// Runs queued and interrupted jobs forever, oldest first (the server's background worker).
    pub async fn run_forever(self) {
        loop {
            match self.content.unfinished_content_jobs().await {
                Ok(jobs) if !jobs.is_empty() && self.writer.is_some() => {
                    for j in jobs {
                        if let Err(e) = self.run(&j.id, None).await {
                            tracing::error!(job = %j.id, error = %e, "content job stopped");
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                    }
                }
                Ok(_) => {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(30), self.wake.notified()).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "listing content jobs failed");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        }
    }

    /// A job with its counts.
    pub async fn get(&self, id: &str) -> Result<ContentJob, ContentError> {
        self.content
            .content_job(id)
            .await?
            .ok_or_else(|| ContentError::NotFound(format!("job {id}")))
    }

    /// The oldest unfinished job created from exactly this spec (what `vitrine content generate` resumes).
    pub async fn unfinished_with_spec(
        &self,
        spec: &JobSpec,
    ) -> Result<Option<ContentJob>, ContentError> {
        let want = serde_json::to_value(spec).unwrap_or_default();
        Ok(self
            .content
            .unfinished_content_jobs()
            .await?
            .into_iter()
            .find(|j| j.spec == want))
    }
}

fn uuid_like() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    format!(
        "{:08x}{:08x}",
        chrono::Utc::now().timestamp() as u32,
        rng.gen::<u32>()
    )
}
