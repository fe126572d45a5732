//! `vitrine bench recommend`: a 100k-product catalog with the histories of a million simulated shoppers
//! (10M events), served by a real `vitrine serve` process and queried over HTTP on loopback by 64
//! concurrent clients; plus the wall time of `vitrine train` on those 10M events.
//!
//! Phases: import → train (sequence model) → serve (warm-up traffic logs impressions) → train again (now
//! with the four rankers, timed) → serve with the trained version → `for_you` and `similar` latencies.

use crate::bench::{
    import_demo_products, path_str, peak_rss_kib, percentile, spawn_server, timed_child,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
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

struct Load {
    qps: f64,
    p50: f64,
    p99: f64,
    errors: usize,
}

async fn load(base: &str, surface: &str, b: &RecommendBench) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(b.clients)
        .build()?;
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..b.clients {
        let (client, next, base, surface) = (
            client.clone(),
            next.clone(),
            base.to_string(),
            surface.to_string(),
        );
        let (total, shoppers, products) = (b.requests, b.shoppers, b.products);
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(c as u64);
            let (mut lat, mut errors) = (Vec::new(), 0usize);
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < total {
                let url = match surface.as_str() {
                    "for_you" => format!(
                        "{base}/v1/recommend/for_you?user_id=U{}",
                        rng.gen_range(0..shoppers)
                    ),
                    _ => format!(
                        "{base}/v1/recommend/similar?item=SKU-{:07}",
                        rng.gen_range(0..products)
                    ),
                };
                let t = Instant::now();
                match client.get(url).send().await {
                    Ok(r)
                        if r.status().is_success()
                            || r.status() == reqwest::StatusCode::NOT_FOUND =>
                    {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (lat, e) = t.await?;
        all.extend(lat);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Ok(Load {
        qps: all.len() as f64 / secs,
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        errors,
    })
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
        let warm = load(&base, "for_you", &b).await?;
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
    let started = Instant::now();
    let (mut child, base) = spawn_server(&exe, &db, &env)?;
    ready(&base).await?;
    println!(
        "server ready (replayed the event log, loaded the model): {:.1} s, RSS {} MiB",
        started.elapsed().as_secs_f64(),
        peak_rss_kib(child.id()) / 1024
    );
    for surface in ["for_you", "similar"] {
        let l = load(&base, surface, &b).await?;
        println!(
            "{surface:<8}: {:>6.0} req/s, p50 {:.2} ms, p99 {:.2} ms over {} requests ({} errors)",
            l.qps, l.p50, l.p99, b.requests, l.errors
        );
    }
    println!("server peak RSS: {} MiB", peak_rss_kib(child.id()) / 1024);
    stop(&mut child);
    Ok(())
}
