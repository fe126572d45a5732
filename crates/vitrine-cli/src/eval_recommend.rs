//! `vitrine eval recommend`: next-item accuracy on amazon_seqrec (leave-one-out, full ranking), the table
//! docs/recommend.md reports.

use std::path::Path;
use vitrine_recommend::seqrec::linear::LinearSeqConfig;
use vitrine_recommend::seqrec::{report, SeqDataset};

/// Published best (ICLRec, WWW 2022) per dataset: HR@10, NDCG@10.
fn published(name: &str) -> Option<(f64, f64)> {
    match name {
        "Beauty" => Some((0.0744, 0.0403)),
        "Sports_and_Outdoors" => Some((0.0437, 0.0238)),
        _ => None,
    }
}

/// Runs the protocol on each named dataset under `dir`.
pub fn run(dir: &Path, datasets: &[String], quick: bool) -> anyhow::Result<()> {
    let grid: Vec<LinearSeqConfig> = if quick {
        vec![LinearSeqConfig {
            alpha: 0.5,
            lambda: 50.0,
            ..Default::default()
        }]
    } else {
        [(0.5, 50.0), (0.5, 200.0), (0.3, 100.0)]
            .into_iter()
            .map(|(alpha, lambda)| LinearSeqConfig {
                alpha,
                lambda,
                ..Default::default()
            })
            .collect()
    };
    let mut lines = Vec::new();
    for name in datasets {
        let path = dir.join(format!("{name}.txt"));
        if !path.exists() {
            anyhow::bail!(
                "{} is missing (see ../shared/datasets/README.md)",
                path.display()
            );
        }
        let data = SeqDataset::load(&path)?;
        println!("{name}: {} users, {} items", data.users(), data.items);
        let results = report::run(&data, &grid, &mut |line| println!("{line}"))
            .map_err(anyhow::Error::msg)?;
        for r in results {
            lines.push(format!(
                "| {name} | {} | {} | {:.4} | {:.4} | {:.4} | {:.4} |",
                r.method, r.setting, r.test.hr10, r.test.ndcg10, r.test.hr20, r.test.ndcg20
            ));
        }
        if let Some((hr, ndcg)) = published(name) {
            lines.push(format!(
                "| {name} | published best (ICLRec) | - | {hr:.4} | {ndcg:.4} | - | - |"
            ));
        }
    }
    println!("\n| dataset | method | setting (chosen on validation) | HR@10 | NDCG@10 | HR@20 | NDCG@20 |");
    println!("|---|---|---|---|---|---|---|");
    for l in lines {
        println!("{l}");
    }
    Ok(())
}
