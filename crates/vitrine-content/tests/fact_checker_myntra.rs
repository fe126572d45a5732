//! The fact checker on real Myntra descriptions: altered copies must be flagged, faithful rewrites not
//! (the goals: ≥ 95 % and ≤ 5 %). Skips cleanly when the shared datasets are absent.

use std::path::PathBuf;
use vitrine_content::evalset;

fn dataset() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/datasets/myntra_products_catalog/myntra_products_catalog.csv");
    p.exists().then_some(p)
}

#[test]
fn fact_checker_meets_its_goals_on_600_myntra_products() {
    let Some(path) = dataset() else {
        eprintln!("skipped: myntra_products_catalog.csv not found");
        return;
    };
    let products = evalset::load_myntra(&path, 600, 7).expect("read the catalog");
    assert_eq!(products.len(), 600);
    let cases = evalset::build_cases(&products, 7);
    let summary = evalset::evaluate(&products, &cases);
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
    for kind in evalset::ALTERATIONS.iter().chain(evalset::REWRITES) {
        assert!(
            summary.kinds.get(*kind).is_some_and(|k| k.cases >= 50),
            "too few {kind} cases"
        );
    }
    assert!(
        summary.altered_flag_rate >= 0.95,
        "alterations flagged: {}",
        summary.altered_flag_rate
    );
    assert!(
        summary.faithful_flag_rate <= 0.05,
        "faithful rewrites flagged: {}",
        summary.faithful_flag_rate
    );
}
