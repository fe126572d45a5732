//! Shared set-up of the engine's integration tests: a demo catalog in a real SQLite store.

use std::sync::Arc;
use vitrine_sim::{DemoConfig, DemoStore};
use vitrine_store::{SqliteStore, Store, StoreOptions};

/// A demo store of `products` and `shoppers` (3 days of history to simulate) from `seed`, with its catalog
/// written to a SQLite store in `dir`; no events yet.
pub async fn demo_store(
    dir: &std::path::Path,
    products: usize,
    shoppers: usize,
    seed: u64,
) -> (Arc<SqliteStore>, DemoStore) {
    let demo = DemoStore::generate(DemoConfig {
        products,
        shoppers,
        days: 3,
        seed,
        now: chrono::DateTime::parse_from_rfc3339("2026-03-10T00:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc),
    });
    let store = Arc::new(
        SqliteStore::open(&dir.join("vitrine.db"), StoreOptions::default())
            .await
            .unwrap(),
    );
    let version = store.begin_catalog_version("test").await.unwrap();
    store
        .upsert_products(version, &demo.products)
        .await
        .unwrap();
    (store, demo)
}
