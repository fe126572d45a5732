//! The HTTP load generator shared by the serving benchmarks: `clients` concurrent connections sending GET
//! requests, either back to back (closed loop: measures the most the server can answer) or at a fixed
//! offered rate (open loop: measures the latency a shopper sees at that traffic).
//!
//! Open-loop latency is taken from each request's *scheduled* send time, not from when a busy client got
//! round to sending it (wrk2's correction for coordinated omission): when the server falls behind, the
//! wait counts against it. A closed loop's latency is mostly queueing (p50 ≈ clients ÷ throughput), so a
//! latency goal is only meaningful at a stated rate.
//!
//! With `LOADGEN_TIMELINE=FILE` in the environment every answered request is appended to FILE with its send
//! time and latency, to tell a steady tail from a few stalled seconds.

use crate::bench::percentile;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pace {
    /// Each client sends its next request as soon as the previous answer arrives.
    Closed,
    /// Requests are scheduled at this many per second in total, whatever the answers' speed.
    Rate(f64),
}

impl std::fmt::Display for Pace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pace::Closed => write!(f, "closed loop"),
            Pace::Rate(r) => write!(f, "{r:.0}/s offered"),
        }
    }
}

/// What one load run measured (latencies in milliseconds).
#[derive(Debug, Clone)]
pub(crate) struct Load {
    /// Answers per second over the run.
    pub qps: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    /// Answered requests.
    pub n: usize,
    /// Transport failures and statuses other than 2xx (and 404 where `allow_404`).
    pub errors: usize,
}

impl std::fmt::Display for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>6.0} req/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.1} ms ({} requests, {} errors)",
            self.qps, self.p50, self.p95, self.p99, self.max, self.n, self.errors
        )
    }
}

/// Sends `requests` GETs from `clients` connections at the given pace. `url(i, rng)` names request `i`;
/// each client has its own seeded random stream. With `allow_404`, a 404 counts as an answer (a
/// benchmark that picks random product ids may name one without neighbours).
pub(crate) async fn run<F>(
    clients: usize,
    requests: usize,
    pace: Pace,
    allow_404: bool,
    url: F,
) -> anyhow::Result<Load>
where
    F: Fn(usize, &mut ChaCha8Rng) -> String + Send + Sync + 'static,
{
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(60))
        .build()?;
    let url = Arc::new(url);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for c in 0..clients {
        let (client, next, url) = (client.clone(), next.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = ChaCha8Rng::seed_from_u64(c as u64);
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            let mut idle_since = started;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let scheduled = match pace {
                    Pace::Closed => Instant::now(),
                    Pace::Rate(r) => {
                        let at = started + Duration::from_secs_f64(i as f64 / r);
                        tokio::time::sleep_until(at.into()).await;
                        // A client still waiting on the server at `at` charges the wait to the server;
                        // one that was free only overslept (the timer's millisecond grain), which is
                        // the generator's lateness, not the server's.
                        if idle_since <= at {
                            Instant::now()
                        } else {
                            at
                        }
                    }
                };
                let target = url(i, &mut rng);
                match client.get(&target).send().await {
                    Ok(r)
                        if r.status().is_success()
                            || (allow_404 && r.status() == reqwest::StatusCode::NOT_FOUND) =>
                    {
                        let _ = r.bytes().await;
                        latencies.push((
                            (scheduled - started).as_secs_f64(),
                            scheduled.elapsed().as_secs_f64() * 1e3,
                        ));
                    }
                    _ => errors += 1,
                }
                idle_since = Instant::now();
            }
            (latencies, errors)
        }));
    }
    let (mut timeline, mut errors) = (Vec::with_capacity(requests), 0);
    for t in tasks {
        let (latencies, e) = t.await?;
        timeline.extend(latencies);
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    if let Ok(path) = std::env::var("LOADGEN_TIMELINE") {
        write_timeline(&path, &pace, &mut timeline)?;
    }
    let mut all: Vec<f64> = timeline.iter().map(|&(_, ms)| ms).collect();
    all.sort_by(f64::total_cmp);
    Ok(Load {
        qps: all.len() as f64 / secs,
        p50: percentile(&all, 0.5),
        p95: percentile(&all, 0.95),
        p99: percentile(&all, 0.99),
        max: all.last().copied().unwrap_or(0.0),
        n: all.len(),
        errors,
    })
}

/// Appends one line per answered request (`pace  seconds-since-start  latency-ms`, in send order) to
/// `path`, so a tail can be told apart from a stall: a few slow seconds show as a cluster.
fn write_timeline(path: &str, pace: &Pace, timeline: &mut [(f64, f64)]) -> anyhow::Result<()> {
    use std::io::Write;
    timeline.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?,
    );
    for (at, ms) in timeline.iter() {
        writeln!(out, "{pace}\t{at:.4}\t{ms:.3}")?;
    }
    Ok(())
}

/// Parses a comma-separated list of offered rates ("200,400").
pub(crate) fn parse_rates(s: &str) -> Result<Vec<f64>, String> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            p.trim()
                .parse::<f64>()
                .ok()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| {
                    format!("rate {p:?} is not a positive number of requests per second")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_bad_ones_are_named() {
        assert_eq!(parse_rates("200, 400").unwrap(), [200.0, 400.0]);
        assert!(parse_rates("").unwrap().is_empty());
        let e = parse_rates("200,fast").unwrap_err();
        assert!(e.contains("\"fast\""), "{e}");
        assert!(parse_rates("-5").is_err());
    }
}
