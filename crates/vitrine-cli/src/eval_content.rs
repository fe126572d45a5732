//! `vitrine eval facts` and `vitrine eval content`: the fact checker's measurement, and copy generation on
//! Myntra products imported with the project's CSV mapping (validation scores, fact findings for N = 1 vs
//! best-of-N, products per minute). Figures go to docs/content.md.

use crate::config::Config;
use crate::progress;
use anyhow::Context;
use futures::StreamExt;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use vitrine_content::{evalset, CopyWriter};
use vitrine_ingest::{CsvMapping, ImportOptions, ProductFormat};
use vitrine_store::{SqliteStore, Store, StoreOptions};

/// The Myntra column mapping shipped in `mappings/`.
pub const MYNTRA_MAPPING: &str = include_str!("../../../mappings/myntra.toml");

/// Runs the fact-checker evaluation and prints its table.
pub fn facts(myntra: &Path, products: usize, seed: u64, json: bool) -> anyhow::Result<()> {
    let source = evalset::load_myntra(myntra, products, seed)
        .with_context(|| format!("reading {}", myntra.display()))?;
    let cases = evalset::build_cases(&source, seed);
    let s = evalset::evaluate(&source, &cases);
    if json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(());
    }
    println!(
        "fact checker on {} Myntra products (seed {seed}), {} cases",
        s.products,
        cases.len()
    );
    println!("| case | kind | cases | flagged | flagged at the changed span |");
    println!("|---|---|---|---|---|");
    for (kind, altered) in evalset::ALTERATIONS
        .iter()
        .map(|k| (k, true))
        .chain(evalset::REWRITES.iter().map(|k| (k, false)))
    {
        if let Some(r) = s.kinds.get(*kind) {
            let at = if altered {
                format!(
                    "{:.1}%",
                    100.0 * r.flagged_at_alteration as f64 / r.cases.max(1) as f64
                )
            } else {
                "—".into()
            };
            println!(
                "| {kind} | {} | {} | {:.1}% | {at} |",
                if altered { "alteration" } else { "faithful" },
                r.cases,
                100.0 * r.flagged as f64 / r.cases.max(1) as f64
            );
        }
    }
    println!(
        "alterations flagged: {:.1}% (goal ≥ 95%); faithful rewrites flagged: {:.1}% (goal ≤ 5%)",
        100.0 * s.altered_flag_rate,
        100.0 * s.faithful_flag_rate
    );
    Ok(())
}

/// Imports the Myntra CSV into a fresh store in `dir` with the shipped mapping.
pub async fn import_myntra(dir: &Path, myntra: &Path) -> anyhow::Result<SqliteStore> {
    let store = SqliteStore::open(&dir.join("vitrine.db"), StoreOptions::default()).await?;
    let file =
        std::fs::File::open(myntra).with_context(|| format!("opening {}", myntra.display()))?;
    let format = ProductFormat::Csv(CsvMapping::from_toml(MYNTRA_MAPPING)?);
    let report = vitrine_ingest::import_products(
        &store,
        std::io::BufReader::new(file),
        format,
        ImportOptions::default(),
    )
    .await?;
    eprintln!(
        "imported {} Myntra products ({} rejected)",
        report.stored, report.rejected
    );
    Ok(store)
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// Generates copy for `products` sampled Myntra products with best-of-`candidates` and prints the report.
pub async fn content(
    myntra: &Path,
    products: usize,
    candidates: usize,
    seed: u64,
    examples: Option<PathBuf>,
    config: &Config,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = import_myntra(dir.path(), myntra).await?;
    let mut ids: Vec<String> = Vec::new();
    let mut stream = store.stream_products();
    while let Some(p) = stream.next().await {
        ids.push(p?.id);
    }
    drop(stream);
    ids.sort();
    ids.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    ids.truncate(products);
    let generator = crate::models::backends(config)
        .generator
        .map_err(|e| anyhow::anyhow!("generation backend: {e}"))?;
    let backend = format!("{:?}", config.models.generation).to_lowercase();
    let mut cfg = config.content.clone();
    cfg.candidates = candidates;
    cfg.regenerations = 0;
    let writer = CopyWriter::new(
        Arc::clone(&generator),
        &backend,
        &crate::content::model_version(config),
        cfg.clone(),
    );
    let pb = progress::items(ids.len() as u64, "products");
    let started = Instant::now();
    let (mut first_fact, mut best_fact, mut first_err, mut best_err, mut auto) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut confidences = Vec::new();
    let mut first_confidences = Vec::new();
    let mut all_candidate_fact = 0usize;
    let mut all_candidates = 0usize;
    let mut kept = Vec::new();
    for id in &ids {
        let Some(product) = store.get_product(id).await? else {
            continue;
        };
        let written = writer.write(&product, &cfg.default_keywords, None).await?;
        let first = &written.all[0];
        first_fact += usize::from(first.report.has_fact_findings());
        first_err += usize::from(first.report.has_errors());
        best_fact += usize::from(written.best.report.has_fact_findings());
        best_err += usize::from(written.best.report.has_errors());
        auto += usize::from(
            written.best.report.confidence >= cfg.auto_publish_confidence
                && !written.best.report.has_errors(),
        );
        all_candidates += written.all.len();
        all_candidate_fact += written
            .all
            .iter()
            .filter(|c| c.report.has_fact_findings())
            .count();
        confidences.push(written.best.report.confidence);
        first_confidences.push(first.report.confidence);
        if kept.len() < 2 {
            kept.push(serde_json::json!({"product": product, "copy": written.best.copy, "report": written.best.report, "attribution": written.attribution}));
        }
        pb.inc(1);
        let done = confidences.len();
        if !std::io::stderr().is_terminal() && (done % 25 == 0 || done == ids.len()) {
            // Long runs in logs: a line now and then instead of a bar nobody sees.
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "{done}/{} products, {:.2} products/minute, ETA {:.0} min",
                ids.len(),
                done as f64 * 60.0 / secs,
                (ids.len() - done) as f64 * secs / done as f64 / 60.0
            );
        }
    }
    pb.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let n = confidences.len().max(1) as f64;
    confidences.sort_by(f64::total_cmp);
    first_confidences.sort_by(f64::total_cmp);
    println!(
        "copy generation: {} Myntra products, best of {candidates}, backend {backend}, seed {seed}",
        confidences.len()
    );
    println!("| | N = 1 (first candidate) | N = {candidates} (best) |");
    println!("|---|---|---|");
    println!(
        "| products with fact findings | {:.1}% | {:.1}% |",
        100.0 * first_fact as f64 / n,
        100.0 * best_fact as f64 / n
    );
    println!(
        "| products with error-level findings | {:.1}% | {:.1}% |",
        100.0 * first_err as f64 / n,
        100.0 * best_err as f64 / n
    );
    for (name, q) in [
        ("p10", 0.1),
        ("p25", 0.25),
        ("median", 0.5),
        ("p75", 0.75),
        ("p90", 0.9),
    ] {
        println!(
            "| confidence {name} | {:.2} | {:.2} |",
            percentile(&first_confidences, q),
            percentile(&confidences, q)
        );
    }
    println!(
        "all candidates with fact findings: {all_candidate_fact}/{all_candidates} ({:.1}%)",
        100.0 * all_candidate_fact as f64 / all_candidates.max(1) as f64
    );
    println!(
        "auto-publishable (confidence ≥ {}, no errors): {:.1}%",
        cfg.auto_publish_confidence,
        100.0 * auto as f64 / n
    );
    println!(
        "speed: {:.2} products/minute ({:.1} s per product, {} candidates each, 2 cores)",
        n * 60.0 / secs,
        secs / n,
        candidates
    );
    if let Some(path) = examples {
        std::fs::write(&path, serde_json::to_string_pretty(&kept)?)?;
        eprintln!("examples written to {}", path.display());
    }
    Ok(())
}
