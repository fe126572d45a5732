//! `vitrine simulate`: proves the learning loop. A demo store starts cold; each simulated day, shoppers
//! visit and get a 20-item home feed from the policy under test, react through the simulator's hidden
//! utilities (`DemoStore::respond`), and Vitrine retrains every night. The same shoppers, visit schedule
//! and per-visit random streams are used for every policy, so the daily figures are directly comparable.
//!
//! Reward per impression (one impression = one list shown) is ground truth from the simulator:
//! `0.05·clicks + 0.2·carts + kept margin (USD) − 2·returns` (a return costs its handling).

use crate::config::Config;
use crate::simulate_paired::{Expected, PairedStudy};
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::sync::Arc;
use vitrine_core::{Event, EventType};
use vitrine_recommend::types::{RecRequest, Surface};
use vitrine_recommend::{RecommendConfig, RecommendEngine};
use vitrine_sim::{DemoConfig, DemoStore, ResponseSummary};
use vitrine_store::{RecStore, SqliteStore, Store, StoreOptions};

/// Options of `vitrine simulate`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimulateArgs {
    /// Simulated days.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Products in the demo catalog.
    #[arg(long, default_value_t = 1_500)]
    pub products: usize,
    /// Shoppers.
    #[arg(long, default_value_t = 2_000)]
    pub shoppers: usize,
    /// Seed of catalog, shoppers and visits.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Independent repetitions (seeds `seed`, `seed + 1`, …), pooled into one table with 95 % confidence
    /// intervals. One run's day has ~900 lists and a per-day noise of about ±0.5 reward per impression, so
    /// claims about the last day need more than one seed.
    #[arg(long, default_value_t = 1)]
    pub repeats: u64,
    /// Policies to compare.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "vitrine,popularity,random"
    )]
    pub policies: Vec<String>,
    /// Also run Vitrine with the return-risk term switched off, to measure what it buys.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub return_study: bool,
    /// Working directory (default: a temporary one).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Policy {
    Vitrine { return_risk: f32 },
    Popularity,
    Random,
}

impl Policy {
    fn name(&self) -> String {
        match self {
            Policy::Vitrine { return_risk } if *return_risk > 0.0 => "vitrine".into(),
            Policy::Vitrine { .. } => "vitrine (no return term)".into(),
            Policy::Popularity => "popularity".into(),
            Policy::Random => "random".into(),
        }
    }
}

/// One day's totals for one policy.
#[derive(Debug, Clone, Default)]
struct DayStats {
    impressions: u64,
    clicks: u64,
    carts: u64,
    purchases: u64,
    returns: u64,
    kept_margin: f64,
    /// Sum of squared per-list rewards, for the confidence interval of the mean.
    reward_sq: f64,
    /// Sum of squared per-list kept margins.
    margin_sq: f64,
    /// Sum over purchases of the true return probability, and of its square.
    expected_returns: f64,
    expected_returns_sq: f64,
}

/// Reward of one list, or of a day's totals: the formula in the module doc.
fn reward_of(clicks: f64, carts: f64, kept_margin: f64, returns: f64) -> f64 {
    0.05 * clicks + 0.2 * carts + kept_margin - 2.0 * returns
}

/// Half-width of a 95 % normal confidence interval of a mean, from a count, sum and sum of squares.
fn ci95(n: u64, sum: f64, sum_sq: f64) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    let n = n as f64;
    let mean = sum / n;
    let variance = ((sum_sq - n * mean * mean) / (n - 1.0)).max(0.0);
    1.96 * (variance / n).sqrt()
}

impl DayStats {
    fn add(&mut self, s: &ResponseSummary) {
        self.impressions += 1;
        self.clicks += u64::from(s.clicks);
        self.carts += u64::from(s.carts);
        self.purchases += u64::from(s.purchases);
        self.returns += u64::from(s.returns);
        self.kept_margin += s.kept_margin;
        let r = reward_of(
            f64::from(s.clicks),
            f64::from(s.carts),
            s.kept_margin,
            f64::from(s.returns),
        );
        self.reward_sq += r * r;
        self.margin_sq += s.kept_margin * s.kept_margin;
        self.expected_returns += s.return_probability;
        self.expected_returns_sq += s.return_probability_sq;
    }
    fn reward(&self) -> f64 {
        reward_of(
            self.clicks as f64,
            self.carts as f64,
            self.kept_margin,
            self.returns as f64,
        )
    }
    fn per_impression(&self) -> f64 {
        self.reward() / self.impressions.max(1) as f64
    }
    /// 95 % confidence half-width of reward per impression.
    fn reward_ci(&self) -> f64 {
        ci95(self.impressions, self.reward(), self.reward_sq)
    }
    /// Kept margin per impression and its 95 % confidence half-width.
    fn margin_per_impression(&self) -> (f64, f64) {
        (
            self.kept_margin / self.impressions.max(1) as f64,
            ci95(self.impressions, self.kept_margin, self.margin_sq),
        )
    }
    fn return_rate(&self) -> f64 {
        self.returns as f64 / self.purchases.max(1) as f64
    }
    /// Mean true return probability of what was bought, and its 95 % half-width: the return rate without
    /// the noise of each return's coin flip.
    fn expected_return_rate(&self) -> (f64, f64) {
        (
            self.expected_returns / self.purchases.max(1) as f64,
            ci95(
                self.purchases,
                self.expected_returns,
                self.expected_returns_sq,
            ),
        )
    }
    fn merge(&mut self, o: &DayStats) {
        self.impressions += o.impressions;
        self.clicks += o.clicks;
        self.carts += o.carts;
        self.purchases += o.purchases;
        self.returns += o.returns;
        self.kept_margin += o.kept_margin;
        self.reward_sq += o.reward_sq;
        self.margin_sq += o.margin_sq;
        self.expected_returns += o.expected_returns;
        self.expected_returns_sq += o.expected_returns_sq;
    }
}

/// A visit: (time, shopper, per-visit seed).
fn schedule(
    demo: &DemoStore,
    day: u32,
    day_start: DateTime<Utc>,
    seed: u64,
) -> Vec<(DateTime<Utc>, usize, u64)> {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (u64::from(day) + 11).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut visits = Vec::new();
    for (si, s) in demo.shoppers.iter().enumerate() {
        let mut expected = s.visits_per_day;
        while expected > 0.0 {
            if rng.gen::<f64>() < expected.min(1.0) {
                visits.push((
                    day_start + Duration::seconds(rng.gen_range(0..86_000)),
                    si,
                    rng.gen::<u64>(),
                ));
            }
            expected -= 1.0;
        }
    }
    visits.sort_by_key(|v| v.0);
    visits
}

struct Run {
    demo: Arc<DemoStore>,
    store: Arc<SqliteStore>,
    engine: Option<Arc<RecommendEngine>>,
    counts: Vec<f64>,
    pending: Vec<Event>,
    batch: Vec<Event>,
}

impl Run {
    async fn flush(&mut self, now: DateTime<Utc>) -> anyhow::Result<()> {
        let (due, later): (Vec<Event>, Vec<Event>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|e| e.timestamp <= now);
        self.pending = later;
        let mut events = std::mem::take(&mut self.batch);
        events.extend(due);
        if events.is_empty() {
            return Ok(());
        }
        for e in &events {
            let w = match e.event_type {
                EventType::Click => 1.0,
                EventType::AddToCart => 3.0,
                EventType::Purchase => 5.0,
                _ => 0.0,
            };
            for p in &e.product_ids {
                if let Some(i) = self.demo.index_of(p) {
                    self.counts[i] += w;
                }
            }
        }
        self.store.append_events(events.clone()).await?;
        if let Some(engine) = &self.engine {
            engine.observe(&events).await?;
        }
        Ok(())
    }

    /// The home-feed request of one visit.
    fn request(&self, shopper: usize, session: &str) -> RecRequest {
        let s = &self.demo.shoppers[shopper];
        RecRequest {
            user_id: s.logged_in.then(|| s.user_id.clone()),
            session_id: Some(session.to_string()),
            count: Some(20),
            context: vitrine_recommend::types::RecContext {
                device: Some(s.device.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// Vitrine's lists for this visit with the return-risk term and without it, from the current state and
    /// without logging (the paired study); `None` for the baseline policies.
    fn what_if(
        &self,
        policy: Policy,
        shopper: usize,
        session: &str,
        return_risk: f32,
    ) -> anyhow::Result<Option<(Vec<usize>, Vec<usize>)>> {
        let (Policy::Vitrine { .. }, Some(engine)) = (policy, self.engine.as_ref()) else {
            return Ok(None);
        };
        let req = self.request(shopper, session);
        let list = |risk: f32| -> anyhow::Result<Vec<usize>> {
            let mut objective = engine.config().objective;
            objective.return_risk = risk;
            Ok(engine
                .preview(Surface::ForYou, &req, &objective)?
                .iter()
                .filter_map(|sku| self.demo.index_of(sku))
                .collect())
        };
        Ok(Some((list(return_risk)?, list(0.0)?)))
    }

    fn shown(
        &self,
        policy: Policy,
        shopper: usize,
        session: &str,
        request_id: &str,
        at: DateTime<Utc>,
        rng: &mut ChaCha8Rng,
    ) -> anyhow::Result<Vec<usize>> {
        let available: Vec<usize> = (0..self.demo.products.len())
            .filter(|&i| self.demo.items[i].available)
            .collect();
        Ok(match policy {
            Policy::Random => available.choose_multiple(rng, 20).copied().collect(),
            Policy::Popularity => {
                let mut ranked = available;
                ranked.sort_by(|a, b| self.counts[*b].total_cmp(&self.counts[*a]).then(a.cmp(b)));
                ranked.truncate(20);
                ranked
            }
            Policy::Vitrine { .. } => {
                let req = self.request(shopper, session);
                let engine = self
                    .engine
                    .as_ref()
                    .ok_or_else(|| anyhow::anyhow!("no engine"))?;
                let answer =
                    engine.recommend_at(Surface::ForYou, &req, request_id.to_string(), at)?;
                answer
                    .items
                    .iter()
                    .filter_map(|i| self.demo.index_of(&i.product_id))
                    .collect()
            }
        })
    }
}

async fn run_policy(
    policy: Policy,
    args: &SimulateArgs,
    seed: u64,
    dir: &std::path::Path,
    config: &Config,
) -> anyhow::Result<(Vec<DayStats>, PairedStudy)> {
    let start: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 1, 5, 0, 0, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let demo = Arc::new(DemoStore::generate(DemoConfig {
        products: args.products,
        shoppers: args.shoppers,
        days: args.days,
        seed,
        now: start,
    }));
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let store =
        Arc::new(SqliteStore::open(&dir.join("vitrine.db"), StoreOptions::default()).await?);
    let version = store.begin_catalog_version("simulate").await?;
    for chunk in demo.products.chunks(5_000) {
        store.upsert_products(version, chunk).await?;
    }
    let engine = match policy {
        Policy::Vitrine { return_risk } => {
            let mut rc: RecommendConfig = config.recommend.clone();
            rc.objective.return_risk = return_risk;
            let engine =
                RecommendEngine::new(rc, store.clone() as Arc<dyn RecStore>, dir.join("models"));
            engine.load(store.as_ref()).await?;
            Some(engine)
        }
        _ => None,
    };
    let mut run = Run {
        counts: vec![0.0; demo.products.len()],
        demo: demo.clone(),
        store: store.clone(),
        engine,
        pending: Vec::new(),
        batch: Vec::new(),
    };
    let mut days = Vec::new();
    let mut paired = PairedStudy::default();
    let paired_risk = config.recommend.objective.return_risk.max(0.5);
    for day in 0..args.days {
        let day_start = start + Duration::days(i64::from(day));
        let mut stats = DayStats::default();
        for (n, (at, shopper, seed)) in schedule(&demo, day, day_start, seed)
            .into_iter()
            .enumerate()
        {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let session = format!("S-{shopper}-{day}-{n}");
            let request_id = format!("sim-{day}-{n}");
            // Before the answer is logged, so both lists see the state the shown one is built from.
            if let Some((with, without)) = run.what_if(policy, shopper, &session, paired_risk)? {
                paired.add(
                    Expected::of(&demo, shopper, &with, seed),
                    Expected::of(&demo, shopper, &without, seed),
                );
            }
            let shown = run.shown(policy, shopper, &session, &request_id, at, &mut rng)?;
            let (events, summary) =
                demo.respond(shopper, &session, &shown, &request_id, at, &mut rng);
            stats.add(&summary);
            for e in events {
                if e.timestamp > at + Duration::hours(1) {
                    run.pending.push(e);
                } else {
                    run.batch.push(e);
                }
            }
            if n % 25 == 24 {
                run.flush(at).await?;
            }
        }
        let day_end = day_start + Duration::days(1);
        run.flush(day_end).await?;
        if let Some(engine) = &run.engine {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await; // let the impression log drain
            let outcome = vitrine_recommend::train::train(
                store.as_ref(),
                store.as_ref(),
                engine.config(),
                engine.models_dir(),
                day_end,
                &|_, _| {},
            )
            .await?;
            engine.promote(outcome.version).await?;
            eprintln!(
                "  {} day {day}: reward/impression {:.3}; trained v{} (click AUC {}, purchase AUC {}, return AUC {})",
                policy.name(),
                stats.per_impression(),
                outcome.version,
                outcome.manifest["metrics"]["click_auc"],
                outcome.manifest["metrics"]["purchase_auc"],
                outcome.manifest["metrics"]["return_auc"],
            );
        } else {
            eprintln!(
                "  {} day {day}: reward/impression {:.3}",
                policy.name(),
                stats.per_impression()
            );
        }
        days.push(stats);
    }
    store.close().await;
    Ok((days, paired))
}

/// Runs every policy and prints the daily table and the return-risk study.
pub async fn run(args: SimulateArgs, config: &Config) -> anyhow::Result<()> {
    let temp = tempfile::tempdir()?;
    let root = args
        .workdir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let mut policies = Vec::new();
    for p in &args.policies {
        policies.push(match p.as_str() {
            "vitrine" => Policy::Vitrine {
                return_risk: config.recommend.objective.return_risk.max(0.5),
            },
            "popularity" => Policy::Popularity,
            "random" => Policy::Random,
            other => {
                anyhow::bail!("unknown policy {other:?}; expected vitrine, popularity or random")
            }
        });
    }
    if args.return_study && policies.iter().any(|p| matches!(p, Policy::Vitrine { .. })) {
        policies.push(Policy::Vitrine { return_risk: 0.0 });
    }
    let started = std::time::Instant::now();
    let mut studies = vec![PairedStudy::default(); policies.len()];
    let mut results: Vec<(String, Vec<DayStats>)> = policies
        .iter()
        .map(|p| (p.name(), vec![DayStats::default(); args.days as usize]))
        .collect();
    for repeat in 0..args.repeats.max(1) {
        let seed = args.seed + repeat;
        for (i, policy) in policies.iter().enumerate() {
            eprintln!(
                "simulating {} ({} days, {} shoppers, {} products, seed {seed})…",
                policy.name(),
                args.days,
                args.shoppers,
                args.products
            );
            let dir = root.join(format!("policy-{i}"));
            let (days, study) = run_policy(*policy, &args, seed, &dir, config).await?;
            studies[i].merge(&study);
            for (total, day) in results[i].1.iter_mut().zip(&days) {
                total.merge(day);
            }
        }
    }
    print_report(&args, &results, started.elapsed().as_secs_f64());
    print_paired(&policies, &studies);
    Ok(())
}

/// Prints the daily table (mean ± 95 % half-width), the totals, and the last-day and return-risk verdicts.
fn print_report(args: &SimulateArgs, results: &[(String, Vec<DayStats>)], seconds: f64) {
    println!(
        "\nReward per impression by day, ± 95 % confidence half-width (same shoppers, visits and random \
         streams for every policy; {} seed(s) pooled):\n",
        args.repeats.max(1)
    );
    let header: Vec<String> = results.iter().map(|(n, _)| n.clone()).collect();
    println!("| day | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(header.len()));
    for day in 0..args.days as usize {
        let cells: Vec<String> = results
            .iter()
            .map(|(_, d)| format!("{:.3} ± {:.2}", d[day].per_impression(), d[day].reward_ci()))
            .collect();
        println!("| {day} | {} |", cells.join(" | "));
    }
    println!("\nTotals over all days:\n");
    println!("| policy | impressions | reward/impression | CTR (clicks/list) | purchases | return rate | expected return rate | kept margin/impression |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut totals = Vec::new();
    for (name, days) in results {
        let mut t = DayStats::default();
        days.iter().for_each(|d| t.merge(d));
        let (margin, margin_ci) = t.margin_per_impression();
        let (expected, expected_ci) = t.expected_return_rate();
        println!(
            "| {name} | {} | {:.3} ± {:.2} | {:.3} | {} | {:.3} | {expected:.4} ± {expected_ci:.4} | {margin:.3} ± {margin_ci:.2} |",
            t.impressions,
            t.per_impression(),
            t.reward_ci(),
            t.clicks as f64 / t.impressions.max(1) as f64,
            t.purchases,
            t.return_rate(),
        );
        totals.push((name.as_str(), t));
    }
    if let (Some((_, vitrine)), Some(last)) = (
        results.iter().find(|(n, _)| n == "vitrine"),
        (args.days as usize).checked_sub(1),
    ) {
        println!();
        for (name, days) in results
            .iter()
            .filter(|(n, _)| n == "popularity" || n == "random")
        {
            let (a, b) = (&vitrine[last], &days[last]);
            let diff = a.per_impression() - b.per_impression();
            let ci = (a.reward_ci().powi(2) + b.reward_ci().powi(2)).sqrt();
            println!(
                "last day, vitrine − {name}: {diff:+.3} ± {ci:.2} reward per impression ({})",
                verdict(diff, ci)
            );
        }
    }
    let with = totals.iter().find(|(n, _)| *n == "vitrine");
    let without = totals
        .iter()
        .find(|(n, _)| *n == "vitrine (no return term)");
    if let (Some((_, with)), Some((_, without))) = (with, without) {
        let (m1, c1) = with.margin_per_impression();
        let (m0, c0) = without.margin_per_impression();
        let ci = (c1 * c1 + c0 * c0).sqrt();
        let binomial = |t: &DayStats| {
            let p = t.return_rate();
            p * (1.0 - p) / t.purchases.max(1) as f64
        };
        let rate_diff = 100.0 * (with.return_rate() - without.return_rate());
        let rate_ci = 100.0 * 1.96 * (binomial(with) + binomial(without)).sqrt();
        println!(
            "return-risk term: return rate {:.1} % vs {:.1} % without, {rate_diff:+.2} ± {rate_ci:.2} points ({}); \
             kept margin per impression {:+.3} ± {ci:.2} ({})",
            100.0 * with.return_rate(),
            100.0 * without.return_rate(),
            verdict(rate_diff, rate_ci),
            m1 - m0,
            verdict(m1 - m0, ci)
        );
        let ((e1, ec1), (e0, ec0)) = (with.expected_return_rate(), without.expected_return_rate());
        let (diff, ci) = (100.0 * (e1 - e0), 100.0 * (ec1 * ec1 + ec0 * ec0).sqrt());
        println!(
            "return-risk term: expected return rate of what was bought {:.2} % vs {:.2} % without, \
             {diff:+.2} ± {ci:.2} points ({})",
            100.0 * e1,
            100.0 * e0,
            verdict(diff, ci)
        );
    }
    println!(
        "\n({seconds:.0} s; `vitrine simulate --days {} --shoppers {} --products {} --seed {} --repeats {}`)",
        args.days,
        args.shoppers,
        args.products,
        args.seed,
        args.repeats.max(1)
    );
}

/// Prints the paired return-risk study of every Vitrine run.
fn print_paired(policies: &[Policy], studies: &[PairedStudy]) {
    for (policy, study) in policies.iter().zip(studies) {
        let Some(r) = study.result() else { continue };
        println!(
            "paired, on the states of `{}` ({} visits, {} lists changed by the term): expected return \
             rate {:.2} % with the term vs {:.2} % without, {:+.2} ± {:.2} points ({}); kept margin per \
             list {:+.3} ± {:.3} ({}); purchases per list {:+.4} ± {:.4} ({})",
            policy.name(),
            r.visits,
            r.changed,
            100.0 * r.rate_with,
            100.0 * r.rate_without,
            100.0 * r.rate_diff.0,
            100.0 * r.rate_diff.1,
            verdict(r.rate_diff.0, r.rate_diff.1),
            r.margin_diff.0,
            r.margin_diff.1,
            verdict(r.margin_diff.0, r.margin_diff.1),
            r.purchase_diff.0,
            r.purchase_diff.1,
            verdict(r.purchase_diff.0, r.purchase_diff.1),
        );
    }
}

/// Words for a difference and its 95 % half-width.
fn verdict(diff: f64, ci: f64) -> &'static str {
    if diff > ci {
        "higher, significant at 95 %"
    } else if diff < -ci {
        "lower, significant at 95 %"
    } else if diff >= 0.0 {
        "higher, within noise"
    } else {
        "lower, within noise"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_interval_shrinks_with_the_square_root_of_the_sample() {
        // Values 0 and 2 alternating: mean 1, sample variance n/(n-1).
        let half_width = |n: u64| ci95(n, n as f64, 2.0 * n as f64);
        let (a, b) = (half_width(100), half_width(400));
        assert!((a / b - 2.0).abs() < 0.02, "{a} vs {b}");
        assert!((a - 1.96 * (100.0f64 / 99.0 / 100.0).sqrt()).abs() < 1e-9);
        assert!(
            ci95(1, 5.0, 25.0).is_nan(),
            "one list has no spread to measure"
        );
    }

    #[test]
    fn verdicts_separate_signal_from_noise() {
        assert_eq!(verdict(0.5, 0.2), "higher, significant at 95 %");
        assert_eq!(verdict(-0.5, 0.2), "lower, significant at 95 %");
        assert_eq!(verdict(0.1, 0.2), "higher, within noise");
        assert_eq!(verdict(-0.1, 0.2), "lower, within noise");
    }

    #[test]
    fn pooled_days_keep_the_per_list_spread() {
        let list = |margin: f64| ResponseSummary {
            kept_margin: margin,
            ..Default::default()
        };
        let (mut a, mut b) = (DayStats::default(), DayStats::default());
        a.add(&list(10.0));
        a.add(&list(0.0));
        b.add(&list(10.0));
        b.add(&list(0.0));
        let one = a.reward_ci();
        a.merge(&b);
        assert!((a.per_impression() - 5.0).abs() < 1e-12);
        assert!(a.reward_ci() < one, "four lists are more certain than two");
    }
}
