//! `vitrine bench embed` and `vitrine bench generate`: the Rust half of the model benchmarks. Each prints
//! a human line and, with `--json`, one JSON object that `scripts/bench_models.py` puts beside ONNX Runtime
//! and llama.cpp figures measured in the same run.

use crate::config::Config;
use anyhow::Context;
use std::{path::PathBuf, time::Instant};
use vitrine_models::{
    embed::quantize::{dot as qdot, quantize},
    llm::chat_ml,
    ChatMessage, GenerateOptions, LocalEmbedder, LocalGenerator,
};

/// The prompt both generation benchmarks use.
pub const BENCH_PROMPT: &str =
    "Write a detailed product description for a pair of waterproof leather hiking boots \
                                with a cushioned sole, covering materials, comfort, fit and care.";

/// Product titles from the Home Depot dataset (`product_uid,title` CSV), in file order.
pub fn homedepot_titles(path: &PathBuf, n: usize) -> anyhow::Result<Vec<String>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::with_capacity(n);
    for rec in r.records() {
        let rec = rec?;
        if let Some(t) = rec.get(1) {
            out.push(t.to_string());
        }
        if out.len() == n {
            break;
        }
    }
    Ok(out)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

pub fn embed(
    config: &Config,
    titles: PathBuf,
    count: usize,
    batch: usize,
    json: bool,
) -> anyhow::Result<()> {
    let e = LocalEmbedder::load(&config.models.dir)?;
    let mut texts = homedepot_titles(&titles, count)?;
    anyhow::ensure!(!texts.is_empty(), "no titles in {}", titles.display());
    // Same order for every engine: sorted by length so batches pad little (ORT gets the same batches).
    texts.sort_by_key(String::len);
    e.embed_blocking(&texts[..batch.min(texts.len())])?; // warm-up
    let started = Instant::now();
    let mut vectors = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(batch) {
        vectors.extend(e.embed_blocking(chunk)?);
    }
    let throughput = texts.len() as f64 / started.elapsed().as_secs_f64();

    let query = "waterproof hiking boots for men with ankle support under 120".to_string();
    let mut lat = Vec::new();
    for i in 0..300 {
        let q = format!("{query} {}", i % 7); // defeat no cache (there is none here) but vary input slightly
        let t = Instant::now();
        e.embed_blocking(&[q])?;
        if i >= 20 {
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(f64::total_cmp);

    // int8 effect on nearest neighbours: top-10 by exact f32 dot vs by int8 dot, for 500 queries.
    let quantized: Vec<_> = vectors.iter().map(|v| quantize(v)).collect();
    let queries: Vec<usize> = (0..vectors.len())
        .step_by((vectors.len() / 500).max(1))
        .take(500)
        .collect();
    let mut overlap = 0usize;
    for &qi in &queries {
        let q = &vectors[qi];
        let top = |score: &dyn Fn(usize) -> f32| {
            let mut s: Vec<(f32, usize)> = (0..vectors.len())
                .filter(|&j| j != qi)
                .map(|j| (score(j), j))
                .collect();
            s.select_nth_unstable_by(10, |a, b| b.0.total_cmp(&a.0));
            s.truncate(10);
            s.into_iter()
                .map(|(_, j)| j)
                .collect::<std::collections::HashSet<_>>()
        };
        let exact = top(&|j| vectors[j].iter().zip(q).map(|(a, b)| a * b).sum());
        let approx = top(&|j| qdot(q, &quantized[j]));
        overlap += exact.intersection(&approx).count();
    }
    let recall = overlap as f64 / (queries.len() * 10) as f64;
    let truncated = e.stats.truncated.load(std::sync::atomic::Ordering::Relaxed);
    if json {
        println!(
            "{}",
            serde_json::json!({"engine": "vitrine", "sentences": texts.len(), "batch": batch,
                "sentences_per_s": throughput, "query_p50_ms": percentile(&lat, 0.5), "query_p99_ms": percentile(&lat, 0.99),
                "int8_recall_at_10": recall, "truncated": truncated})
        );
    } else {
        println!(
            "embeddings: {throughput:.0} sentences/s ({} titles, batch {batch}); 10-word query p50 {:.2} ms, p99 {:.2} ms; \
             int8 vs f32 recall@10 {recall:.4} (500 queries); {truncated} truncated",
            texts.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        );
    }
    Ok(())
}

pub fn generate(config: &Config, tokens: usize, runs: usize, json: bool) -> anyhow::Result<()> {
    let g = LocalGenerator::load(&config.models.dir, 1)?;
    let prompt = chat_ml(&[ChatMessage::new("user", BENCH_PROMPT)]);
    let options = GenerateOptions {
        max_tokens: tokens,
        temperature: 0.0,
        repetition_penalty: 1.0,
        ..Default::default()
    };
    g.generate_prompt_blocking(
        &prompt,
        &GenerateOptions {
            max_tokens: 8,
            ..options.clone()
        },
        None,
    )?; // warm-up
    let (mut tps, mut ttft, mut generated) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs {
        let r = g.generate_prompt_blocking(&prompt, &options, None)?;
        let decode_s = (r.total_ms - r.time_to_first_token_ms) / 1000.0;
        tps.push((r.completion_tokens.saturating_sub(1)) as f64 / decode_s.max(1e-9));
        ttft.push(r.time_to_first_token_ms);
        generated = r.completion_tokens;
    }
    tps.sort_by(f64::total_cmp);
    ttft.sort_by(f64::total_cmp);
    let (tps, ttft) = (percentile(&tps, 0.5), percentile(&ttft, 0.5));
    // Best-of-4 as the content writer runs it: one prompt pass, four sampled completions decoded together.
    let sampled: Vec<GenerateOptions> = (0..4)
        .map(|i| GenerateOptions {
            temperature: 0.7,
            seed: 1 + i,
            ..options.clone()
        })
        .collect();
    let started = std::time::Instant::now();
    let four = g.generate_many_blocking(&prompt, &sampled, None)?;
    let four_tps = four.iter().map(|r| r.completion_tokens).sum::<usize>() as f64
        / started.elapsed().as_secs_f64();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    if json {
        println!(
            "{}",
            serde_json::json!({"engine": "vitrine", "tokens_per_s": tps, "ttft_ms": ttft, "best_of_4_tokens_per_s": four_tps,
                "completion_tokens": generated, "prompt": BENCH_PROMPT, "threads": threads})
        );
    } else {
        println!("generation: {tps:.1} tokens/s decode, first token {ttft:.0} ms ({generated} tokens, greedy, {threads} threads, median of {runs}); \
             4 completions of one prompt together: {four_tps:.1} tokens/s in all");
    }
    Ok(())
}
