//! `vitrine bench recommend`: a 100k-product catalog with the histories of a million simulated shoppers
//! (10M events), served by a real `vitrine serve` process and queried over HTTP on loopback by 64
//! concurrent clients; plus the wall time of `vitrine train` on those 10M events.
//!
//! Phases: import → train (sequence model) → serve (warm-up traffic logs impressions) → train again (now
//! with the four rankers, timed) → serve with the trained version → `for_you` and `similar` latencies.

use crate::bench::{
    cpu_seconds, import_demo_products, path_str, peak_rss_kib, server_cpu, spawn_server,
    timed_child,
};
use crate::loadgen::{self, Load, Pace};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of the benchmark.
#[derive(clap::Args, Debug, Clone)]
pub struct RecommendBench {
    /// Products.
    #[arg(long, default_value_t = 100_000)]
    pub products: usize,
    /// Shoppers with a history.
    #[arg(long, default_value_t = 1_000_000)]
    pub shoppers: usize,
    /// Events across all histories.
    #[arg(long, default_value_t = 10_000_000)]
    pub events: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Offered rates (requests/s, comma-separated) at which `for_you` latency is also measured open-loop.
    #[arg(long, default_value = "1000,2000,3000", value_parser = crate::loadgen::parse_rates)]
    pub for_you_rates: std::vec::Vec<f64>,
    /// Offered rates (requests/s, comma-separated) at which `similar` latency is also measured open-loop.
    #[arg(long, default_value = "2000,4000,6000", value_parser = crate::loadgen::parse_rates)]
    pub similar_rates: std::vec::Vec<f64>,
    /// Requests per measured surface.
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// Working directory (kept between runs to reuse the imported store).
    #[arg(long)]
    pub workdir: Option<PathBuf>,
}

/// Shopper histories: two favourite leaf categories each, skewed popularity inside a leaf, the funnel
/// mix of a real shop (views ≫ clicks > carts > purchases), time-ordered over 30 days.
fn write_histories(path: &Path, b: &RecommendBench) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    let mut by_leaf: Vec<Vec<usize>> = Vec::new();
    for i in 0..b.products {
        let (_, truth) = vitrine_sim::catalog::product(9, i as u64, now);
        if by_leaf.len() <= truth.leaf {
            by_leaf.resize(truth.leaf + 1, Vec::new());
        }
        by_leaf[truth.leaf].push(i);
    }
    let leaves: Vec<&Vec<usize>> = by_leaf.iter().filter(|l| !l.is_empty()).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    let per_shopper = b.events as f64 / b.shoppers.max(1) as f64;
    let mut written = 0usize;
    for u in 0..b.shoppers {
        let favourites = [
            rng.gen_range(0..leaves.len()),
            rng.gen_range(0..leaves.len()),
        ];
        let remaining = b.events.saturating_sub(written);
        let n = ((rng.gen::<f64>() * 2.0 * per_shopper).round() as usize)
            .clamp(1, 60)
            .min(remaining);
        let mut t = now - chrono::Duration::days(30)
            + chrono::Duration::seconds(rng.gen_range(0..2_000_000));
        for k in 0..n {
            let leaf = leaves[favourites[usize::from(rng.gen_bool(0.3))]];
            let item = leaf[((rng.gen::<f64>().powi(3)) * leaf.len() as f64) as usize % leaf.len()];
            let ty = match rng.gen_range(0..100) {
                0..=69 => "view",
                70..=84 => "click",
                85..=94 => "add_to_cart",
                _ => "purchase",
            };
            t += chrono::Duration::seconds(rng.gen_range(20..600));
            writeln!(
                w,
                r#"{{"event_id":"h{u}-{k}","type":"{ty}","user_id":"U{u}","product_id":"SKU-{item:07}","timestamp":"{}"}}"#,
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )?;
            written += 1;
        }
    }
    w.flush()?;
    Ok(())
}

async fn load(base: &str, surface: &str, b: &RecommendBench, pace: Pace) -> anyhow::Result<Load> {
    let (base, surface) = (base.to_string(), surface.to_string());
    let (shoppers, products) = (b.shoppers, b.products);
    loadgen::run(
        b.clients,
        b.requests,
        pace,
        true,
        move |_, rng| match surface.as_str() {
            "for_you" => format!(
                "{base}/v1/recommend/for_you?user_id=U{}",
                rng.gen_range(0..shoppers)
            ),
            _ => format!(
                "{base}/v1/recommend/similar?item=SKU-{:07}",
                rng.gen_range(0..products)
            ),
        },
    )
    .await
}

/// Waits until the recommender answers (the server listens before it has replayed the event log).
async fn ready(base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for _ in 0..6_000 {
        if client
            .get(format!("{base}/v1/recommend/trending?count=1"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the recommender did not become ready within 10 minutes")
}

fn stop(child: &mut std::process::Child) {
    // SAFETY: plain signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
}

/// Runs the benchmark and prints its figures.
pub async fn run(b: RecommendBench) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = b
        .workdir
        .clone()
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let exe = std::env::current_exe()?;
    let db = dir.join(format!("rec-{}-{}.db", b.products, b.events));
    println!(
        "vitrine bench recommend — {} products, {} shoppers, {} events, {} clients",
        b.products, b.shoppers, b.events, b.clients
    );
    let env = [
        ("VITRINE_SEARCH__ENABLED", "false"),
        ("VITRINE_MODELS__GENERATION", "off"),
        ("VITRINE_MODELS__EMBEDDING", "off"),
    ];
    if !db.exists() {
        let secs = import_demo_products(&exe, &dir, &db, b.products)?;
        println!("import products : {} in {secs:.1} s", b.products);
        let events = dir.join("events.jsonl");
        write_histories(&events, &b)?;
        let (secs, _) = timed_child(
            &exe,
            &[
                "import",
                "events",
                path_str(&events)?,
                "--db",
                path_str(&db)?,
            ],
        )?;
        println!("import events   : {} in {secs:.1} s", b.events);
        let _ = std::fs::remove_file(&events);
        let (secs, rss) = timed_child(&exe, &["train", "--promote", "--db", path_str(&db)?])?;
        println!(
            "train (no impressions yet): {secs:.1} s, peak RSS {} MiB",
            rss / 1024
        );
        let started = Instant::now();
        let (mut child, base) = spawn_server(&exe, &db, &env)?;
        ready(&base).await?;
        println!(
            "server ready (replayed the event log): {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let warm = load(&base, "for_you", &b, Pace::Closed).await?;
        println!(
            "warm-up for_you (logs impressions): {:.0} req/s, p99 {:.1} ms",
            warm.qps, warm.p99
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop(&mut child);
        let (secs, rss) = timed_child(&exe, &["train", "--promote", "--db", path_str(&db)?])?;
        println!(
            "train on {} events + logged impressions: {secs:.1} s, peak RSS {} MiB",
            b.events,
            rss / 1024
        );
    } else {
        println!("(reusing the store in {})", db.display());
    }
    // The server keeps its signals in `recommend/signals.snapshot` beside the database when it stops.
    let snapshot = dir.join("recommend").join("signals.snapshot");
    let had_snapshot = snapshot.exists();
    let started = Instant::now();
    let (mut child, base) = spawn_server(&exe, &db, &env)?;
    ready(&base).await?;
    println!(
        "server ready ({}, loaded the model): {:.1} s, RSS {} MiB",
        if had_snapshot {
            "from the signals snapshot"
        } else {
            "replayed the event log"
        },
        started.elapsed().as_secs_f64(),
        peak_rss_kib(child.id()) / 1024
    );
    for (surface, rates) in [("for_you", &b.for_you_rates), ("similar", &b.similar_rates)] {
        let paces = std::iter::once(Pace::Closed).chain(rates.iter().map(|&r| Pace::Rate(r)));
        for pace in paces {
            let before = cpu_seconds(child.id());
            let l = load(&base, surface, &b, pace).await?;
            println!(
                "{surface:<8} {:<15}: {l}{}",
                pace.to_string(),
                server_cpu(before, cpu_seconds(child.id()), l.n)
            );
        }
    }
    println!("server peak RSS: {} MiB", peak_rss_kib(child.id()) / 1024);
    let stopping = Instant::now();
    stop(&mut child);
    println!(
        "stop (drains, writes the signals snapshot): {:.1} s, snapshot {} MiB",
        stopping.elapsed().as_secs_f64(),
        std::fs::metadata(&snapshot).map_or(0, |m| m.len()) >> 20
    );
    if !had_snapshot && snapshot.exists() {
        let started = Instant::now();
        let (mut child, base) = spawn_server(&exe, &db, &env)?;
        ready(&base).await?;
        println!(
            "restart from the signals snapshot: {:.1} s, RSS {} MiB",
            started.elapsed().as_secs_f64(),
            peak_rss_kib(child.id()) / 1024
        );
        stop(&mut child);
    }
    Ok(())
}
