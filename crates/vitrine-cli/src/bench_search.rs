//! `vitrine bench search`: a demo catalog served by a real `vitrine serve` process, queried over HTTP on
//! loopback by concurrent clients. Uncached = every query string is new (no result or embedding cache can
//! help); cached = a small set of queries repeated after one warm-up pass.

use crate::bench::{
    cpu_seconds, import_demo_products, path_str, peak_rss_kib, server_cpu, spawn_server,
    timed_child,
};
use crate::loadgen::{self, Load, Pace};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use vitrine_sim::vocabulary::{BRANDS, COLOURS, LEAVES};

/// Distinct shopper-like queries over the demo vocabulary.
pub fn demo_queries(n: usize, seed: u64) -> Vec<String> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = BTreeSet::new();
    let mut attempts = 0;
    while out.len() < n && attempts < n * 20 {
        attempts += 1;
        let leaf = &LEAVES[rng.gen_range(0..LEAVES.len())];
        let noun = leaf
            .nouns
            .choose(&mut rng)
            .copied()
            .unwrap_or("item")
            .to_lowercase();
        let colour = COLOURS.choose(&mut rng).copied().unwrap_or("black");
        let material = leaf.materials.choose(&mut rng).copied().unwrap_or("cotton");
        let q = match rng.gen_range(0..7) {
            0 => format!("{colour} {material} {noun}"),
            1 => format!("{noun} under ${}", rng.gen_range(2..30) * 10),
            2 => format!(
                "{material} {noun} for {}",
                ["men", "women"][rng.gen_range(0..2)]
            ),
            3 => {
                let brands = BRANDS
                    .iter()
                    .find(|(d, _)| leaf.path.first() == Some(d))
                    .map(|b| b.1)
                    .unwrap_or(&[]);
                format!(
                    "{} {noun}",
                    brands.choose(&mut rng).copied().unwrap_or("acme")
                )
            }
            4 => format!(
                "{colour} {noun} not {}",
                COLOURS.choose(&mut rng).copied().unwrap_or("white")
            ),
            5 => format!("cheapest {material} {noun}"),
            _ => format!(
                "{} {noun} between ${} and ${}",
                leaf.uses.choose(&mut rng).copied().unwrap_or(""),
                rng.gen_range(1..5) * 10,
                rng.gen_range(6..30) * 10
            ),
        };
        out.insert(q.trim().to_string());
    }
    let mut v: Vec<String> = out.into_iter().collect();
    v.shuffle(&mut rng);
    v
}

fn search_url(base: &str, q: &str) -> String {
    let mut url = reqwest::Url::parse(&format!("{base}/v1/search")).expect("loopback base URL");
    url.query_pairs_mut().append_pair("q", q);
    url.into()
}

fn suggest_url(base: &str, q: &str) -> String {
    let mut url = reqwest::Url::parse(&format!("{base}/v1/suggest")).expect("loopback base URL");
    url.query_pairs_mut().append_pair("q", q);
    url.into()
}

/// Sends each query of `queries` once (or `requests` times round-robin) at the given pace, to the
/// URL `url` makes of it.
async fn load_with(
    base: &str,
    queries: Arc<Vec<String>>,
    requests: usize,
    clients: usize,
    pace: Pace,
    url: fn(&str, &str) -> String,
) -> anyhow::Result<Load> {
    let base = base.to_string();
    let l = loadgen::run(clients, requests, pace, false, move |i, _| {
        url(&base, &queries[i % queries.len()])
    })
    .await?;
    anyhow::ensure!(l.errors == 0, "{} requests failed", l.errors);
    Ok(l)
}

/// [`load_with`] for searches.
async fn load(
    base: &str,
    queries: Arc<Vec<String>>,
    requests: usize,
    clients: usize,
    pace: Pace,
) -> anyhow::Result<Load> {
    load_with(base, queries, requests, clients, pace, search_url).await
}

/// What the benchmark runs on.
pub struct Setup {
    /// Products in the demo catalog.
    pub products: usize,
    /// Concurrent HTTP clients.
    pub clients: usize,
    /// Distinct (uncached) queries per run.
    pub uncached: usize,
    /// Kept working directory (catalog and indexes reused).
    pub workdir: Option<PathBuf>,
    /// Another `vitrine` binary to serve with (A/B of two builds on the same indexes).
    pub server_exe: Option<PathBuf>,
}

/// Stock updates sent one after another during the churn run.
const STOCK_UPDATES: usize = 200;

/// Runs the benchmark.
pub async fn run(setup: Setup, rates: &[f64]) -> anyhow::Result<()> {
    let Setup {
        products,
        clients,
        uncached,
        workdir,
        server_exe,
    } = setup;
    let tmp = tempfile::tempdir()?;
    let dir = workdir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let exe = std::env::current_exe()?;
    let server = server_exe.unwrap_or_else(|| exe.clone());
    let db = dir.join(format!("search-{products}.db"));
    println!(
        "vitrine bench search — {products} products, {clients} clients, workdir {}",
        dir.display()
    );
    if !db.exists() {
        let secs = import_demo_products(&exe, &dir, &db, products)?;
        println!("import        : {products} products in {secs:.1} s");
        let (secs, rss) = timed_child(&exe, &["reindex", "--db", path_str(&db)?])?;
        println!(
            "reindex       : {secs:.1} s for text + vectors ({:.0} products/s embedded; peak RSS {} MiB)",
            products as f64 / secs,
            rss / 1024
        );
    } else {
        println!("(reusing the catalog and indexes in {})", db.display());
    }
    let (child, base) = spawn_server(&server, &db, &[("VITRINE_MODELS__GENERATION", "off")])?;
    // Stopped however the benchmark ends: a server left running would hold the index lock.
    let child = StopOnDrop(child);
    // Wait until search answers (doc table loaded).
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if client
            .get(format!("{base}/v1/search?q=warmup"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every uncached run gets its own distinct queries, so no run is helped by an earlier one's cache.
    let runs = 1 + rates.len();
    let queries = demo_queries(uncached * runs + 100, 11);
    anyhow::ensure!(queries.len() > 100, "too few distinct queries generated");
    let per_run = (queries.len() - 100) / runs;
    let fresh =
        |run: usize| Arc::new(queries[100 + run * per_run..100 + (run + 1) * per_run].to_vec());
    let pid = child.0.id();
    let paces = std::iter::once(Pace::Closed).chain(rates.iter().map(|&r| Pace::Rate(r)));
    for (run, pace) in paces.enumerate() {
        let before = cpu_seconds(pid);
        let u = load(&base, fresh(run), per_run, clients, pace).await?;
        println!(
            "uncached, {:<14}: {u}{}",
            pace.to_string(),
            server_cpu(before, cpu_seconds(pid), u.n)
        );
    }
    let hot: Arc<Vec<String>> = Arc::new(queries[..100].to_vec());
    load(&base, hot.clone(), hot.len(), 1, Pace::Closed).await?;
    for pace in [Pace::Closed, Pace::Rate(2_000.0)] {
        let before = cpu_seconds(pid);
        let c = load(&base, hot.clone(), 20_000, clients, pace).await?;
        println!(
            "cached,   {:<14}: {c} over 100 queries{}",
            pace.to_string(),
            server_cpu(before, cpu_seconds(pid), c.n)
        );
    }
    // Autocomplete as typed: the first 1 to 6 characters of each query, every one a request.
    let prefixes: Vec<String> = queries[100..]
        .iter()
        .flat_map(|q| (1..=6).map(move |n| q.chars().take(n).collect::<String>()))
        .collect();
    let prefixes = Arc::new(prefixes);
    let before = cpu_seconds(pid);
    let s = load_with(
        &base,
        prefixes.clone(),
        10_000,
        clients,
        Pace::Closed,
        suggest_url,
    )
    .await?;
    println!(
        "suggest,  {:<14}: {s} over {} prefixes{}",
        Pace::Closed.to_string(),
        prefixes.len().min(10_000),
        server_cpu(before, cpu_seconds(pid), s.n)
    );
    // Catalog churn: stock updates, the most common write, one after another (each wakes the
    // index followers). The server's CPU per update is what keeping search current costs.
    let before = cpu_seconds(pid);
    let started = std::time::Instant::now();
    for i in 0..STOCK_UPDATES {
        let sku = format!("SKU-{:07}", (i * 7_919) % products);
        let resp = client
            .patch(format!("{base}/v1/products/{sku}"))
            .json(&serde_json::json!({ "quantity": 1 + i % 50 }))
            .send()
            .await?;
        anyhow::ensure!(resp.status().is_success(), "PATCH {sku}: {}", resp.status());
    }
    // Let the followers finish the last catch-up before reading the CPU counter.
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "stock updates  : {STOCK_UPDATES} PATCHes one after another in {:.1} s{} (the index followers included)",
        started.elapsed().as_secs_f64(),
        server_cpu(before, cpu_seconds(pid), STOCK_UPDATES)
    );
    println!("server peak RSS: {} MiB", peak_rss_kib(pid) / 1024);
    Ok(())
}

/// The benchmarked server, stopped (SIGTERM, then waited for) when dropped.
struct StopOnDrop(std::process::Child);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // SAFETY: plain signal to our own child.
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let _ = self.0.wait();
    }
}
