//! Imports the real datasets in ../shared/datasets through the CLI and checks counts and field values.

mod common;
use common::*;

#[tokio::test]
async fn myntra_catalog_imports_through_the_csv_mapping() {
    let Some(csv) = dataset("myntra_products_catalog/myntra_products_catalog.csv") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("m.db");
    let mapping = repo_file("mappings/myntra.toml");
    let out = run_ok(
        &[
            "import",
            "products",
            csv.to_str().unwrap(),
            "--mapping",
            mapping.to_str().unwrap(),
        ],
        &db,
    );
    let r = report(&out);
    assert_eq!(r["records"], 12_491);
    assert_eq!(r["stored"], 12_491, "{r}");
    assert_eq!(r["rejected"], 0);

    let store = vitrine_store::SqliteStore::open(&db, Default::default())
        .await
        .unwrap();
    use vitrine_store::Store;
    let p = store
        .get_product("10017413")
        .await
        .unwrap()
        .expect("DKNY trolley bag");
    assert_eq!(
        p.title,
        "DKNY Unisex Black & Grey Printed Medium Trolley Bag"
    );
    assert_eq!(p.brand.as_deref(), Some("DKNY"));
    assert_eq!(p.price.to_string(), "11745");
    assert_eq!(p.currency.as_str(), "INR");
    assert_eq!(
        p.attributes["colour"].display_text(),
        "Black",
        "cells are trimmed"
    );
    assert_eq!(p.attributes["gender"].display_text(), "Unisex");
    assert!(p.description.contains("TSA lock"));
    store.close().await;

    // Re-importing the same file changes nothing and says so.
    let again = report(&run_ok(
        &[
            "import",
            "products",
            csv.to_str().unwrap(),
            "--mapping",
            mapping.to_str().unwrap(),
        ],
        &db,
    ));
    assert_eq!(
        (
            again["stored"].as_u64(),
            again["unchanged_or_duplicate"].as_u64()
        ),
        (Some(0), Some(12_491))
    );
}

#[tokio::test]
async fn otto_sessions_import_idempotently_with_unknown_products_flagged() {
    let Some(file) = dataset("otto_fixture/train_sample_20_sessions.jsonl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("o.db");
    let import = [
        "import",
        "events",
        file.to_str().unwrap(),
        "--format",
        "otto",
    ];
    let r = report(&run_ok(&import, &db));
    assert_eq!(r["records"], 20, "one record per session line");
    assert_eq!(r["stored"], 862);
    assert_eq!(
        r["unknown_product"], 862,
        "no catalog loaded: every event is flagged, none dropped"
    );
    let again = report(&run_ok(&import, &db));
    assert_eq!(
        (
            again["stored"].as_u64(),
            again["unchanged_or_duplicate"].as_u64()
        ),
        (Some(0), Some(862))
    );

    let store = vitrine_store::SqliteStore::open(&db, Default::default())
        .await
        .unwrap();
    use vitrine_store::Store;
    let first = store.get_event("otto-0-0").await.unwrap().unwrap();
    assert_eq!(first.event.product_ids, vec!["1517085"]);
    assert_eq!(first.event.event_type, vitrine_core::EventType::Click);
    assert_eq!(first.event.timestamp.timestamp_millis(), 1_659_304_800_025);
    let order = store.get_event("otto-0-8").await.unwrap().unwrap();
    assert_eq!(order.event.event_type, vitrine_core::EventType::Purchase);
    store.close().await;
}
