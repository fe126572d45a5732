//! Answering one request: anchors → candidates → eligibility (filters and hard rules) → fallbacks →
//! features → model probabilities → objective blend → soft rules → diversity → pins → exploration → log.

use super::candidates::{self, Anchors, CandidateSet, CONTENT, POPULAR, TRENDING};
use super::{ImpressionInfo, RecError, RecommendEngine};
use crate::catalog::{ItemId, ItemMeta, ItemTable};
use crate::features::{self, ShopperProfile, WIDTH};
use crate::ranker::{Objective, Probabilities};
use crate::rules::RecRules;
use crate::signals::Signals;
use crate::types::*;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use vitrine_store::RecImpression;

/// Heuristic weight of each source while no model is trained (order of [`features::SOURCES`]).
const HEURISTIC: [f32; 7] = [1.0, 1.2, 1.0, 1.5, 0.6, 0.3, 0.1];

struct Ranked {
    item: ItemId,
    sources: [f32; 7],
    row: [f32; WIDTH],
    probabilities: Option<Probabilities>,
    model_score: f32,
    score: f32,
    rules: Vec<String>,
}

fn validate(req: &RecRequest) -> Result<usize, RecError> {
    let bad = |field: &str, reason: String| RecError::BadRequest {
        field: field.into(),
        reason,
    };
    let count = req.count.unwrap_or(DEFAULT_COUNT);
    if count == 0 || count > MAX_COUNT {
        return Err(bad(
            "count",
            format!("must be between 1 and {MAX_COUNT}, got {count}"),
        ));
    }
    for (field, v) in [
        ("filters.price_min", req.filters.price_min),
        ("filters.price_max", req.filters.price_max),
    ] {
        if let Some(v) = v {
            if !v.is_finite() || v < 0.0 {
                return Err(bad(
                    field,
                    format!("must be a non-negative number, got {v}"),
                ));
            }
        }
    }
    if let (Some(lo), Some(hi)) = (req.filters.price_min, req.filters.price_max) {
        if lo > hi {
            return Err(bad(
                "filters.price_min",
                format!("{lo} is above price_max {hi}"),
            ));
        }
    }
    Ok(count)
}

fn resolve(
    items: &ItemTable,
    skus: &[String],
    strict: bool,
    fallbacks: &mut Vec<String>,
) -> Result<Vec<ItemId>, RecError> {
    let mut out = Vec::new();
    for sku in skus {
        match items.id(sku) {
            Some(id) => {
                if items.get(id).is_some_and(|m| !m.active) {
                    fallbacks.push(format!(
                        "context product {sku} is archived; its neighbours are still used"
                    ));
                }
                out.push(id);
            }
            None if strict => return Err(RecError::UnknownProduct(sku.clone())),
            None => fallbacks.push(format!("unknown product {sku} ignored")),
        }
    }
    Ok(out)
}

/// The shopper's recent items from user and session state, merged by time.
fn shopper_history(signals: &Signals, req: &RecRequest) -> (Vec<ItemId>, Vec<ItemId>, bool) {
    let states: Vec<_> = [
        req.user_id.as_deref().and_then(|u| signals.user(u)),
        req.session_id.as_deref().and_then(|s| signals.session(s)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut timed: Vec<(i64, ItemId)> = Vec::new();
    let mut purchased = Vec::new();
    for s in &states {
        timed.extend(s.recent.iter().map(|(i, _, t)| (*t, *i)));
        purchased.extend(s.purchased.iter().copied());
    }
    timed.sort_by_key(|(t, _)| *t);
    let mut recent: Vec<ItemId> = Vec::new();
    for (_, i) in timed {
        if recent.last() != Some(&i) {
            recent.push(i);
        }
    }
    (recent, purchased, !states.is_empty())
}

impl RecommendEngine {
    /// Answers one request under `request_id` and logs it as an impression.
    pub fn recommend(
        &self,
        surface: Surface,
        req: &RecRequest,
        request_id: String,
    ) -> Result<RecResponse, RecError> {
        self.recommend_at(surface, req, request_id, chrono::Utc::now())
    }

    /// [`Self::recommend`] with the serving time given (simulations and replays run on their own clock).
    pub fn recommend_at(
        &self,
        surface: Surface,
        req: &RecRequest,
        request_id: String,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<RecResponse, RecError> {
        let items = self.items.read().map_err(|_| poisoned())?;
        let bundle = self.bundle.read().map_err(|_| poisoned())?.clone();
        let page = self.page(surface, req, &items, &bundle, &self.config.objective)?;
        let mut shown = page.shown;
        let explored = self.explore(&mut shown, page.tail, &request_id);
        let response = self.respond(
            surface,
            req,
            (request_id, at),
            &items,
            &bundle,
            shown,
            explored,
            page.fallbacks,
        );
        drop(items);
        Ok(response)
    }

    /// The products a request would be shown under another `objective`, without logging an impression,
    /// counting it or exploring.
    ///
    /// Why: to see what a change of objective does before deploying it. The simulator uses it to compare
    /// the return-risk term on and off on the very same learned state, which is far less noisy than two
    /// runs that drift apart.
    pub fn preview(
        &self,
        surface: Surface,
        req: &RecRequest,
        objective: &Objective,
    ) -> Result<Vec<String>, RecError> {
        let items = self.items.read().map_err(|_| poisoned())?;
        let bundle = self.bundle.read().map_err(|_| poisoned())?.clone();
        let page = self.page(surface, req, &items, &bundle, objective)?;
        Ok(page
            .shown
            .iter()
            .filter_map(|r| items.get(r.item).map(|m| m.sku.clone()))
            .collect())
    }

    /// Candidates, eligibility, ranking under `objective`, soft rules, diversity and pins: the page before
    /// exploration and logging.
    fn page(
        &self,
        surface: Surface,
        req: &RecRequest,
        items: &ItemTable,
        bundle: &crate::registry::ModelBundle,
        objective: &Objective,
    ) -> Result<Page, RecError> {
        let count = validate(req)?;
        let mut fallbacks = Vec::new();
        let signals = self.signals.read().map_err(|_| poisoned())?;
        let rules = self.rules();
        let context = resolve(
            items,
            &req.items,
            surface == Surface::Similar,
            &mut fallbacks,
        )?;
        let cart = resolve(items, &req.cart, false, &mut fallbacks)?;
        match surface {
            Surface::Similar if context.is_empty() => {
                return Err(RecError::BadRequest {
                    field: "items".into(),
                    reason: "similar needs the product id in `items`".into(),
                })
            }
            Surface::BoughtTogether if context.is_empty() && cart.is_empty() => {
                return Err(RecError::BadRequest {
                    field: "cart".into(),
                    reason: "bought_together needs products in `cart` or `items`".into(),
                })
            }
            _ => {}
        }
        let (recent, purchased, known) = shopper_history(&signals, req);
        if !known && matches!(surface, Surface::ForYou | Surface::Next) && context.is_empty() {
            fallbacks.push("new shopper: trending and popular products for this context".into());
        }
        let tops = self.tops.get(&signals);
        let anchors = Anchors {
            surface,
            context: &context,
            cart: &cart,
            recent: &recent,
            per_source: self.config.candidates_per_source,
        };
        let mut set = candidates::generate(&anchors, &signals, bundle, &tops);
        self.add_content(surface, items, &context, &recent, &mut set);

        let anchor_price = context.first().and_then(|&i| items.get(i)).map(|m| m.price);
        let shown_already: HashSet<ItemId> = context.iter().chain(&cart).copied().collect();
        let eligible = |id: ItemId, m: &ItemMeta| -> bool {
            m.active
                && !shown_already.contains(&id)
                && passes_filters(&req.filters, m)
                && (m.available() || !rules.exclude_out_of_stock)
                && rules
                    .margin_floor
                    .is_none_or(|f| m.margin.is_none_or(|x| x >= f))
                && !(rules.exclude_purchased && purchased.contains(&id) && !rules.repeatable(m))
                && match (rules.price_band, anchor_price, surface) {
                    (Some([lo, hi]), Some(p), Surface::Similar | Surface::BoughtTogether) => {
                        m.price >= lo * p && m.price <= hi * p
                    }
                    _ => true,
                }
        };
        set.scores
            .retain(|&id, _| items.get(id).is_some_and(|m| eligible(id, m)));
        if set.len() < count + 10 {
            let before = set.len();
            let categories: HashSet<&str> = context
                .iter()
                .chain(recent.iter().rev().take(5))
                .filter_map(|&i| items.get(i).map(|m| m.category.as_str()))
                .collect();
            for (list, source) in [(&tops.0, TRENDING), (&tops.1, POPULAR)] {
                for pass_categories in [true, false] {
                    for &(id, score) in list.iter() {
                        if set.len() >= count + 10 {
                            break;
                        }
                        let Some(m) = items.get(id) else { continue };
                        let wanted = !pass_categories
                            || categories.is_empty()
                            || categories.contains(m.category.as_str());
                        if wanted && eligible(id, m) {
                            set.add(id, source, score);
                        }
                    }
                }
            }
            if set.len() < count + 10 {
                // A brand-new store has no behaviour at all: any eligible product, in catalog order.
                for (id, m) in items.iter() {
                    if set.len() >= count + 10 {
                        break;
                    }
                    if eligible(id, m) && !set.scores.contains_key(&id) {
                        set.add(id, POPULAR, 1e-3);
                    }
                }
            }
            if set.len() > before && surface != Surface::Trending {
                fallbacks.push(format!(
                    "{before} personal candidates; filled from trending and popular products"
                ));
            }
        }
        if set.len() == 0 {
            fallbacks.push("no product passes the filters and rules".into());
        }
        set.normalise();
        set.keep_best(self.config.rank_candidates.max(count), &heuristic);

        let profile = ShopperProfile {
            recent: recent
                .iter()
                .rev()
                .take(20)
                .filter_map(|&i| items.get(i))
                .collect(),
            surface: surface.code(),
            device: req.context.device_code(),
            low_stock_threshold: rules.low_stock_threshold,
        };
        let mut ranked = self.rank(&set, items, &signals, bundle, &profile, objective);
        drop(signals);
        apply_soft_rules(&mut ranked, &rules, items, &context);
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.item.cmp(&b.item)));
        let mut shown = diversify(ranked, &rules, items, count);
        let tail = shown.split_off(count.min(shown.len()));
        self.pin(&mut shown, &rules, surface, items, count);
        Ok(Page {
            shown,
            tail,
            fallbacks,
        })
    }

    fn add_content(
        &self,
        surface: Surface,
        items: &ItemTable,
        context: &[ItemId],
        recent: &[ItemId],
        set: &mut CandidateSet,
    ) {
        let Some(content) = self.content.read().ok().and_then(|c| c.clone()) else {
            return;
        };
        let anchors: Vec<ItemId> = match surface {
            Surface::Similar | Surface::BoughtTogether => context.iter().take(3).copied().collect(),
            Surface::ForYou | Surface::Next => context
                .iter()
                .chain(recent)
                .rev()
                .take(2)
                .copied()
                .collect(),
            Surface::Trending => Vec::new(),
        };
        let k = self.config.candidates_per_source;
        for anchor in anchors {
            let Some(meta) = items.get(anchor) else {
                continue;
            };
            for (sku, cosine) in content.similar(&meta.sku, k) {
                if let Some(id) = items.id(&sku) {
                    set.add(id, CONTENT, cosine.max(0.0));
                }
            }
        }
    }

    fn rank(
        &self,
        set: &CandidateSet,
        items: &ItemTable,
        signals: &Signals,
        bundle: &crate::registry::ModelBundle,
        profile: &ShopperProfile<'_>,
        objective: &Objective,
    ) -> Vec<Ranked> {
        let mut ranked: Vec<Ranked> = set
            .scores
            .iter()
            .filter_map(|(&item, sources)| {
                let meta = items.get(item)?;
                let stats = signals.item_stats(item);
                let pooled_return = signals.pooled_return_rate(item, &meta.category);
                Some(Ranked {
                    item,
                    sources: *sources,
                    row: features::row(profile, sources, meta, &stats, pooled_return),
                    probabilities: None,
                    model_score: 0.0,
                    score: 0.0,
                    rules: Vec::new(),
                })
            })
            .collect();
        if bundle.rankers.usable() {
            let rows: Vec<[f32; WIDTH]> = ranked.iter().map(|r| r.row).collect();
            let probabilities = bundle.rankers.predict(&rows);
            for (r, p) in ranked.iter_mut().zip(probabilities) {
                let margin = items.get(r.item).map_or(0.0, |m| m.margin_or_default()) as f32;
                r.model_score = objective.score(&p, margin) + 1e-4 * heuristic(&r.sources);
                r.probabilities = Some(p);
            }
        } else {
            // Untrained: the source heuristic, raised by conversion, discounted by the return risk.
            let return_risk = objective.return_risk;
            for r in &mut ranked {
                r.model_score = heuristic(&r.sources)
                    * (1.0 + 5.0 * r.row[9])
                    * (1.0 - return_risk * r.row[features::RETURN_RATE_POOLED]).max(0.0);
            }
        }
        for r in &mut ranked {
            r.score = r.model_score;
        }
        ranked
    }

    fn pin(
        &self,
        shown: &mut Vec<Ranked>,
        rules: &RecRules,
        surface: Surface,
        items: &ItemTable,
        count: usize,
    ) {
        for pin in rules
            .pin
            .iter()
            .filter(|p| p.surface.is_none_or(|s| s == surface))
        {
            let Some(id) = items.id(&pin.sku) else {
                continue;
            };
            if !items
                .get(id)
                .is_some_and(|m| m.active && (m.available() || !rules.exclude_out_of_stock))
            {
                continue;
            }
            let existing = shown.iter().position(|r| r.item == id);
            let mut entry = match existing {
                Some(i) => shown.remove(i),
                None => Ranked {
                    item: id,
                    sources: [0.0; 7],
                    row: [0.0; WIDTH],
                    probabilities: None,
                    model_score: 0.0,
                    score: 0.0,
                    rules: Vec::new(),
                },
            };
            entry.rules.push(format!("pinned at {}", pin.position));
            let at = pin.position.min(shown.len());
            shown.insert(at, entry);
            shown.truncate(count);
        }
    }

    /// With probability `explore_share`, one slot shows a candidate from beyond the page instead.
    /// Returns the explored position and the propensities of every shown item.
    fn explore(
        &self,
        shown: &mut [Ranked],
        tail: Vec<Ranked>,
        request_id: &str,
    ) -> (Option<usize>, Vec<f32>) {
        let share = self.config.explore_share.clamp(0.0, 1.0);
        let n = shown.len();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(fnv(request_id));
        let explore = share > 0.0 && n > 1 && !tail.is_empty() && rng.gen::<f32>() < share;
        let stay = 1.0 - share / n.max(1) as f32;
        let mut propensities = vec![stay; n];
        if !explore {
            return (None, propensities);
        }
        let slot = rng.gen_range(0..n);
        let pool = tail.len().min(50);
        let pick = rng.gen_range(0..pool);
        let mut tail = tail;
        let mut chosen = tail.swap_remove(pick);
        chosen.rules.push("exploration slot".into());
        shown[slot] = chosen;
        propensities[slot] = share / n as f32 / pool as f32;
        (Some(slot), propensities)
    }

    #[allow(clippy::too_many_arguments)]
    fn respond(
        &self,
        surface: Surface,
        req: &RecRequest,
        (request_id, now): (String, chrono::DateTime<chrono::Utc>),
        items: &ItemTable,
        bundle: &crate::registry::ModelBundle,
        shown: Vec<Ranked>,
        (explored, propensities): (Option<usize>, Vec<f32>),
        fallbacks: Vec<String>,
    ) -> RecResponse {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        if !fallbacks.is_empty() {
            self.counters.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        if explored.is_some() {
            self.counters.explored.fetch_add(1, Ordering::Relaxed);
        }
        let skus: Vec<String> = shown
            .iter()
            .map(|r| items.get(r.item).map(|m| m.sku.clone()).unwrap_or_default())
            .collect();
        let out_items = shown
            .iter()
            .enumerate()
            .map(|(i, r)| RecItem {
                product_id: skus[i].clone(),
                score: r.score,
                explored: explored == Some(i),
                explain: req.explain.then(|| RecExplain {
                    sources: candidates::source_names(&r.sources)
                        .into_iter()
                        .map(|(s, v)| SourceScore {
                            source: s.into(),
                            score: v,
                        })
                        .collect(),
                    p_click: r.probabilities.map(|p| p.click),
                    p_cart: r.probabilities.map(|p| p.cart),
                    p_purchase: r.probabilities.map(|p| p.purchase),
                    p_return: r.probabilities.map(|p| p.ret),
                    model_score: r.model_score,
                    rules: r.rules.clone(),
                    propensity: propensities[i],
                }),
            })
            .collect();
        // The JSON of the logged detail is built by the background writer, off the request path.
        let detail = ImpressionDetail {
            propensities,
            explored,
            features: shown.iter().map(|r| r.row).collect(),
            margins: shown
                .iter()
                .map(|r| items.get(r.item).map_or(0.0, |m| m.margin_or_default()))
                .collect(),
            context: req.context.clone(),
            fallbacks: fallbacks.clone(),
        };
        let shoppers: Vec<String> = [&req.user_id, &req.session_id]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        self.queue_impression(
            RecImpression {
                request_id: request_id.clone(),
                surface: surface.as_str().into(),
                user_id: req.user_id.clone(),
                session_id: req.session_id.clone(),
                items: skus.clone(),
                detail: serde_json::Value::Null,
                model_version: bundle.version,
                at: now,
            },
            detail,
            ImpressionInfo {
                skus,
                at: now.timestamp(),
                shoppers,
            },
        );
        RecResponse {
            request_id,
            surface,
            items: out_items,
            model_version: bundle.version,
            fallbacks,
        }
    }
}

/// A ranked page before exploration: what is shown, the ranked rest (the exploration pool) and the
/// fallbacks taken.
struct Page {
    shown: Vec<Ranked>,
    tail: Vec<Ranked>,
    fallbacks: Vec<String>,
}

/// What the impression log keeps beside the shown list, in raw form until the writer serialises it.
#[derive(Debug, Clone)]
pub(crate) struct ImpressionDetail {
    propensities: Vec<f32>,
    explored: Option<usize>,
    features: Vec<[f32; WIDTH]>,
    margins: Vec<f64>,
    context: RecContext,
    fallbacks: Vec<String>,
}

impl ImpressionDetail {
    /// The logged JSON (values rounded to 4 decimals to keep rows small).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let round = |v: f32| (v * 10_000.0).round() / 10_000.0;
        serde_json::json!({
            "propensities": self.propensities.iter().map(|p| round(*p)).collect::<Vec<_>>(),
            "explored": self.explored,
            "features": self.features.iter().map(|r| r.iter().map(|v| round(*v)).collect::<Vec<_>>()).collect::<Vec<_>>(),
            "margins": self.margins,
            "context": self.context,
            "fallbacks": self.fallbacks,
        })
    }
}

fn heuristic(sources: &[f32; 7]) -> f32 {
    sources.iter().zip(HEURISTIC).map(|(s, w)| s * w).sum()
}

fn passes_filters(f: &RecFilters, m: &ItemMeta) -> bool {
    f.category.as_deref().is_none_or(|c| m.in_category(c))
        && f.price_min.is_none_or(|p| m.price >= p)
        && f.price_max.is_none_or(|p| m.price <= p)
        && (f.in_stock != Some(true) || m.stock > 0)
}

fn apply_soft_rules(
    ranked: &mut [Ranked],
    rules: &RecRules,
    items: &ItemTable,
    context: &[ItemId],
) {
    let unavailable_categories: Vec<&str> = context
        .iter()
        .filter_map(|&i| items.get(i))
        .filter(|m| !m.available() || m.stock <= rules.low_stock_threshold)
        .map(|m| m.category.as_str())
        .collect();
    for r in ranked.iter_mut() {
        let Some(m) = items.get(r.item) else { continue };
        let (factor, labels) = rules.boost_of(m);
        r.score *= factor;
        r.rules.extend(labels);
        if m.stock <= rules.low_stock_threshold {
            r.score *= rules.backorder_demote;
            r.rules.push(format!(
                "backorder risk (stock {}) ×{}",
                m.stock, rules.backorder_demote
            ));
        } else if unavailable_categories.contains(&m.category.as_str()) {
            r.score *= rules.substitute_boost;
            r.rules
                .push(format!("in-stock substitute ×{}", rules.substitute_boost));
        }
    }
}

/// Caps per brand and category; items over a cap move behind the others (kept only if the page is short).
fn diversify(
    ranked: Vec<Ranked>,
    rules: &RecRules,
    items: &ItemTable,
    count: usize,
) -> Vec<Ranked> {
    if rules.max_per_brand == 0 && rules.max_per_category == 0 {
        return ranked;
    }
    let (mut brands, mut categories) = (
        HashMap::<String, usize>::new(),
        HashMap::<String, usize>::new(),
    );
    let (mut kept, mut held) = (Vec::new(), Vec::new());
    for mut r in ranked {
        let Some(m) = items.get(r.item) else { continue };
        let b = brands.entry(m.brand.clone()).or_default();
        let c = categories.entry(m.category.clone()).or_default();
        let over = (rules.max_per_brand > 0 && !m.brand.is_empty() && *b >= rules.max_per_brand)
            || (rules.max_per_category > 0 && *c >= rules.max_per_category);
        if over || kept.len() >= count {
            if over {
                r.rules.push("over the brand/category cap".into());
            }
            held.push(r);
        } else {
            *b += 1;
            *c += 1;
            kept.push(r);
        }
    }
    kept.extend(held);
    kept
}

fn poisoned() -> RecError {
    RecError::BadRequest {
        field: "engine".into(),
        reason: "internal state lock poisoned".into(),
    }
}

/// FNV-1a of a string: seeds the exploration draw from the request id, so an answer is reproducible.
pub fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x1000_0000_01b3)
    })
}
