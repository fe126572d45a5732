//! Closing the loop: answers are logged in batches off the request path, and outcome events are credited
//! to the answer that caused them — by the `request_id` they carry, or, without it, to the newest answer
//! that showed the product to the same shopper within the attribution window.

use super::{BoundedOrder, RecError, RecommendEngine};
use crate::catalog::ItemId;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use vitrine_core::{Event, EventType};
use vitrine_store::{RecImpression, RewardEntry};

/// Answers remembered in memory for attribution (older ones are looked up in the store by request id).
const RECENT_CAP: usize = 200_000;
/// Answers remembered per shopper for window attribution.
const PER_SHOPPER: usize = 20;

/// What attribution needs to know about one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpressionInfo {
    /// Product ids, shown order.
    pub skus: Vec<String>,
    /// Unix seconds served.
    pub at: i64,
    /// Shopper keys (user id, session id).
    pub shoppers: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct RecentImpressions {
    by_request: HashMap<String, Arc<ImpressionInfo>>,
    by_shopper: HashMap<String, VecDeque<String>>,
    order: BoundedOrder,
}

impl RecentImpressions {
    pub(crate) fn insert(&mut self, request_id: String, info: ImpressionInfo) {
        for s in &info.shoppers {
            let list = self.by_shopper.entry(s.clone()).or_default();
            list.push_front(request_id.clone());
            list.truncate(PER_SHOPPER);
        }
        if let Some(old) = self.order.push(request_id.clone(), RECENT_CAP) {
            if let Some(info) = self.by_request.remove(&old) {
                for s in &info.shoppers {
                    if let Some(list) = self.by_shopper.get_mut(s) {
                        list.retain(|r| *r != old);
                        if list.is_empty() {
                            self.by_shopper.remove(s);
                        }
                    }
                }
            }
        }
        self.by_request.insert(request_id, Arc::new(info));
    }

    pub(crate) fn len(&self) -> usize {
        self.by_request.len()
    }

    fn get(&self, request_id: &str) -> Option<Arc<ImpressionInfo>> {
        self.by_request.get(request_id).cloned()
    }

    fn for_shopper(&self, shopper: &str) -> Vec<(String, Arc<ImpressionInfo>)> {
        self.by_shopper
            .get(shopper)
            .into_iter()
            .flatten()
            .filter_map(|r| self.by_request.get(r).map(|i| (r.clone(), i.clone())))
            .collect()
    }
}

fn outcome_name(t: EventType) -> Option<&'static str> {
    match t {
        EventType::Click => Some("click"),
        EventType::AddToCart => Some("add_to_cart"),
        EventType::Purchase => Some("purchase"),
        EventType::Return => Some("return"),
        EventType::Review => Some("review"),
        _ => None,
    }
}

impl RecommendEngine {
    fn reward_value(&self, event: &Event, sku: &str) -> f64 {
        let table = &self.config.rewards;
        let margin = || {
            self.items
                .read()
                .ok()
                .and_then(|items| {
                    items
                        .id(sku)
                        .and_then(|id| items.get(id).map(|m| m.margin_or_default()))
                })
                .unwrap_or(0.0)
                * event.quantity.unwrap_or(1).max(1) as f64
        };
        match event.event_type {
            EventType::Click => table.click,
            EventType::AddToCart => table.add_to_cart,
            EventType::Purchase => table.purchase_margin * margin(),
            EventType::Return => table.return_margin * margin(),
            EventType::Review => {
                (f64::from(event.rating.unwrap_or(3)) - 3.0) * table.review_per_star
            }
            _ => 0.0,
        }
    }

    /// Ledger lines for the outcome events among `events`.
    pub(crate) async fn attribute(&self, events: &[Event]) -> Result<Vec<RewardEntry>, RecError> {
        let window = self.config.attribution_window_minutes.max(0) * 60;
        let mut entries = Vec::new();
        for event in events {
            let Some(outcome) = outcome_name(event.event_type) else {
                continue;
            };
            let at = event.timestamp.timestamp();
            for sku in &event.product_ids {
                let credited = match &event.request_id {
                    Some(rid) => self.lookup(rid).await?.and_then(|info| {
                        info.skus
                            .iter()
                            .position(|s| s == sku)
                            .map(|p| (rid.clone(), p, "request_id"))
                    }),
                    None => {
                        let recent = self.recent.lock().map(|r| {
                            [&event.user_id, &event.session_id]
                                .into_iter()
                                .flatten()
                                .flat_map(|s| r.for_shopper(s))
                                .collect::<Vec<_>>()
                        });
                        recent
                            .unwrap_or_default()
                            .into_iter()
                            .find_map(|(rid, info)| {
                                let fresh = info.at <= at + 5 && at - info.at <= window;
                                let pos = info.skus.iter().position(|s| s == sku)?;
                                fresh.then_some((rid, pos, "window"))
                            })
                    }
                };
                if let Some((request_id, position, attribution)) = credited {
                    entries.push(RewardEntry {
                        event_id: event.event_id.clone(),
                        request_id,
                        product_id: sku.clone(),
                        position: Some(position as u32),
                        outcome: outcome.to_string(),
                        value: self.reward_value(event, sku),
                        attribution: attribution.to_string(),
                        at: event.timestamp,
                    });
                }
            }
        }
        Ok(entries)
    }

    async fn lookup(&self, request_id: &str) -> Result<Option<Arc<ImpressionInfo>>, RecError> {
        if let Some(info) = self.recent.lock().ok().and_then(|r| r.get(request_id)) {
            return Ok(Some(info));
        }
        Ok(self.store.impression(request_id).await?.map(|imp| {
            Arc::new(ImpressionInfo {
                skus: imp.items,
                at: imp.at.timestamp(),
                shoppers: Vec::new(),
            })
        }))
    }

    /// Counts the shown items as impressions in the item statistics.
    fn count_impressions(&self, batch: &[RecImpression]) {
        let Ok(items) = self.items.read() else { return };
        let ids: Vec<ItemId> = batch
            .iter()
            .flat_map(|imp| imp.items.iter().filter_map(|s| items.id(s)))
            .collect();
        drop(items);
        if let Ok(mut signals) = self.signals.write() {
            signals.count_impressions(&ids);
        }
    }
}

type Pending = (RecImpression, super::serve::ImpressionDetail);
type EncodeJob = (
    Vec<Pending>,
    tokio::sync::oneshot::Sender<Vec<RecImpression>>,
);

/// Builds the logged JSON of each answer's detail.
fn encode(batch: Vec<Pending>) -> Vec<RecImpression> {
    batch
        .into_iter()
        .map(|(mut imp, detail)| {
            imp.detail = detail.to_json();
            imp
        })
        .collect()
}

/// Lowers the calling thread's scheduling priority (Linux threads have their own nice value).
fn lower_thread_priority() {
    // SAFETY: plain syscalls on the calling thread; failure only leaves the priority unchanged.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// A low-priority thread that turns logged answers' details into JSON.
///
/// Why a thread of its own: a batch of 512 answers is ~10,000 feature rows to format, several
/// milliseconds of CPU. On a tokio worker (one of two on a 2-core machine) that stalled every answer
/// queued behind it, which showed as a p99 far above p50 at low load. At nice 10 the kernel lets request
/// threads preempt it.
fn spawn_encoder() -> std::sync::mpsc::Sender<EncodeJob> {
    let (tx, rx) = std::sync::mpsc::channel::<EncodeJob>();
    let spawned = std::thread::Builder::new()
        .name("vitrine-impressions".into())
        .spawn(move || {
            lower_thread_priority();
            while let Ok((batch, reply)) = rx.recv() {
                let _ = reply.send(encode(batch));
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no impression encoder thread; details are encoded inline");
    }
    tx
}

/// Writes queued answers in batches (one transaction per batch), so logging never slows an answer.
pub(crate) async fn impression_writer(
    engine: Weak<RecommendEngine>,
    mut rx: mpsc::Receiver<Pending>,
) {
    let encoder = spawn_encoder();
    let mut batch = Vec::with_capacity(512);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        let deadline = tokio::time::sleep(Duration::from_millis(100));
        tokio::pin!(deadline);
        while batch.len() < 512 {
            tokio::select! {
                next = rx.recv() => match next {
                    Some(imp) => batch.push(imp),
                    None => break,
                },
                _ = &mut deadline => break,
            }
        }
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let (reply, encoded) = tokio::sync::oneshot::channel();
        let rows: Vec<RecImpression> = match encoder.send((std::mem::take(&mut batch), reply)) {
            Ok(()) => encoded.await.unwrap_or_else(|_| {
                tracing::warn!("impression encoder stopped; a batch of answers was not logged");
                Vec::new()
            }),
            Err(std::sync::mpsc::SendError((pending, _))) => encode(pending),
        };
        engine.count_impressions(&rows);
        if let Err(e) = engine.store.log_impressions(&rows).await {
            tracing::warn!(error = %e, lost = rows.len(), "could not log recommendation impressions");
        }
    }
}
