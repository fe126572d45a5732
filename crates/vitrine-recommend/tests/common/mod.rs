//! Shared set-up of the engine's integration tests: a demo catalog in a real SQLite store.

use std::sync::Arc;
use vitrine_recommend::{RecommendConfig, RecommendEngine};
use vitrine_sim::{DemoConfig, DemoStore};
use vitrine_store::{RecStore, SqliteStore, Store, StoreOptions};

/// An engine over `store` that never explores, so what it serves is a function of its state alone;
/// its models live in `dir/models`.
pub fn engine_without_exploration(
    store: &Arc<SqliteStore>,
    dir: &std::path::Path,
) -> Arc<RecommendEngine> {
    RecommendEngine::new(
        RecommendConfig {
            explore_share: 0.0,
            ..Default::default()
        },
        store.clone() as Arc<dyn RecStore>,
        dir.join("models"),
    )
}

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
