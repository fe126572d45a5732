//! Recommendations over real HTTP: every surface, freshness, attribution into the reward ledger, the model
//! registry (train, promote, roll back) and bad input.

mod common;

use common::{product, start, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use vitrine_server::ServerConfig;

fn view(id: &str, user: &str, sku: &str, secs: i64, ty: &str) -> Value {
    json!({"event_id": id, "type": ty, "user_id": user, "session_id": format!("s-{user}"),
           "product_id": sku, "timestamp": format!("2026-03-01T10:{:02}:{:02}Z", secs / 60, secs % 60)})
}

/// Ten products; shoppers who view P1 go on to P2 (and sometimes P3); a few buy P2 with P4.
async fn seeded() -> Server {
    let s = start(ServerConfig::default()).await;
    let products: Vec<Value> = (0..10)
        .map(|i| product(&format!("P{i}"), "20.00"))
        .collect();
    let (status, _, _) = s.post("/v1/products/batch", json!(products)).await;
    assert_eq!(status, StatusCode::OK);
    let mut events = Vec::new();
    for u in 0..12 {
        let user = format!("u{u}");
        events.push(view(&format!("e{u}a"), &user, "P1", 1, "view"));
        events.push(view(&format!("e{u}b"), &user, "P2", 2, "view"));
        if u % 3 == 0 {
            events.push(view(&format!("e{u}c"), &user, "P3", 3, "view"));
        }
        if u % 4 == 0 {
            events.push(view(&format!("e{u}d"), &user, "P2", 4, "add_to_cart"));
            events.push(view(&format!("e{u}e"), &user, "P4", 5, "add_to_cart"));
        }
    }
    // Wait until the recommender's catalog follower has the products, then send the behaviour.
    for _ in 0..100 {
        let (_, v) = s.get("/v1/recommend/trending?count=5").await;
        if v["items"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _, body) = s.post("/v1/events", json!(events)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    s
}

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|i| i["product_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_surface_answers_with_a_request_id_and_explanations() {
    let s = seeded().await;
    let (status, v) = s.get("/v1/recommend/similar?item=P1&explain=true").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        ids(&v)[0],
        "P2",
        "the product viewed after P1 comes first: {v}"
    );
    assert!(
        !ids(&v).contains(&"P1".to_string()),
        "the context item is not recommended"
    );
    assert!(v["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    let sources = &v["items"][0]["explain"]["sources"];
    assert!(
        sources
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s["source"] == "covis")),
        "{v}"
    );

    let (status, v) = s.get("/v1/recommend/bought_together?cart=P2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&v)[0], "P4", "{v}");

    let (status, _, v) = s
        .post(
            "/v1/recommend/next",
            json!({"session_id": "fresh", "items": ["P1"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&v)[0], "P2", "{v}");

    // Whole-catalog top lists are recomputed at most once a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, v) = s.get("/v1/recommend/trending?count=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&v).len(), 3);
    assert_eq!(
        ids(&v)[0],
        "P2",
        "the most viewed and carted product trends first: {v}"
    );

    let (status, v) = s.get("/v1/recommend/for_you?user_id=u1&count=5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&v).len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_event_changes_the_next_answer_for_that_shopper() {
    let s = seeded().await;
    let (_, before) = s
        .get("/v1/recommend/for_you?user_id=newbie&explain=true")
        .await;
    assert!(
        before["fallbacks"]
            .as_array()
            .is_some_and(|f| !f.is_empty()),
        "a new shopper is labelled: {before}"
    );
    let (status, _, _) = s
        .post(
            "/v1/events",
            json!([view("n1", "newbie", "P1", 10, "view")]),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, after) = s.get("/v1/recommend/for_you?user_id=newbie").await;
    assert_eq!(
        ids(&after)[0],
        "P2",
        "P1's follower comes first right after the view: {after}"
    );
    assert!(!ids(&after).contains(&"P1".to_string()) || ids(&after)[0] != "P1");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_erased_shopper_is_forgotten_by_the_recommender_at_once() {
    let s = seeded().await;
    let new_shopper = |v: &Value| {
        v["fallbacks"].as_array().is_some_and(|f| {
            f.iter()
                .any(|x| x.as_str().is_some_and(|x| x.starts_with("new shopper")))
        })
    };
    let (_, before) = s.get("/v1/recommend/for_you?user_id=u0").await;
    assert!(!new_shopper(&before), "u0 has a history: {before}");
    let (status, _, erased) = s.send(reqwest::Method::DELETE, "/v1/users/u0", None).await;
    assert_eq!(status, StatusCode::OK, "{erased}");
    let (_, after) = s.get("/v1/recommend/for_you?user_id=u0").await;
    assert!(new_shopper(&after), "nothing of u0 is left: {after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn outcomes_are_credited_to_the_answer_that_caused_them() {
    let s = seeded().await;
    let (_, v) = s.get("/v1/recommend/similar?item=P1&user_id=buyer").await;
    let request_id = v["request_id"].as_str().unwrap().to_string();
    let shown = ids(&v)[0].clone();
    let click = json!({"event_id": "c1", "type": "click", "user_id": "buyer", "product_id": shown,
                       "request_id": request_id});
    // Without a request id, a purchase of a shown product within the window is credited too.
    let buy = json!({"event_id": "b1", "type": "purchase", "user_id": "buyer", "product_id": shown,
                     "quantity": 1, "price": "20.00", "currency": "USD"});
    let (status, _, body) = s.post("/v1/events", json!([click, buy])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut outcomes = 0;
    for _ in 0..60 {
        let (_, m) = s.get("/v1/recommend/models").await;
        outcomes = m["rewards"]["outcomes"].as_i64().unwrap_or(0);
        if outcomes >= 2 && m["rewards"]["impressions"].as_i64().unwrap_or(0) >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        outcomes, 2,
        "click (by request id) and purchase (by window) are both in the ledger"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn train_promote_and_roll_back_without_restart() {
    let s = seeded().await;
    for n in 0..2 {
        let (status, _, body) = s.post("/v1/recommend/train", json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let mut versions = 0;
        for _ in 0..200 {
            let (_, m) = s.get("/v1/recommend/models").await;
            versions = m["versions"].as_array().map_or(0, Vec::len);
            if versions > n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(versions, n + 1);
        // Let the training flag clear before the next run.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, m) = s.get("/v1/recommend/models").await;
    assert_eq!(m["serving"], 2, "auto-promoted: {m}");
    assert!(m["versions"][0]["manifest"]["feature_schema"]
        .as_array()
        .is_some_and(|f| f.len() > 10));
    let (status, _, m) = s.post("/v1/recommend/models/rollback", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["serving"], 1);
    let (_, v) = s.get("/v1/recommend/similar?item=P1").await;
    assert_eq!(
        v["model_version"], 1,
        "the next answer uses the rolled-back version"
    );
    let (status, _, _) = s.post("/v1/recommend/models/99/promote", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_a_clear_answer_never_a_crash() {
    let s = seeded().await;
    for (path, want) in [
        ("/v1/recommend/nonsense", StatusCode::NOT_FOUND),
        ("/v1/recommend/for_you?count=0", StatusCode::BAD_REQUEST),
        ("/v1/recommend/for_you?count=10000", StatusCode::BAD_REQUEST),
        ("/v1/recommend/similar?item=NOPE", StatusCode::NOT_FOUND),
        ("/v1/recommend/similar", StatusCode::BAD_REQUEST),
        ("/v1/recommend/bought_together", StatusCode::BAD_REQUEST),
        (
            "/v1/recommend/for_you?price_min=50&price_max=10",
            StatusCode::BAD_REQUEST,
        ),
        ("/v1/recommend/for_you?colour=red", StatusCode::BAD_REQUEST),
        ("/v1/recommend/for_you?count=abc", StatusCode::BAD_REQUEST),
    ] {
        let (status, v) = s.get(path).await;
        assert_eq!(status, want, "{path}: {v}");
        assert!(
            v["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{path}: {v}"
        );
    }
    let (status, v) = s
        .get("/v1/recommend/for_you?user_id=ghost&price_min=1000")
        .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a filter that excludes everything is an empty answer: {v}"
    );
    assert!(ids(&v).is_empty());
    assert!(
        v["fallbacks"].to_string().contains("no product passes"),
        "{v}"
    );
    let (status, _, v) = s
        .send(
            reqwest::Method::POST,
            "/v1/recommend/for_you",
            Some(b"{not json".to_vec()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, _, v) = s
        .post("/v1/recommend/for_you", json!({"count": 5, "bogus": 1}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}
