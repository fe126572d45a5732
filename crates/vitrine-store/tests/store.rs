//! The store's guarantees, exercised against a real SQLite file.

use chrono::{Duration, Utc};
use futures::StreamExt;
use rust_decimal::Decimal;
use std::sync::Arc;
use vitrine_core::{Event, EventInput, Product, ProductInput, ProductPatch};
use vitrine_store::{ProductQuery, SqliteStore, Store, StoreOptions};

async fn open() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("t.db"), StoreOptions::default())
        .await
        .unwrap();
    (dir, store)
}

fn product(id: &str, price: &str, qty: i64, category: &str) -> Product {
    let json = format!(
        r#"{{"id":"{id}","title":"Item {id}","price":"{price}","currency":"EUR","category":"{category}",
            "brand":"B","inventory":{{"quantity":{qty}}}}}"#
    );
    serde_json::from_str::<ProductInput>(&json)
        .unwrap()
        .validate(Utc::now())
        .unwrap()
}

fn event(id: &str, user: Option<&str>, session: &str, product: &str) -> Event {
    EventInput {
        user_id: user.map(Into::into),
        session_id: Some(session.into()),
        product_id: Some(product.into()),
        ..EventInput::new(id, "view")
    }
    .validate(Utc::now())
    .unwrap()
}

#[tokio::test]
async fn reimporting_unchanged_products_writes_nothing_and_changes_keep_history() {
    let (_d, s) = open().await;
    let v1 = s.begin_catalog_version("t").await.unwrap();
    let out = s
        .upsert_products(
            v1,
            &[product("A", "10.00", 5, "X"), product("B", "20", 0, "X")],
        )
        .await
        .unwrap();
    assert_eq!((out.changed, out.unchanged), (2, 0));
    let before_change = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let v2 = s.begin_catalog_version("t").await.unwrap();
    let out = s
        .upsert_products(
            v2,
            &[product("A", "10", 5, "X"), product("B", "25", 0, "X")],
        )
        .await
        .unwrap();
    assert_eq!(
        (out.changed, out.unchanged),
        (1, 1),
        "10.00 == 10 is not a change"
    );
    let h = s.product_history("B").await.unwrap();
    assert_eq!(h.prices.len(), 2);
    assert_eq!(h.inventory.len(), 1, "stock did not change");
    assert_eq!(h.prices[1].catalog_version, v2);
    let then = s.price_at("B", before_change).await.unwrap().unwrap();
    assert_eq!(then.price, Decimal::from(20));
    let now = s.price_at("B", Utc::now()).await.unwrap().unwrap();
    assert_eq!(now.price, Decimal::from(25));
    assert!(s
        .price_at("B", before_change - Duration::days(1))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn events_are_idempotent_and_unknown_products_flagged_not_dropped() {
    let (_d, s) = open().await;
    let v = s.begin_catalog_version("t").await.unwrap();
    s.upsert_products(v, &[product("A", "1", 1, "X")])
        .await
        .unwrap();
    let out = s
        .append_events(vec![
            event("e1", None, "s", "A"),
            event("e2", None, "s", "GHOST"),
        ])
        .await
        .unwrap();
    assert_eq!((out.stored, out.duplicates, out.unknown_product), (2, 0, 1));
    let out = s
        .append_events(vec![
            event("e1", None, "s", "A"),
            event("e3", None, "s", "A"),
        ])
        .await
        .unwrap();
    assert_eq!((out.stored, out.duplicates), (1, 1));
    assert_eq!(s.stats().await.unwrap().events, 3);
    assert!(s.get_event("e2").await.unwrap().unwrap().unknown_product);
    assert!(!s.get_event("e1").await.unwrap().unwrap().unknown_product);
}

#[tokio::test]
async fn concurrent_appends_are_group_committed_and_each_caller_counted() {
    let (_d, s) = open().await;
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            // Every task also re-sends "shared", so exactly one of them stores it.
            let mut batch: Vec<Event> = (0..300)
                .map(|i| event(&format!("t{t}-{i}"), None, "s", "P"))
                .collect();
            batch.push(event("shared", None, "s", "P"));
            s.append_events(batch).await.unwrap()
        }));
    }
    let mut stored = 0;
    let mut dup = 0;
    for t in tasks {
        let o = t.await.unwrap();
        stored += o.stored;
        dup += o.duplicates;
    }
    assert_eq!((stored, dup), (8 * 300 + 1, 7));
    assert_eq!(s.stats().await.unwrap().events, 8 * 300 + 1);
}

#[tokio::test]
async fn erasure_removes_the_user_and_their_linked_anonymous_sessions() {
    let (_d, s) = open().await;
    s.append_events(vec![
        event("a1", None, "sess-1", "P"),       // anonymous, before login
        event("a2", Some("u1"), "sess-1", "P"), // same session, logged in
        event("a3", Some("u1"), "sess-2", "P"),
        event("b1", Some("u2"), "sess-3", "P"), // someone else
        event("b2", None, "sess-4", "P"),
    ])
    .await
    .unwrap();
    let r = s.erase_user("u1").await.unwrap();
    assert_eq!(r.events_deleted, 3);
    assert!(s.get_event("a1").await.unwrap().is_none());
    assert!(s.get_event("b1").await.unwrap().is_some());
    assert!(s.events_for_user("u1", 10).await.unwrap().is_empty());
    assert_eq!(s.stats().await.unwrap().events, 2);
    assert_eq!(
        s.erase_user("u1").await.unwrap().events_deleted,
        0,
        "erasure is idempotent"
    );
}

#[tokio::test]
async fn concurrent_patches_of_one_product_both_land() {
    let (_d, s) = open().await;
    let v = s.begin_catalog_version("t").await.unwrap();
    s.upsert_products(v, &[product("A", "10", 5, "X")])
        .await
        .unwrap();
    let s = Arc::new(s);
    let (a, b) = (s.clone(), s.clone());
    let p1 = tokio::spawn(async move {
        a.patch_product(
            "A",
            &ProductPatch {
                price: Some(Decimal::from(12)),
                ..Default::default()
            },
        )
        .await
    });
    let p2 = tokio::spawn(async move {
        b.patch_product(
            "A",
            &ProductPatch {
                quantity: Some(0),
                ..Default::default()
            },
        )
        .await
    });
    p1.await.unwrap().unwrap().unwrap();
    p2.await.unwrap().unwrap().unwrap();
    let p = s.get_product("A").await.unwrap().unwrap();
    assert_eq!((p.price, p.inventory.quantity), (Decimal::from(12), 0));
    assert!(s
        .patch_product("missing", &ProductPatch::default())
        .await
        .unwrap()
        .is_none());
    let bad = ProductPatch {
        sale_price: Some(Decimal::from(99)),
        ..Default::default()
    };
    assert!(matches!(
        s.patch_product("A", &bad).await,
        Err(vitrine_store::StoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn listing_filters_and_paginates_and_export_streams_everything() {
    let (_d, s) = open().await;
    let v = s.begin_catalog_version("t").await.unwrap();
    let mut items = Vec::new();
    for i in 0..2_500 {
        let cat = if i % 2 == 0 {
            "Apparel > Men > Shirts"
        } else {
            "Home > Kitchen"
        };
        items.push(product(
            &format!("P{i:05}"),
            &format!("{}.50", i % 100),
            i % 3,
            cat,
        ));
    }
    s.upsert_products(v, &items).await.unwrap();
    let q = ProductQuery {
        category: Some("Apparel > Men".into()),
        in_stock: Some(true),
        limit: 100,
        ..Default::default()
    };
    let page = s.list_products(&q).await.unwrap();
    let expected = (0..2_500).filter(|i| i % 2 == 0 && i % 3 != 0).count() as u64;
    assert_eq!(page.total, expected);
    let mut seen = page.items.len() as u64;
    let mut cursor = page.next_cursor;
    while let Some(after) = cursor {
        let p = s
            .list_products(&ProductQuery {
                after: Some(after),
                ..q.clone()
            })
            .await
            .unwrap();
        seen += p.items.len() as u64;
        cursor = p.next_cursor;
    }
    assert_eq!(seen, expected);
    let cheap = ProductQuery {
        max_price: Some(Decimal::new(150, 2)),
        limit: 500,
        ..Default::default()
    };
    assert!(s
        .list_products(&cheap)
        .await
        .unwrap()
        .items
        .iter()
        .all(|p| p.price <= Decimal::new(150, 2)));
    // "Apparel > Me" must not match "Apparel > Men" (segment prefix, not string prefix).
    let partial = ProductQuery {
        category: Some("Apparel > Me".into()),
        limit: 10,
        ..Default::default()
    };
    assert_eq!(s.list_products(&partial).await.unwrap().total, 0);
    let exported: Vec<_> = s.stream_products().collect().await;
    assert_eq!(exported.len(), 2_500);
    assert!(exported.iter().all(|p| p.is_ok()));
}

/// Followers resume the event log from a sequence number: the stream must give every later event once,
/// in arrival order, across the export's page boundaries (2,000 rows a page).
#[tokio::test]
async fn event_stream_resumes_after_a_sequence_number_across_pages() {
    let (_d, s) = open().await;
    let events: Vec<Event> = (0..4_100)
        .map(|i| event(&format!("e{i}"), None, "s", "A"))
        .collect();
    assert_eq!(s.append_events(events).await.unwrap().stored, 4_100);
    let all: Vec<_> = s.stream_events_after(0).collect().await;
    let seqs: Vec<i64> = all.iter().map(|e| e.as_ref().unwrap().seq).collect();
    assert_eq!(seqs.len(), 4_100);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "arrival order");
    let resume_at = seqs[1_999];
    let rest: Vec<_> = s.stream_events_after(resume_at).collect().await;
    let rest_ids: Vec<String> = rest
        .into_iter()
        .map(|e| e.unwrap().event.event_id)
        .collect();
    assert_eq!(rest_ids.len(), 2_100);
    assert_eq!(rest_ids[0], "e2000");
    assert_eq!(rest_ids[2_099], "e4099");
}

#[tokio::test]
async fn data_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    {
        let s = SqliteStore::open(&path, StoreOptions::default())
            .await
            .unwrap();
        s.append_events(vec![event("e1", Some("u"), "s", "P")])
            .await
            .unwrap();
        s.close().await;
    }
    let s = SqliteStore::open(&path, StoreOptions::default())
        .await
        .unwrap();
    assert!(s.get_event("e1").await.unwrap().is_some());
}
