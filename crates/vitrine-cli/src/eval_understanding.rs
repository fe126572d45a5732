//! `vitrine eval understanding`: builds the Myntra and fashion-styles catalogs from the shared CSVs,
//! generates labelled queries from their rows (see `vitrine_search::eval_qu`), and prints the figures.

use anyhow::Context;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use vitrine_core::Product;
use vitrine_search::eval_qu::{generate, score, LabelledQuery};
use vitrine_search::{SearchConfig, SearchEngine};

fn rows(path: &Path) -> anyhow::Result<(csv::StringRecord, Vec<csv::StringRecord>)> {
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| {
            format!(
                "opening {} (see ../shared/datasets/README.md)",
                path.display()
            )
        })?;
    let header = r.headers()?.clone();
    let rows = r.records().filter_map(Result::ok).collect();
    Ok((header, rows))
}

fn col(header: &csv::StringRecord, name: &str) -> anyhow::Result<usize> {
    header
        .iter()
        .position(|h| h.trim_start_matches('\u{feff}') == name)
        .with_context(|| format!("column {name:?} missing"))
}

fn build(v: serde_json::Value) -> Option<Product> {
    let input: vitrine_core::ProductInput = serde_json::from_value(v).ok()?;
    input.validate(chrono::Utc::now()).ok()
}

fn myntra(path: &Path) -> anyhow::Result<Vec<Product>> {
    let (h, rs) = rows(path)?;
    let (id, name, brand, gender, price, desc, colour) = (
        col(&h, "ProductID")?,
        col(&h, "ProductName")?,
        col(&h, "ProductBrand")?,
        col(&h, "Gender")?,
        col(&h, "Price (INR)")?,
        col(&h, "Description")?,
        col(&h, "PrimaryColor")?,
    );
    Ok(rs
        .iter()
        .filter_map(|r| {
            let mut attrs = serde_json::Map::new();
            attrs.insert("gender".into(), json!(r.get(gender)?.trim()));
            if !r.get(colour)?.trim().is_empty() {
                attrs.insert("colour".into(), json!(r.get(colour)?.trim()));
            }
            build(
                json!({"id": r.get(id)?, "title": r.get(name)?, "brand": r.get(brand)?,
                "description": r.get(desc)?, "price": r.get(price)?, "currency": "INR",
                "category": ["Fashion"], "inventory": {"quantity": 1}, "attributes": attrs}),
            )
        })
        .collect())
}

fn styles(path: &Path) -> anyhow::Result<Vec<Product>> {
    let (h, rs) = rows(path)?;
    let c = |n| col(&h, n);
    let (id, gender, master, sub, colour, season, usage, name) = (
        c("id")?,
        c("gender")?,
        c("masterCategory")?,
        c("subCategory")?,
        c("baseColour")?,
        c("season")?,
        c("usage")?,
        c("productDisplayName")?,
    );
    Ok(rs
        .iter()
        .filter_map(|r| {
            let mut attrs = serde_json::Map::new();
            for (k, i) in [("gender", gender), ("colour", colour), ("season", season), ("usage", usage)] {
                let v = r.get(i)?.trim();
                if !v.is_empty() {
                    attrs.insert(k.into(), json!(v));
                }
            }
            build(json!({"id": r.get(id)?, "title": r.get(name)?, "price": "0", "currency": "INR",
                "category": [r.get(master)?, r.get(sub)?], "inventory": {"quantity": 1}, "attributes": attrs}))
        })
        .collect())
}

/// Runs the evaluation on both catalogs.
pub async fn run(
    myntra_csv: &Path,
    styles_csv: &Path,
    seed: u64,
    write: Option<&Path>,
) -> anyhow::Result<()> {
    let catalogs = [
        ("myntra", myntra(myntra_csv)?),
        ("styles", styles(styles_csv)?),
    ];
    let mut all: Vec<LabelledQuery> = Vec::new();
    let mut notes = Vec::new();
    println!("| catalog | products | queries | constraint precision | constraint recall | exact parse | P@10 with QU | P@10 plain BM25 | matched-set recall | matched-set precision |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, products) in &catalogs {
        let config = SearchConfig {
            cache_capacity: 0,
            candidates: 5_000,
            facet_sample: 5_000,
            max_page_size: 5_000,
            ..SearchConfig::default()
        };
        let engine = SearchEngine::open(config, None, None)?;
        for chunk in products.chunks(10_000) {
            engine.apply_text(chunk, 0)?;
        }
        engine.rebuild_vocabulary();
        let queries = generate(name, products, 200, seed);
        let s = score(&engine, products, &queries).await;
        println!(
            "| {name} | {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            products.len(),
            s.queries,
            s.constraint_precision,
            s.constraint_recall,
            s.exact_match,
            s.precision_at_10,
            s.precision_at_10_without,
            s.matched_set_recall,
            s.matched_set_precision
        );
        notes.push(format!(
            "{name}: extracted but not labelled {:?}; labelled but missed {:?}",
            s.top_unlabelled, s.top_missed
        ));
        all.extend(queries);
    }
    println!();
    for n in notes {
        println!("{n}");
    }
    if let Some(path) = write {
        let mut f = std::fs::File::create(path)?;
        for q in &all {
            writeln!(f, "{}", serde_json::to_string(q)?)?;
        }
        println!(
            "\nwrote {} labelled queries to {}",
            all.len(),
            path.display()
        );
    }
    Ok(())
}

/// How many evaluated queries the speller changed, with a few examples (the table's figures include
/// the corrections when `[search] spelling` is on).
pub fn report_corrections(engine: &SearchEngine, queries: &[vitrine_search::eval::JudgedQuery]) {
    let corrected: Vec<(String, String)> = queries
        .iter()
        .filter_map(|q| {
            let p = engine.parse(&q.text);
            (!p.corrections.is_empty()).then(|| (q.text.clone(), p.text))
        })
        .collect();
    println!(
        "spelling: {} of {} queries corrected, e.g. {:?}",
        corrected.len(),
        queries.len(),
        &corrected[..corrected.len().min(12)]
    );
}
