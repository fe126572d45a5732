//! `vitrine bench vectors`: the HNSW index (usearch, int8) on real product embeddings (Home Depot titles,
//! MiniLM) against exact search: recall@10 and single-thread queries/s for several search breadths. It also
//! writes the vectors and the exact neighbours so `scripts/bench_vectors.py` can run FAISS HNSW on the same
//! data in the same run and print the ratio.

use crate::config::Config;
use anyhow::Context;
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use vitrine_search::eval::HomeDepot;
use vitrine_search::vectors::{HnswParams, VectorIndex};

fn write_f32(path: &Path, rows: &[Vec<f32>]) -> anyhow::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for r in rows {
        for x in r {
            f.write_all(&x.to_le_bytes())?;
        }
    }
    f.flush()?;
    Ok(())
}

/// Search breadths measured on every engine; fine enough near recall 0.95 that the comparison lands on
/// each engine's own smallest sufficient breadth, not on a coarse grid's next step.
const EF_SEARCH_GRID: [usize; 10] = [16, 24, 32, 40, 48, 56, 64, 80, 96, 128];

/// Runs the benchmark; prints one JSON object per configuration.
pub async fn run(
    config: &Config,
    dataset: &Path,
    out: &Path,
    n_queries: usize,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let data = HomeDepot::load(dataset).context("reading the Home Depot data set")?;
    let embedder = crate::models::backends(config)
        .embedder
        .map_err(|e| anyhow::anyhow!("needs the embedding model: {e}"))?;
    let cache = dirs::cache_dir()
        .unwrap_or_default()
        .join("vitrine")
        .join("eval");
    let titles: Vec<String> = data.products.iter().map(|p| p.1.clone()).collect();
    let base = crate::eval::embed_cached(embedder.as_ref(), &titles, &cache, "homedepot").await?;
    let qtexts: Vec<String> = data
        .sample(n_queries, 42)
        .into_iter()
        .map(|q| q.text)
        .collect();
    let queries =
        crate::eval::embed_cached(embedder.as_ref(), &qtexts, &cache, "homedepot-queries").await?;
    write_f32(&out.join("base.f32"), &base)?;
    write_f32(&out.join("queries.f32"), &queries)?;

    // Exact top-10 by brute force (f32 dot products of normalised vectors = cosine).
    let t = Instant::now();
    let truth: Vec<Vec<u64>> = queries
        .iter()
        .map(|q| {
            let mut scored: Vec<(f32, u64)> = base
                .iter()
                .enumerate()
                .map(|(i, v)| (q.iter().zip(v).map(|(a, b)| a * b).sum(), i as u64))
                .collect();
            scored.select_nth_unstable_by(10, |a, b| b.0.total_cmp(&a.0));
            let mut top: Vec<(f32, u64)> = scored[..10].to_vec();
            top.sort_by(|a, b| b.0.total_cmp(&a.0));
            top.into_iter().map(|x| x.1).collect()
        })
        .collect();
    let mut gt = std::io::BufWriter::new(std::fs::File::create(out.join("truth.u32"))?);
    for row in &truth {
        for id in row {
            gt.write_all(&(*id as u32).to_le_bytes())?;
        }
    }
    gt.flush()?;
    eprintln!(
        "exact search for {} queries in {:.1} s",
        queries.len(),
        t.elapsed().as_secs_f64()
    );

    let params = HnswParams::default();
    let index = VectorIndex::open(None, base[0].len(), params, "bench")?;
    let t = Instant::now();
    let items: Vec<(u64, u64, Vec<f32>)> = base
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64, 0, v.clone()))
        .collect();
    for chunk in items.chunks(4096) {
        index.upsert(chunk)?;
    }
    let build = t.elapsed().as_secs_f64();
    let report =
        |engine: &str, quantization: &str, ef: usize, hits: usize, secs: f64, build: f64| {
            println!(
                "{}",
                serde_json::json!({
                    "engine": engine, "quantization": quantization, "M": params.connectivity,
                    "ef_construction": params.expansion_add, "ef_search": ef,
                    "recall_at_10": hits as f64 / (queries.len() * 10) as f64,
                    "qps_single_thread": queries.len() as f64 / secs,
                    "build_s": build, "vectors": base.len(),
                })
            );
        };
    for ef in EF_SEARCH_GRID {
        index.set_expansion_search(ef);
        let t = Instant::now();
        let mut hits = 0usize;
        for (q, want) in queries.iter().zip(&truth) {
            let got = index.search(q, 10, None)?;
            hits += got.iter().filter(|(k, _)| want.contains(k)).count();
        }
        report("usearch", "i8", ef, hits, t.elapsed().as_secs_f64(), build);
    }

    // The other maintained Rust HNSW the issue names, same graph parameters, one thread, f32 inner product.
    let unit = |v: &Vec<f32>| -> Vec<f32> {
        let norm = v
            .iter()
            .map(|x| f64::from(*x).powi(2))
            .sum::<f64>()
            .sqrt()
            .max(1e-12);
        v.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
    };
    let base_unit: Vec<Vec<f32>> = base.iter().map(unit).collect();
    let queries_unit: Vec<Vec<f32>> = queries.iter().map(unit).collect();
    let t = Instant::now();
    let hnsw = hnsw_rs::hnsw::Hnsw::<f32, hnsw_rs::prelude::DistDot>::new(
        params.connectivity,
        base_unit.len(),
        16,
        params.expansion_add,
        hnsw_rs::prelude::DistDot,
    );
    for (i, v) in base_unit.iter().enumerate() {
        hnsw.insert((v.as_slice(), i));
    }
    let build = t.elapsed().as_secs_f64();
    for ef in EF_SEARCH_GRID {
        let t = Instant::now();
        let mut hits = 0usize;
        for (q, want) in queries_unit.iter().zip(&truth) {
            let got = hnsw.search(q, 10, ef);
            hits += got
                .iter()
                .filter(|n| want.contains(&(n.d_id as u64)))
                .count();
        }
        report("hnsw_rs", "f32", ef, hits, t.elapsed().as_secs_f64(), build);
    }
    Ok(())
}
