//! `vitrine bench search`: a demo catalog served by a real `vitrine serve` process, queried over HTTP on
//! loopback by concurrent clients. Uncached = every query string is new (no result or embedding cache can
//! help); cached = a small set of queries repeated after one warm-up pass.

use crate::bench::{
    import_demo_products, path_str, peak_rss_kib, percentile, spawn_server, timed_child,
};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
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

struct Load {
    qps: f64,
    p50: f64,
    p95: f64,
    p99: f64,
    n: usize,
}

async fn load(
    base: &str,
    queries: Arc<Vec<String>>,
    requests: usize,
    clients: usize,
) -> anyhow::Result<Load> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, queries, next, url) = (
            client.clone(),
            queries.clone(),
            next.clone(),
            format!("{base}/v1/search"),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let q = &queries[i % queries.len()];
                let t = Instant::now();
                let resp = client.get(&url).query(&[("q", q.as_str())]).send().await?;
                anyhow::ensure!(
                    resp.status().is_success(),
                    "HTTP {} for {q:?}",
                    resp.status()
                );
                let _ = resp.bytes().await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| percentile(&lat, p);
    Ok(Load {
        qps: lat.len() as f64 / secs,
        p50: pct(0.5),
        p95: pct(0.95),
        p99: pct(0.99),
        n: lat.len(),
    })
}

/// Runs the benchmark.
pub async fn run(
    products: usize,
    clients: usize,
    uncached: usize,
    workdir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = workdir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let exe = std::env::current_exe()?;
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
    let (mut child, base) = spawn_server(&exe, &db, &[("VITRINE_MODELS__GENERATION", "off")])?;
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

    let queries = Arc::new(demo_queries(uncached + 100, 11));
    anyhow::ensure!(queries.len() > 100, "too few distinct queries generated");
    let fresh: Arc<Vec<String>> = Arc::new(queries[100..].to_vec());
    let u = load(&base, fresh.clone(), fresh.len(), clients).await?;
    println!(
        "uncached      : {:>6.0} queries/s, p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms ({} distinct queries)",
        u.qps, u.p50, u.p95, u.p99, u.n
    );
    let hot: Arc<Vec<String>> = Arc::new(queries[..100].to_vec());
    load(&base, hot.clone(), hot.len(), 1).await?;
    let c = load(&base, hot.clone(), 20_000, clients).await?;
    println!(
        "cached        : {:>6.0} queries/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms ({} requests over 100 queries)",
        c.qps, c.p50, c.p95, c.p99, c.n
    );
    println!("server peak RSS: {} MiB", peak_rss_kib(child.id()) / 1024);
    // SAFETY: plain signal to our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    Ok(())
}
