//! `vitrine bench ingest`: durable event ingestion over HTTP, product import and event import, each with
//! its throughput and the peak RSS of the process doing the work. The server and importers run as child
//! processes of this binary, so their memory is measured on its own (VmHWM / wait4 rusage) and the load
//! generator's memory is not counted.

use crate::config::Config;
use anyhow::Context;
use clap::Subcommand;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::{
    io::{BufRead, BufWriter, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{atomic::AtomicUsize, atomic::Ordering, Arc},
    time::{Duration, Instant},
};
use vitrine_core::{Currency, Event, EventContext, EventType};

/// Benchmarks.
#[derive(Subcommand)]
pub enum BenchWhat {
    /// Event ingestion over HTTP (batches, concurrent clients), product import and event import.
    Ingest {
        /// Events sent over HTTP.
        #[arg(long, default_value_t = 400_000)]
        http_events: usize,
        /// Events per HTTP request.
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Products in the import benchmark.
        #[arg(long, default_value_t = 1_000_000)]
        products: usize,
        /// Events in the import benchmark.
        #[arg(long, default_value_t = 2_000_000)]
        events: usize,
        /// Working directory (default: a temporary directory, removed afterwards).
        #[arg(long)]
        workdir: Option<PathBuf>,
    },
    /// Embedding throughput (batch), query latency, and int8 recall effect on Home Depot titles.
    Embed {
        /// `products.csv` of the Home Depot dataset.
        #[arg(long, default_value = "../shared/datasets/homedepot/products.csv")]
        titles: PathBuf,
        /// Titles to embed.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Batch size.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Search over HTTP: uncached and cached latency and throughput on a demo catalog.
    Search {
        /// Products in the demo catalog.
        #[arg(long, default_value_t = 100_000)]
        products: usize,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Offered rates (queries/s, comma-separated) at which uncached latency is also measured open-loop.
        #[arg(long, default_value = "400", value_parser = crate::loadgen::parse_rates)]
        rates: std::vec::Vec<f64>,
        /// Distinct (uncached) queries sent.
        #[arg(long, default_value_t = 3_000)]
        queries: usize,
        /// Working directory; kept and reused when given (the index build is the slow part).
        #[arg(long)]
        workdir: Option<PathBuf>,
        /// Serve with this `vitrine` binary instead of this one (to compare two builds in one run).
        #[arg(long)]
        server_exe: Option<PathBuf>,
    },
    /// Recommendations over HTTP (for_you, similar) on 100k products and 1M shoppers' histories, and training time.
    Recommend(crate::bench_recommend::RecommendBench),
    /// HNSW vector index vs exact search on MiniLM embeddings of Home Depot titles (see
    /// scripts/bench_vectors.py for the FAISS comparison).
    Vectors {
        /// Home Depot folder.
        #[arg(long, default_value = "../shared/datasets/homedepot")]
        dataset: PathBuf,
        /// Where vectors and exact neighbours are written.
        #[arg(long, default_value = "target/bench-vectors")]
        out: PathBuf,
        /// Query vectors (embedded Home Depot queries).
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
    },
    /// Local LLM decode speed and time to first token.
    Generate {
        /// Tokens to generate per run.
        #[arg(long, default_value_t = 128)]
        tokens: usize,
        /// Runs (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(what: BenchWhat, config: &Config) -> anyhow::Result<()> {
    let (http_events, batch, clients, products, events, workdir) = match what {
        BenchWhat::Ingest {
            http_events,
            batch,
            clients,
            products,
            events,
            workdir,
        } => (http_events, batch, clients, products, events, workdir),
        BenchWhat::Embed {
            titles,
            count,
            batch,
            json,
        } => {
            let config = config.clone();
            return tokio::task::spawn_blocking(move || {
                crate::bench_models::embed(&config, titles, count, batch, json)
            })
            .await?;
        }
        BenchWhat::Search {
            products,
            clients,
            queries,
            rates,
            workdir,
            server_exe,
        } => {
            let setup = crate::bench_search::Setup {
                products,
                clients,
                uncached: queries,
                workdir,
                server_exe,
            };
            return crate::bench_search::run(setup, &rates).await;
        }
        BenchWhat::Recommend(b) => return crate::bench_recommend::run(b).await,
        BenchWhat::Vectors {
            dataset,
            out,
            queries,
        } => return crate::bench_vectors::run(config, &dataset, &out, queries).await,
        BenchWhat::Generate { tokens, runs, json } => {
            let config = config.clone();
            return tokio::task::spawn_blocking(move || {
                crate::bench_models::generate(&config, tokens, runs, json)
            })
            .await?;
        }
    };
    let tmp = tempfile::tempdir()?;
    let dir = workdir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let exe = std::env::current_exe()?;
    println!(
        "vitrine bench ingest — {} cores, workdir {}",
        num_cpus(),
        dir.display()
    );

    let http = bench_http(
        &exe,
        &dir,
        http_events,
        batch,
        clients,
        products.min(100_000),
    )
    .await?;
    println!(
        "http ingest   : {:>9.0} events/s durable ({http_events} events, batches of {batch}, {clients} clients; request p50 {:.1} ms, p99 {:.1} ms; server peak RSS {} MiB)",
        http.rate, http.p50_ms, http.p99_ms, http.peak_rss_kib / 1024
    );

    let products_file = dir.join("products.jsonl");
    let started = Instant::now();
    write_products(&products_file, products)?;
    eprintln!(
        "  (generated {products} products in {:.1}s)",
        started.elapsed().as_secs_f64()
    );
    let db = dir.join("import.db");
    let (secs, rss) = timed_child(
        &exe,
        &[
            "import",
            "products",
            path_str(&products_file)?,
            "--db",
            path_str(&db)?,
        ],
    )?;
    println!(
        "product import: {:>9.0} products/s ({products} products in {secs:.1}s; peak RSS {} MiB)",
        products as f64 / secs,
        rss / 1024
    );

    let events_file = dir.join("events.jsonl");
    write_events(&events_file, events, products)?;
    let (secs, rss) = timed_child(
        &exe,
        &[
            "import",
            "events",
            path_str(&events_file)?,
            "--db",
            path_str(&db)?,
        ],
    )?;
    println!(
        "event import  : {:>9.0} events/s ({events} events in {secs:.1}s; peak RSS {} MiB)",
        events as f64 / secs,
        rss / 1024
    );
    Ok(())
}

fn num_cpus() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

pub(crate) fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str().context("non-UTF-8 path")
}

struct HttpFigures {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    peak_rss_kib: u64,
}

/// Synthetic but well-formed funnel events over `products` SKUs.
pub(crate) fn synthetic_event(i: usize, products: usize, rng: &mut ChaCha8Rng) -> Event {
    let kinds = [
        (EventType::Impression, 30),
        (EventType::View, 30),
        (EventType::Click, 20),
        (EventType::AddToCart, 8),
        (EventType::Purchase, 4),
        (EventType::Search, 6),
        (EventType::Return, 1),
        (EventType::Review, 1),
    ];
    let mut roll = rng.gen_range(0..100);
    let kind = kinds.iter().find(|(_, w)| {
        if roll < *w {
            true
        } else {
            roll -= w;
            false
        }
    });
    let kind = kind.map(|(k, _)| *k).unwrap_or(EventType::View);
    let sku = |rng: &mut ChaCha8Rng| format!("SKU-{:07}", rng.gen_range(0..products.max(1)));
    let product_ids = match kind {
        EventType::Search => vec![],
        EventType::Impression => (0..10).map(|_| sku(rng)).collect(),
        _ => vec![sku(rng)],
    };
    let user = rng.gen_range(0..1_000_000);
    Event {
        event_id: format!("bench-{i}-{:08x}", rng.gen::<u32>()),
        event_type: kind,
        user_id: Some(format!("U-{user:07}")),
        session_id: Some(format!("S-{user:07}-{}", rng.gen_range(0..5))),
        product_ids,
        quantity: matches!(
            kind,
            EventType::AddToCart | EventType::Purchase | EventType::Return
        )
        .then_some(1),
        price: matches!(kind, EventType::Purchase | EventType::Return)
            .then(|| rust_decimal::Decimal::new(rng.gen_range(500..20_000), 2)),
        currency: matches!(kind, EventType::Purchase | EventType::Return)
            .then(|| Currency::parse("USD").ok())
            .flatten(),
        request_id: Some(format!("req-{:x}", rng.gen::<u64>())),
        position: (kind == EventType::Click).then(|| rng.gen_range(0..20)),
        query: (kind == EventType::Search).then(|| "waterproof hiking boots".to_string()),
        rating: (kind == EventType::Review).then(|| rng.gen_range(1..=5)),
        review: None,
        context: EventContext {
            device: Some("mobile".into()),
            channel: Some("web".into()),
            region: Some("DE".into()),
            referrer: None,
        },
        timestamp: chrono::Utc::now(),
    }
}

async fn bench_http(
    exe: &Path,
    dir: &Path,
    n: usize,
    batch: usize,
    clients: usize,
    products: usize,
) -> anyhow::Result<HttpFigures> {
    let db = dir.join("http.db");
    let (mut child, base) = spawn_server(
        exe,
        &db,
        &[
            ("VITRINE_MODELS__EMBEDDING", "off"),
            ("VITRINE_MODELS__GENERATION", "off"),
        ],
    )?;

    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let bodies: Vec<Vec<u8>> = (0..n.div_ceil(batch))
        .map(|b| {
            let events: Vec<Event> = (b * batch..((b + 1) * batch).min(n))
                .map(|i| synthetic_event(i, products, &mut rng))
                .collect();
            serde_json::to_vec(&events).unwrap_or_default()
        })
        .collect();
    let bodies = Arc::new(bodies);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, bodies, next, url) = (
            client.clone(),
            bodies.clone(),
            next.clone(),
            format!("{base}/v1/events"),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { break };
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                anyhow::ensure!(
                    resp.status().is_success(),
                    "HTTP {}: {}",
                    resp.status(),
                    resp.text().await.unwrap_or_default()
                );
                let _ = resp.bytes().await?;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| percentile(&latencies, p);
    let peak = peak_rss_kib(child.id());
    // SIGTERM: graceful shutdown path.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
    Ok(HttpFigures {
        rate: n as f64 / elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        peak_rss_kib: peak,
    })
}

pub(crate) fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// CPU seconds (user + system) a process has used so far, from `/proc/PID/stat`; `None` off Linux.
/// Why: on a shared 2-core VM throughput and latency swing with the machine's speed from minute to
/// minute, while the server's CPU time per request is the capacity figure a change actually moves.
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    cpu_seconds_of_stat(&stat, clock_ticks_per_second())
}

/// User + system seconds from the text of `/proc/PID/stat` (fields 14 and 15, counted after the
/// command name, which may itself hold spaces and parentheses).
pub(crate) fn cpu_seconds_of_stat(stat: &str, ticks_per_second: f64) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) and stime (15) are 11 and 12.
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / ticks_per_second)
}

/// ", server CPU X ms per request" from CPU seconds read before and after a run (empty off Linux).
pub(crate) fn server_cpu(before: Option<f64>, after: Option<f64>, requests: usize) -> String {
    match (before, after) {
        (Some(b), Some(a)) if requests > 0 => format!(
            ", server CPU {:.2} ms per request",
            (a - b) * 1e3 / requests as f64
        ),
        _ => String::new(),
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a constant of the running system.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

/// The `p` quantile (0..1) of sorted latencies; 0 when there are none.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p) as usize)
        .copied()
        .unwrap_or(0.0)
}

/// Starts `vitrine serve` on a free loopback port as a child process and waits for its "listening" line.
pub(crate) fn spawn_server(
    exe: &Path,
    db: &Path,
    env: &[(&str, &str)],
) -> anyhow::Result<(std::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(exe)
        .args([
            "serve",
            "--db",
            path_str(db)?,
            "--addr",
            &format!("127.0.0.1:{port}"),
        ])
        .env("VITRINE_LOG__LEVEL", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting the server")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line)?;
    anyhow::ensure!(
        line.starts_with("listening on"),
        "server did not start: {line}"
    );
    Ok((child, format!("http://127.0.0.1:{port}")))
}

/// Runs `exe args…`, returning wall seconds and the child's own peak RSS in KiB (from wait4).
pub(crate) fn timed_child(exe: &Path, args: &[&str]) -> anyhow::Result<(f64, u64)> {
    let started = Instant::now();
    let child = Command::new(exe)
        .args(args)
        .env("VITRINE_LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 reaps exactly this child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{args:?} failed (status {status})"
    );
    Ok((secs, usage.ru_maxrss as u64))
}

/// Writes `n` demo products into `dir/products.jsonl` and imports them into `db` with a child
/// `vitrine import`; returns the import's wall seconds.
pub(crate) fn import_demo_products(
    exe: &Path,
    dir: &Path,
    db: &Path,
    n: usize,
) -> anyhow::Result<f64> {
    let file = dir.join("products.jsonl");
    write_products(&file, n)?;
    let (secs, _) = timed_child(
        exe,
        &[
            "import",
            "products",
            path_str(&file)?,
            "--db",
            path_str(db)?,
        ],
    )?;
    Ok(secs)
}

pub(crate) fn write_products(path: &Path, n: usize) -> anyhow::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    let now = chrono::Utc::now();
    for i in 0..n {
        let (p, _) = vitrine_sim::catalog::product(9, i as u64, now);
        serde_json::to_writer(&mut w, &p)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

fn write_events(path: &Path, n: usize, products: usize) -> anyhow::Result<()> {
    let mut w = BufWriter::new(std::fs::File::create(path)?);
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for i in 0..n {
        serde_json::to_writer(&mut w, &synthetic_event(i, products, &mut rng))?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_read_past_a_command_name_with_spaces() {
        let stat = "4242 (vitrine (serve) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    250 75 0 0 20 0 9 0 1000 123456 789 18446744073709551615";
        assert_eq!(cpu_seconds_of_stat(stat, 100.0), Some(3.25));
        assert_eq!(cpu_seconds_of_stat("garbage", 100.0), None);
        assert_eq!(cpu_seconds_of_stat("1 (x) S 1 2", 100.0), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let spent = cpu_seconds(std::process::id()).expect("Linux /proc");
        assert!(spent >= 0.0);
    }
}
