//! The copy workflow: states, who may move a version where, auto-publishing, human edits with optimistic
//! concurrency, rollback, the review queue by business impact, and a webhook event for every change.
//!
//! States: `draft → in_review → approved → published`, plus `rejected` and `superseded`. A product has at
//! most one published version; publishing another supersedes it. Every change is one atomic
//! [`ContentChange`] with its audit rows and webhook events, refused if the state it was decided on moved.

use crate::copy::ProductCopy;
use crate::validate::validate;
use crate::writer::{Attribution, Written};
use crate::{ContentConfig, ContentError};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use vitrine_core::Product;
use vitrine_store::{
    ContentChange, ContentStore, ContentVersion, NewContentVersion, Store, Transition,
};

/// Workflow states.
pub mod state {
    /// Created, not yet submitted.
    pub const DRAFT: &str = "draft";
    /// Waiting for a reviewer.
    pub const IN_REVIEW: &str = "in_review";
    /// Approved, not yet live.
    pub const APPROVED: &str = "approved";
    /// Live.
    pub const PUBLISHED: &str = "published";
    /// Turned down by a reviewer.
    pub const REJECTED: &str = "rejected";
    /// Replaced by a newer version.
    pub const SUPERSEDED: &str = "superseded";
    /// States still waiting for a decision.
    pub const PENDING: &[&str] = &[DRAFT, IN_REVIEW, APPROVED];
}

/// One entry of the review queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The version waiting.
    pub version: ContentVersion,
    /// views × conversion × margin over the impact window.
    pub impact: f64,
    /// Views in the window.
    pub views: i64,
    /// Smoothed purchase rate per view.
    pub conversion: f64,
    /// Unit margin (price − cost, or price × 30 % when the cost is unknown).
    pub margin: f64,
}

/// The workflow over a product store and a content store.
#[derive(Clone)]
pub struct Workflow {
    products: Arc<dyn Store>,
    content: Arc<dyn ContentStore>,
    config: ContentConfig,
}

fn webhook(
    p: &str,
    version: i64,
    from: Option<&str>,
    to: &str,
    actor: &str,
    reason: Option<&str>,
) -> serde_json::Value {
    serde_json::json!({
        "event": "content.state_changed", "product_id": p, "version": version, "from": from, "to": to,
        "actor": actor, "reason": reason, "at": Utc::now(),
    })
}

/// Adds a state change of `v` to `change` together with its webhook event, so every transition is announced.
fn move_version(
    change: &mut ContentChange,
    v: &ContentVersion,
    to: &str,
    actor: &str,
    reason: &str,
    review: bool,
) {
    change.transitions.push(Transition {
        product_id: v.product_id.clone(),
        version: v.version,
        from: v.state.clone(),
        to: to.into(),
        actor: actor.into(),
        reason: Some(reason.to_string()),
        review,
    });
    change.webhooks.push(webhook(
        &v.product_id,
        v.version,
        Some(&v.state),
        to,
        actor,
        Some(reason),
    ));
}

impl Workflow {
    /// A workflow with the given stores and configuration.
    pub fn new(
        products: Arc<dyn Store>,
        content: Arc<dyn ContentStore>,
        config: ContentConfig,
    ) -> Self {
        Self {
            products,
            content,
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ContentConfig {
        &self.config
    }

    async fn product(&self, id: &str) -> Result<Product, ContentError> {
        self.products
            .get_product(id)
            .await?
            .ok_or_else(|| ContentError::NotFound(format!("product {id}")))
    }

    /// Every version of a product, oldest first.
    pub async fn history(&self, product_id: &str) -> Result<Vec<ContentVersion>, ContentError> {
        Ok(self.content.content_versions(product_id).await?)
    }

    /// The audit trail of a product's copy, oldest first.
    pub async fn audit(
        &self,
        product_id: &str,
    ) -> Result<Vec<vitrine_store::AuditEntry>, ContentError> {
        Ok(self.content.content_audit(product_id).await?)
    }

    /// The live version, if any.
    pub async fn published(
        &self,
        product_id: &str,
    ) -> Result<Option<ContentVersion>, ContentError> {
        Ok(self
            .history(product_id)
            .await?
            .into_iter()
            .find(|v| v.state == state::PUBLISHED))
    }

    async fn version(
        &self,
        product_id: &str,
        version: i64,
    ) -> Result<(ContentVersion, Vec<ContentVersion>), ContentError> {
        let all = self.history(product_id).await?;
        let v = all
            .iter()
            .find(|v| v.version == version)
            .cloned()
            .ok_or_else(|| {
                ContentError::NotFound(format!(
                    "version {version} of product {product_id} (it has {} versions)",
                    all.len()
                ))
            })?;
        Ok((v, all))
    }

    /// Views in the impact window: the long-tail test and the queue's first factor.
    async fn views(&self, product_id: &str) -> Result<i64, ContentError> {
        let since = Utc::now() - Duration::days(self.config.impact_window_days);
        let f = self
            .content
            .product_funnels(&[product_id.to_string()], since)
            .await?;
        Ok(f.first().map(|(_, f)| f.views).unwrap_or(0))
    }

    /// Stores a generated copy: auto-published when confident, error-free and long-tail; otherwise queued
    /// for review. Older pending versions of the product are superseded.
    pub async fn record_generated(
        &self,
        product: &Product,
        written: &Written,
        job_id: Option<&str>,
    ) -> Result<ContentVersion, ContentError> {
        let report = &written.best.report;
        let views = self.views(&product.id).await?;
        let long_tail = views <= self.config.long_tail_max_views as i64;
        let confident =
            report.confidence >= self.config.auto_publish_confidence && !report.has_errors();
        let actor = job_id
            .map(|j| format!("job:{j}"))
            .unwrap_or_else(|| "generator".into());
        let (to, reason) = if confident && long_tail {
            (
                state::PUBLISHED,
                format!(
                    "auto-published: confidence {:.2} ≥ {:.2}, long-tail ({views} views)",
                    report.confidence, self.config.auto_publish_confidence
                ),
            )
        } else {
            let why = if !confident {
                format!(
                    "confidence {:.2}{}",
                    report.confidence,
                    if report.has_errors() {
                        " with error findings"
                    } else {
                        ""
                    }
                )
            } else {
                format!("{views} recent views (not long-tail)")
            };
            (state::IN_REVIEW, format!("needs review: {why}"))
        };
        let insert = NewContentVersion {
            product_id: product.id.clone(),
            state: to.into(),
            copy: serde_json::to_value(&written.best.copy).unwrap_or_default(),
            report: serde_json::to_value(report).unwrap_or_default(),
            confidence: report.confidence,
            attribution: serde_json::to_value(&written.attribution).unwrap_or_default(),
            job_id: job_id.map(str::to_string),
            based_on: None,
            created_by: actor.clone(),
        };
        let existing = self.history(&product.id).await?;
        let latest = existing.last().map(|v| v.version);
        self.insert_superseding(
            insert,
            latest,
            &existing,
            &actor,
            &reason,
            job_id.map(|j| (j.to_string(), product.id.clone())),
        )
        .await
    }

    async fn insert_superseding(
        &self,
        insert: NewContentVersion,
        latest: Option<i64>,
        existing: &[ContentVersion],
        actor: &str,
        reason: &str,
        job_item: Option<(String, String)>,
    ) -> Result<ContentVersion, ContentError> {
        let new_state = insert.state.clone();
        let product_id = insert.product_id.clone();
        let mut change = ContentChange {
            expected_latest: Some(latest),
            job_item,
            ..ContentChange::default()
        };
        for v in existing {
            let replaced = state::PENDING.contains(&v.state.as_str())
                || (new_state == state::PUBLISHED && v.state == state::PUBLISHED);
            if replaced {
                let why = format!("superseded by a newer version ({reason})");
                move_version(&mut change, v, state::SUPERSEDED, actor, &why, false);
            }
        }
        change.webhooks.push(webhook(
            &product_id,
            latest.unwrap_or(0) + 1,
            None,
            &new_state,
            actor,
            Some(reason),
        ));
        change.insert = Some(insert);
        self.content
            .apply_content_change(change)
            .await?
            .ok_or_else(|| ContentError::Conflict("the version was not stored".into()))
    }

    /// A human edit of `base_version` (0: the product has no copy yet): re-validated, stored as a new
    /// version in review. Refused with `Conflict` when another version was stored after `base_version` (no
    /// silent overwrite).
    pub async fn edit(
        &self,
        product_id: &str,
        base_version: i64,
        copy: ProductCopy,
        editor: &str,
        keywords: &[String],
    ) -> Result<ContentVersion, ContentError> {
        if editor.trim().is_empty() {
            return Err(ContentError::InvalidInput(
                "editor must name who made the edit".into(),
            ));
        }
        let product = self.product(product_id).await?;
        let all = self.history(product_id).await?;
        if base_version != 0 && !all.iter().any(|v| v.version == base_version) {
            return Err(ContentError::NotFound(format!(
                "version {base_version} of product {product_id}"
            )));
        }
        let latest = all.last().map(|v| v.version);
        if latest.unwrap_or(0) != base_version {
            return Err(ContentError::Conflict(format!(
                "version {base_version} is not the latest of product {product_id} (latest is {}); reload and edit again",
                latest.unwrap_or(0)
            )));
        }
        let report = validate(&product, &copy, &self.config.voice, keywords);
        let attribution = Attribution {
            backend: "human".into(),
            model: editor.into(),
            model_version: String::new(),
            template_version: self.config.template_version.clone(),
            parameters: None,
            seed: None,
            input_hash: crate::writer::input_hash(&product),
            candidates: 1,
            rounds: 1,
        };
        let insert = NewContentVersion {
            product_id: product_id.into(),
            state: state::IN_REVIEW.into(),
            copy: serde_json::to_value(&copy).unwrap_or_default(),
            report: serde_json::to_value(&report).unwrap_or_default(),
            confidence: report.confidence,
            attribution: serde_json::to_value(&attribution).unwrap_or_default(),
            job_id: None,
            based_on: (base_version > 0).then_some(base_version),
            created_by: editor.into(),
        };
        self.insert_superseding(
            insert,
            latest,
            &all,
            editor,
            &format!("edited from version {base_version}"),
            None,
        )
        .await
    }

    /// Approves a version in review (with who and why); `publish` makes it live at once.
    pub async fn approve(
        &self,
        product_id: &str,
        version: i64,
        reviewer: &str,
        reason: &str,
        publish: bool,
    ) -> Result<ContentVersion, ContentError> {
        Self::need_actor(reviewer, reason)?;
        let (v, all) = self.version(product_id, version).await?;
        if v.state != state::IN_REVIEW && v.state != state::DRAFT {
            return Err(ContentError::Conflict(format!(
                "version {version} is {}, not in review",
                v.state
            )));
        }
        let mut change = ContentChange::default();
        move_version(&mut change, &v, state::APPROVED, reviewer, reason, true);
        if publish {
            let approved = ContentVersion {
                state: state::APPROVED.into(),
                ..v.clone()
            };
            self.add_publish(&mut change, &approved, &all, reviewer, reason);
        }
        self.content.apply_content_change(change).await?;
        Ok(self.version(product_id, version).await?.0)
    }

    fn add_publish(
        &self,
        change: &mut ContentChange,
        v: &ContentVersion,
        all: &[ContentVersion],
        actor: &str,
        reason: &str,
    ) {
        for live in all
            .iter()
            .filter(|x| x.state == state::PUBLISHED && x.version != v.version)
        {
            let why = format!("replaced by version {}", v.version);
            move_version(change, live, state::SUPERSEDED, actor, &why, false);
        }
        move_version(change, v, state::PUBLISHED, actor, reason, false);
    }

    /// Publishes an approved version.
    pub async fn publish(
        &self,
        product_id: &str,
        version: i64,
        actor: &str,
    ) -> Result<ContentVersion, ContentError> {
        let (v, all) = self.version(product_id, version).await?;
        if v.state != state::APPROVED {
            return Err(ContentError::Conflict(format!(
                "version {version} is {}; only approved versions are published",
                v.state
            )));
        }
        let mut change = ContentChange::default();
        self.add_publish(&mut change, &v, &all, actor, "published");
        self.content.apply_content_change(change).await?;
        Ok(self.version(product_id, version).await?.0)
    }

    /// Rejects a pending version (with who and why).
    pub async fn reject(
        &self,
        product_id: &str,
        version: i64,
        reviewer: &str,
        reason: &str,
    ) -> Result<ContentVersion, ContentError> {
        Self::need_actor(reviewer, reason)?;
        let (v, _) = self.version(product_id, version).await?;
        if !state::PENDING.contains(&v.state.as_str()) {
            return Err(ContentError::Conflict(format!(
                "version {version} is {}; only pending versions are rejected",
                v.state
            )));
        }
        let mut change = ContentChange::default();
        move_version(&mut change, &v, state::REJECTED, reviewer, reason, true);
        self.content.apply_content_change(change).await?;
        Ok(self.version(product_id, version).await?.0)
    }

    /// Makes an earlier version live again in one call (the current one is superseded).
    pub async fn rollback(
        &self,
        product_id: &str,
        to_version: i64,
        actor: &str,
        reason: &str,
    ) -> Result<ContentVersion, ContentError> {
        Self::need_actor(actor, reason)?;
        let (v, all) = self.version(product_id, to_version).await?;
        match v.state.as_str() {
            state::PUBLISHED => {
                return Err(ContentError::Conflict(format!(
                    "version {to_version} is already published"
                )))
            }
            state::REJECTED => {
                return Err(ContentError::Conflict(format!(
                    "version {to_version} was rejected; edit it instead of rolling back to it"
                )))
            }
            _ => {}
        }
        let mut change = ContentChange::default();
        self.add_publish(
            &mut change,
            &v,
            &all,
            actor,
            &format!("rollback to version {to_version}: {reason}"),
        );
        self.content.apply_content_change(change).await?;
        Ok(self.version(product_id, to_version).await?.0)
    }

    fn need_actor(actor: &str, reason: &str) -> Result<(), ContentError> {
        if actor.trim().is_empty() || reason.trim().is_empty() {
            return Err(ContentError::InvalidInput(
                "who (`reviewer`/`actor`) and why (`reason`) are required".into(),
            ));
        }
        Ok(())
    }

    /// Versions waiting for review, highest business impact first.
    pub async fn review_queue(&self, limit: usize) -> Result<Vec<QueueEntry>, ContentError> {
        let waiting = self
            .content
            .content_in_state(state::IN_REVIEW, 10_000)
            .await?;
        let ids: Vec<String> = waiting.iter().map(|v| v.product_id.clone()).collect();
        let since = Utc::now() - Duration::days(self.config.impact_window_days);
        let funnels: std::collections::HashMap<String, vitrine_store::ProductFunnel> = self
            .content
            .product_funnels(&ids, since)
            .await?
            .into_iter()
            .collect();
        let mut out = Vec::with_capacity(waiting.len());
        for v in waiting {
            let f = funnels.get(&v.product_id).cloned().unwrap_or_default();
            let margin = match self.products.get_product(&v.product_id).await? {
                Some(p) => {
                    let price: f64 = p
                        .sale_price
                        .unwrap_or(p.price)
                        .to_string()
                        .parse()
                        .unwrap_or(0.0);
                    let cost: Option<f64> = p.unit_cost.and_then(|c| c.to_string().parse().ok());
                    cost.map(|c| (price - c).max(0.0)).unwrap_or(price * 0.3)
                }
                None => 0.0,
            };
            // Smoothed toward a 2 % purchase rate so a product with 3 views and 1 sale does not jump the queue.
            let conversion = (f.purchases as f64 + 0.02 * 50.0) / (f.views as f64 + 50.0);
            let impact = f.views as f64 * conversion * margin;
            out.push(QueueEntry {
                version: v,
                impact,
                views: f.views,
                conversion,
                margin,
            });
        }
        out.sort_by(|a, b| {
            b.impact
                .total_cmp(&a.impact)
                .then(a.version.created_at.cmp(&b.version.created_at))
        });
        out.truncate(limit);
        Ok(out)
    }
}
