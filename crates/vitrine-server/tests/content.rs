//! Governed copy over real HTTP: the review workflow (edit, queue, approve, reject, publish, rollback),
//! optimistic concurrency on edits, the audit trail, job input errors, and webhook delivery with retries.

mod common;

use common::{product, start};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vitrine_server::ServerConfig;

fn copy(opening: &str) -> Value {
    json!({"title": "Acme Blue Cotton Shirt", "opening": opening,
           "bullets": ["Blue cotton shirt", "Spread collar", "Long sleeves"],
           "closing": "Machine wash cold with similar colours.",
           "meta_description": "A blue cotton shirt with a spread collar and long sleeves, for office days and weekends alike."})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_workflow_with_concurrency_rollback_and_audit() {
    let s = start(ServerConfig::default()).await;
    let mut p = product("SHIRT-1", "49.00");
    p["title"] = json!("Acme Blue Cotton Shirt");
    p["description"] =
        json!("Blue cotton shirt with a spread collar and long sleeves. Machine wash.");
    p["attributes"] = json!({"colour": "blue", "material": "cotton"});
    p["brand"] = json!("Acme");
    let (status, _, _) = s.post("/v1/products", p).await;
    assert!(status.is_success());
    let (status, _) = s.get("/v1/products/SHIRT-1/content").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no copy yet");

    // A first human version: validated and queued for review.
    let edit = |base: i64, opening: &str| json!({"base_version": base, "editor": "maria", "copy": copy(opening)});
    let (status, _, v1) = s
        .post(
            "/v1/products/SHIRT-1/content/edit",
            edit(
                0,
                "A blue cotton shirt for every day. The spread collar looks sharp.",
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v1}");
    assert_eq!(
        (v1["version"].as_i64(), v1["state"].as_str()),
        (Some(1), Some("in_review"))
    );
    assert_eq!(
        v1["report"]["scores"]["facts"], 1.0,
        "faithful copy has no fact findings: {}",
        v1["report"]
    );
    let (_, queue) = s.get("/v1/content/review-queue").await;
    assert_eq!(queue["items"][0]["version"]["product_id"], "SHIRT-1");

    // Approval needs who and why.
    let (status, _, _) = s
        .post(
            "/v1/products/SHIRT-1/content/1/approve",
            json!({"reviewer": "", "reason": ""}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, body) = s
        .post(
            "/v1/products/SHIRT-1/content/1/approve",
            json!({"reviewer": "lee", "reason": "accurate"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, live) = s.get("/v1/products/SHIRT-1/content").await;
    assert_eq!(
        (live["version"].as_i64(), live["reviewed_by"].as_str()),
        (Some(1), Some("lee"))
    );

    // An edit that invents a fact is re-validated and flagged.
    let (status, _, v2) = s
        .post(
            "/v1/products/SHIRT-1/content/edit",
            edit(1, "A waterproof red silk shirt."),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let codes: Vec<String> = v2["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "facts")
        .map(|f| f["code"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        codes.contains(&"colour_contradicted".to_string())
            && codes.contains(&"material_contradicted".to_string())
            && codes.contains(&"capability_unsupported".to_string()),
        "{codes:?}"
    );
    assert!(v2["confidence"].as_f64().unwrap() <= 0.5);

    // A concurrent edit based on the old version is refused, not silently overwritten.
    let (status, _, body) = s
        .post(
            "/v1/products/SHIRT-1/content/edit",
            edit(1, "Another edit."),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _, _) = s
        .post(
            "/v1/products/SHIRT-1/content/2/reject",
            json!({"reviewer": "lee", "reason": "invents waterproofing"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = s
        .post(
            "/v1/products/SHIRT-1/content/2/approve",
            json!({"reviewer": "lee", "reason": "changed my mind"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a rejected version cannot be approved"
    );

    // v3, approved without publishing, then published: v1 is superseded.
    let (_, _, v3) = s
        .post(
            "/v1/products/SHIRT-1/content/edit",
            edit(2, "A crisp blue cotton shirt with a spread collar."),
        )
        .await;
    assert_eq!(v3["version"], 3);
    let (status, _, _) = s
        .post(
            "/v1/products/SHIRT-1/content/3/approve",
            json!({"reviewer": "lee", "reason": "ok", "publish": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, live) = s.get("/v1/products/SHIRT-1/content").await;
    assert_eq!(live["version"], 1, "approval alone does not publish");
    let (status, _, _) = s
        .post(
            "/v1/products/SHIRT-1/content/3/publish",
            json!({"actor": "lee"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, live) = s.get("/v1/products/SHIRT-1/content").await;
    assert_eq!(live["version"], 3);

    // Roll back to v1 in one call; a version that does not exist is a clear 404.
    let (status, _, body) = s
        .post(
            "/v1/products/SHIRT-1/content/rollback",
            json!({"version": 99, "actor": "lee", "reason": "oops"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["detail"].as_str().unwrap_or("").contains("version 99"),
        "{body}"
    );
    let (status, _, _) = s
        .post(
            "/v1/products/SHIRT-1/content/rollback",
            json!({"version": 1, "actor": "lee", "reason": "v3 tested badly"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, live) = s.get("/v1/products/SHIRT-1/content").await;
    assert_eq!(live["version"], 1);

    let (_, history) = s.get("/v1/products/SHIRT-1/content/history").await;
    let states: Vec<&str> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["state"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(states, ["published", "rejected", "superseded"]);
    let audit = history["audit"].as_array().unwrap();
    assert!(
        audit.len() >= 9,
        "every state change is audited: {}",
        audit.len()
    );
    assert!(audit.iter().any(|a| a["reason"]
        .as_str()
        .unwrap_or("")
        .contains("rollback to version 1")));

    // Bad job input.
    let (status, _, _) = s.post("/v1/content/jobs", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = s
        .post("/v1/content/jobs", json!({"product_ids": ["NOPE"]}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = s
        .post(
            "/v1/content/jobs",
            json!({"product_ids": ["SHIRT-1"], "colour": "x"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown fields are named, not ignored"
    );
    let (status, _, job) = s
        .post("/v1/content/jobs", json!({"product_ids": ["SHIRT-1"]}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (status, got) = s
        .get(&format!(
            "/v1/content/jobs/{}",
            job["job"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (status, got["job"]["total"].as_i64()),
        (StatusCode::OK, Some(1))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_are_retried_until_delivered() {
    use vitrine_store::{ContentChange, ContentStore, SqliteStore, StoreOptions};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("w.db"), StoreOptions::default())
            .await
            .unwrap(),
    );
    // A receiver that fails its first two requests.
    let seen = Arc::new(Mutex::new(Vec::<Value>::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let (seen2, calls2) = (seen.clone(), calls.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let (seen, calls) = (seen2.clone(), calls2.clone());
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                seen.lock().unwrap().push(v);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let change = ContentChange {
        webhooks: vec![
            json!({"event": "content.state_changed", "version": 1}),
            json!({"event": "content.state_changed", "version": 2}),
        ],
        ..ContentChange::default()
    };
    store.apply_content_change(change).await.unwrap();
    tokio::spawn(vitrine_server::webhooks::deliver_forever(
        store.clone() as Arc<dyn ContentStore>,
        url,
        5,
        Duration::from_millis(20),
    ));
    for _ in 0..200 {
        if seen.lock().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let got: Vec<i64> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|v| v["version"].as_i64())
        .collect();
    assert_eq!(got.len(), 2, "both events delivered after retries: {got:?}");
    assert!(calls.load(Ordering::SeqCst) >= 4);
}
