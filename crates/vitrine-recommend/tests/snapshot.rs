//! The signals snapshot over a real SQLite store: a restart from it applies only the newer events and
//! answers exactly as a full replay of the log would; a snapshot that does not fit is ignored.

mod common;

use common::{demo_store, engine_without_exploration};
use std::sync::Arc;
use vitrine_recommend::types::{RecRequest, Surface};
use vitrine_recommend::{RecommendConfig, RecommendEngine};
use vitrine_sim::DemoStore;
use vitrine_store::{RecStore, SqliteStore, Store};

fn engine(store: &Arc<SqliteStore>, dir: &std::path::Path, snapshot: bool) -> Arc<RecommendEngine> {
    let e = engine_without_exploration(store, dir);
    if snapshot {
        e.set_snapshot_path(dir.join("signals.snapshot"));
    }
    e
}

/// The `for_you` answers of some shoppers of day 2, as product ids.
fn answers(e: &RecommendEngine, demo: &DemoStore) -> Vec<Vec<String>> {
    let at = demo.config.now;
    (0..20)
        .map(|u| {
            let req = RecRequest {
                user_id: Some(demo.shoppers[u].user_id.clone()),
                count: Some(10),
                ..Default::default()
            };
            e.recommend_at(Surface::ForYou, &req, format!("r{u}"), at)
                .unwrap()
                .items
                .into_iter()
                .map(|i| i.product_id)
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_from_the_snapshot_replays_only_newer_events_and_answers_like_a_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (store, demo) = demo_store(dir.path(), 300, 200, 11).await;
    store.append_events(demo.simulate_day(0)).await.unwrap();
    store.append_events(demo.simulate_day(1)).await.unwrap();
    let first = engine(&store, dir.path(), true);
    let report = first.load_from(store.as_ref()).await.unwrap();
    assert_eq!(report.snapshot_seq, None, "no snapshot yet: full replay");
    let saved = first.save_snapshot(store.as_ref()).await.unwrap().unwrap();
    assert!(saved.bytes > 0);
    let covered = store.latest_event_seq().await.unwrap();
    assert_eq!(saved.event_seq, covered);

    // The process stops; more events arrive (another process, or ones it accepted before a crash).
    let day2 = demo.simulate_day(2);
    let newer = day2.len() as u64;
    store.append_events(day2).await.unwrap();

    let restarted = engine(&store, dir.path(), true);
    let report = restarted.load_from(store.as_ref()).await.unwrap();
    assert_eq!(report.snapshot_seq, Some(covered));
    assert_eq!(
        report.events_applied, newer,
        "only the events after the snapshot"
    );

    let replayed = engine(&store, dir.path(), false);
    let full = replayed.load_from(store.as_ref()).await.unwrap();
    assert!(full.events_applied > newer);
    let without_counter = |e: &RecommendEngine| {
        let mut s = e.stats();
        s.remove("events");
        s
    };
    assert_eq!(without_counter(&restarted), without_counter(&replayed));
    assert_eq!(answers(&restarted, &demo), answers(&replayed, &demo));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_that_does_not_fit_is_ignored_and_erasure_deletes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (store, demo) = demo_store(dir.path(), 300, 200, 11).await;
    store.append_events(demo.simulate_day(0)).await.unwrap();
    let total = store.stats().await.unwrap().events;

    // Garbage in the file: a full replay, no error.
    std::fs::write(dir.path().join("signals.snapshot"), b"not a snapshot").unwrap();
    let e = engine(&store, dir.path(), true);
    let report = e.load_from(store.as_ref()).await.unwrap();
    assert_eq!((report.snapshot_seq, report.events_applied), (None, total));

    // Saved under other signal settings: ignored too.
    e.save_snapshot(store.as_ref()).await.unwrap();
    let mut config = RecommendConfig::default();
    config.signals.session_ttl_hours += 1;
    let other = RecommendEngine::new(
        config,
        store.clone() as Arc<dyn RecStore>,
        dir.path().join("m"),
    );
    other.set_snapshot_path(dir.path().join("signals.snapshot"));
    let report = other.load_from(store.as_ref()).await.unwrap();
    assert_eq!((report.snapshot_seq, report.events_applied), (None, total));

    // Erasure forgets the shopper now and removes the snapshot that holds their history.
    let user = demo
        .shoppers
        .iter()
        .map(|s| s.user_id.clone())
        .find(|u| e.signals_snapshot().is_some_and(|s| s.user(u).is_some()));
    let user = user.expect("some shopper was active on day 0");
    e.forget_shopper(&user, &[]);
    assert!(e.signals_snapshot().unwrap().user(&user).is_none());
    assert!(!dir.path().join("signals.snapshot").exists());
}
