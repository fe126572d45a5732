//! The API over real HTTP on a loopback port: what clients rely on, including every bad-input path.

mod common;

use common::{product, start, Server};
use reqwest::StatusCode;
use serde_json::{json, Value};
use vitrine_server::ServerConfig;

#[tokio::test]
async fn product_lifecycle_create_patch_archive_history() {
    let s = start(ServerConfig::default()).await;
    let (st, _, body) = s.post("/v1/products", product("A1", "99.90")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(body["changed"], 1);
    let (st, p) = s.get("/v1/products/A1").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(p["price"], "99.9");
    assert_eq!(p["attributes"]["waterproof"], true);

    let (st, _, patched) = s
        .send(
            reqwest::Method::PATCH,
            "/v1/products/A1",
            Some(br#"{"price": "79.90", "quantity": 0}"#.to_vec()),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{patched}");
    assert_eq!(patched["product"]["inventory"]["quantity"], 0);
    let (_, h) = s.get("/v1/products/A1/history").await;
    assert_eq!(h["prices"].as_array().unwrap().len(), 2);
    let (st, at) = s
        .get("/v1/products/A1/history?at=2000-01-01T00:00:00Z")
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(at["price"].is_null(), "nothing was in force in 2000: {at}");

    let (st, _, bad) = s
        .send(
            reqwest::Method::PATCH,
            "/v1/products/A1",
            Some(br#"{"sale_price": 500}"#.to_vec()),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["errors"][0]["errors"][0]["field"], "sale_price");

    let (st, _, archived) = s
        .send(reqwest::Method::DELETE, "/v1/products/A1", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(archived["product"]["status"], "archived");
    let (st, _, mismatch) = s
        .send(
            reqwest::Method::PUT,
            "/v1/products/OTHER",
            Some(serde_json::to_vec(&product("A1", "1")).unwrap()),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{mismatch}");
    assert_eq!(s.get("/v1/products/NOPE").await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn batch_keeps_good_products_and_reports_bad_ones_by_index() {
    let s = start(ServerConfig::default()).await;
    let batch = json!([
        product("P1", "10"),
        {"id": "P2", "title": "x", "price": -5, "currency": "USD"},
        {"id": "P3", "title": "x", "price": "12", "currency": "DOLLARS"},
        {"id": "P4", "title": "x", "price": "1", "currency": "USD", "inventory": {"quantity": "many"}},
        product("P5", "12.5"),
    ]);
    let (st, ctype, body) = s.post("/v1/products/batch", batch).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(ctype, "application/problem+json");
    assert_eq!(body["accepted"]["changed"], 2);
    let errs = body["errors"].as_array().unwrap();
    let located: Vec<(u64, &str)> = errs
        .iter()
        .map(|e| {
            (
                e["location"].as_u64().unwrap(),
                e["errors"][0]["field"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        located,
        vec![(1, "price"), (2, "currency"), (3, "inventory.quantity")]
    );
    let (_, list) = s
        .get("/v1/products?category=Footwear%20%3E%20Men&limit=10")
        .await;
    assert_eq!(list["total"], 2);
}

#[tokio::test]
async fn events_are_durable_idempotent_and_flag_unknown_products() {
    let s = start(ServerConfig::default()).await;
    s.post("/v1/products", product("K1", "10")).await;
    let events = json!([
        {"event_id": "e1", "type": "view", "session_id": "s1", "product_id": "K1"},
        {"event_id": "e2", "type": "purchase", "user_id": "u1", "session_id": "s1", "product_id": "K1",
         "quantity": 1, "price": "10.00", "currency": "USD", "request_id": "r1", "position": 0},
        {"event_id": "e3", "type": "click", "session_id": "s1", "product_id": "UNKNOWN"},
    ]);
    let (st, _, body) = s.post("/v1/events", events.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(
        (body["stored"].as_u64(), body["unknown_product"].as_u64()),
        (Some(3), Some(1))
    );
    let (st, _, again) = s.post("/v1/events", events).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        (again["stored"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(3))
    );
    let (_, e) = s.get("/v1/events/e3").await;
    assert_eq!(e["unknown_product"], true);
    let (_, e) = s.get("/v1/events/e2").await;
    assert_eq!(e["price"], "10");
    assert_eq!(e["request_id"], "r1");

    let (_, user_events) = s.get("/v1/users/u1/events").await;
    assert_eq!(user_events.as_array().unwrap().len(), 1);
    let (st, _, erased) = s.send(reqwest::Method::DELETE, "/v1/users/u1", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        erased["events_deleted"], 3,
        "the user's event and their session's anonymous events"
    );
    assert_eq!(s.get("/v1/events/e1").await.0, StatusCode::NOT_FOUND);

    let (_, metrics) = s.get("/metrics").await;
    let text = metrics.as_str().unwrap();
    assert!(
        text.contains(r#"vitrine_events_ingested_total{outcome="stored"} 3"#),
        "{text}"
    );
    assert!(text.contains(r#"vitrine_events_ingested_total{outcome="duplicate"} 3"#));
    assert!(text.contains("vitrine_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn every_kind_of_bad_input_gets_a_clear_problem_never_a_500() {
    let s = start(ServerConfig {
        max_body_bytes: 64 * 1024,
        max_events_per_request: 1000,
        ..Default::default()
    })
    .await;
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            b"[{\"event_id\": ".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed",
        ),
        (
            "invalid UTF-8",
            b"[{\"event_id\": \"\xff\xfe\"}]".to_vec(),
            StatusCode::BAD_REQUEST,
            "UTF-8",
        ),
        (
            "not an array",
            b"42".to_vec(),
            StatusCode::BAD_REQUEST,
            "array",
        ),
        ("empty", b"[]".to_vec(), StatusCode::BAD_REQUEST, "empty"),
        (
            "too many",
            serde_json::to_vec(&vec![
                json!({"event_id":"x","type":"view","session_id":"s","product_id":"p"});
                1001
            ])
            .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "",
        ),
        (
            "oversize body",
            vec![b' '; 100 * 1024],
            StatusCode::PAYLOAD_TOO_LARGE,
            "max_body_bytes",
        ),
        (
            "wrong types",
            br#"[{"event_id": 5, "type": "view", "session_id": "s", "product_id": "p"}]"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "event_id",
        ),
    ];
    for (name, body, status, needle) in cases {
        let (st, ctype, v) = s
            .send(reqwest::Method::POST, "/v1/events", Some(body))
            .await;
        assert_eq!(st, status, "{name}: {v}");
        assert_eq!(ctype, "application/problem+json", "{name}");
        assert!(v.to_string().contains(needle), "{name}: {v}");
    }
    for path in [
        "/v1/products?min_price=-3",
        "/v1/products?min_price=50&max_price=10",
        "/v1/products?limit=0",
        "/v1/products?limit=abc",
        "/v1/products?color=red",
        "/v1/products/A/history?at=yesterday",
        "/v1/users/u/events?limit=100000",
    ] {
        let (st, v) = s.get(path).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{path}: {v}");
    }
    assert_eq!(s.get("/no/such/route").await.0, StatusCode::NOT_FOUND);
    // Cheap fuzz: arbitrary bytes at every write endpoint must never produce a 5xx.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in 0..200 {
        let len = (i * 7) % 300;
        let body: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                b"{}[]\",:0123456789abcdefeventidtypeprice-.\\ \xff"[(seed % 44) as usize]
            })
            .collect();
        for path in ["/v1/events", "/v1/products", "/v1/products/batch"] {
            let (st, _, v) = s
                .send(reqwest::Method::POST, path, Some(body.clone()))
                .await;
            assert!(
                st.is_client_error() || st.is_success(),
                "{path} answered {st} to {:?}: {v}",
                String::from_utf8_lossy(&body)
            );
        }
    }
}

#[tokio::test]
async fn health_ready_and_openapi_describe_the_service() {
    let s = start(ServerConfig::default()).await;
    assert_eq!(s.get("/health").await.0, StatusCode::OK);
    assert_eq!(s.get("/ready").await.0, StatusCode::OK);
    let (st, spec) = s.get("/openapi.json").await;
    assert_eq!(st, StatusCode::OK);
    for path in [
        "/v1/events",
        "/v1/products",
        "/v1/products/{id}",
        "/v1/users/{id}",
        "/metrics",
    ] {
        assert!(
            spec["paths"].get(path).is_some(),
            "{path} missing from OpenAPI"
        );
    }
}

#[tokio::test]
async fn model_routes_explain_when_models_are_unavailable() {
    let s = start(ServerConfig::default()).await;
    let (st, ctype, v) = s.post("/v1/embeddings", json!({"input": "boots"})).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(ctype, "application/problem+json");
    assert!(v["detail"].as_str().unwrap().contains("not loaded"));
    let (st, _, _) = s
        .post(
            "/v1/chat/completions",
            json!({"messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    let (st, _, v) = s.post("/v1/embeddings", json!({"inputs": "typo"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
}

/// Polls a search (or suggest) until `ok` holds (the index follows the store asynchronously, within
/// ~a second).
async fn search_until(s: &Server, path: &str, ok: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..500 {
        let (st, v) = s.get(path).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        if ok(&v) {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("search {path} never satisfied the condition");
}

#[tokio::test]
async fn search_follows_catalog_writes_and_logs_impressions() {
    let s = start(ServerConfig::default()).await;
    let batch: Vec<Value> = (0..30)
        .map(|i| product(&format!("B{i}"), &format!("{}", 50 + i * 5)))
        .collect();
    let (st, _, body) = s.post("/v1/products/batch", json!(batch)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let v = search_until(
        &s,
        "/v1/search?q=brown+trail+boots+under+$80&explain=true&user_id=u1",
        |v| v["total"].as_u64() == Some(7),
    )
    .await;
    assert_eq!(v["parsed"]["price"]["max"], 80.0);
    assert_eq!(v["parsed"]["attributes"][0]["name"], "colour");
    assert!(v["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["price"].as_f64().unwrap() <= 80.0));
    assert!(v["hits"][0]["explain"]["lexical"].is_number());
    assert!(v["notices"][0]
        .as_str()
        .unwrap()
        .contains("semantic retrieval unavailable"));
    let request_id = v["request_id"].as_str().unwrap().to_string();

    // The search and its impression list are in the event log under the same request id.
    let mut events = Vec::new();
    for _ in 0..50 {
        let (_, ev) = s.get("/v1/users/u1/events").await;
        events = ev
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["request_id"] == request_id.as_str())
            .cloned()
            .collect();
        if events.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert!(
        types.contains(&"search") && types.contains(&"impression"),
        "{types:?}"
    );
    let shown = events.iter().find(|e| e["type"] == "impression").unwrap();
    assert_eq!(shown["product_ids"].as_array().unwrap().len(), 7);

    // A price change moves a product into the range on the next search (cache invalidated).
    let (st, _, _) = s
        .send(
            reqwest::Method::PATCH,
            "/v1/products/B29",
            Some(br#"{"price":"10"}"#.to_vec()),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    search_until(&s, "/v1/search?q=brown+trail+boots+under+$80", |v| {
        v["total"].as_u64() == Some(8)
    })
    .await;
    // Archived products disappear.
    let (st, _, _) = s
        .send(reqwest::Method::DELETE, "/v1/products/B29", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    search_until(&s, "/v1/search?q=brown+trail+boots+under+$80", |v| {
        v["total"].as_u64() == Some(7)
    })
    .await;

    let (st, v) = s.get("/v1/suggest?q=brown+tr").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["suggestions"][0]["text"], "brown trail boots under 80");
    // Before anyone searched it, the titles' shared phrase completes, counted over the 29 products
    // left (the vocabulary is rebuilt just after the index shows the archive).
    let v = search_until(&s, "/v1/suggest?q=trail+b", |v| {
        v["suggestions"][0]["count"] == 29
    })
    .await;
    assert_eq!(v["suggestions"][0]["text"], "trail boot", "{v}");
    assert_eq!(v["suggestions"][0]["source"], "title");
    // Highlighting marks the searched words by stem ("boots" marks "boot").
    let (_, v) = s
        .get("/v1/search?q=trail+boots&highlight=true&limit=1")
        .await;
    let title = v["hits"][0]["highlighted_title"]
        .as_str()
        .unwrap_or_default();
    assert!(
        title.starts_with("<mark>Trail</mark> <mark>boot</mark>"),
        "{v}"
    );
    let (_, metrics) = s.get("/metrics").await;
    assert!(metrics
        .as_str()
        .unwrap()
        .contains("vitrine_search_cache_hit_ratio"));
    assert!(metrics
        .as_str()
        .unwrap()
        .contains("vitrine_search_word_vectors 0"));
}

#[tokio::test]
async fn search_bad_input_is_a_clear_4xx_or_a_useful_answer() {
    let s = start(ServerConfig::default()).await;
    let (st, _, _) = s
        .post("/v1/products/batch", json!([product("C1", "20")]))
        .await;
    assert_eq!(st, StatusCode::OK);
    search_until(&s, "/v1/search?q=", |v| v["total"].as_u64() == Some(1)).await;
    let bad = [
        (
            "/v1/search?q=boot&attr.flavour=sweet",
            "unknown filter field",
        ),
        (
            "/v1/search?q=boot&price_min=50&price_max=10",
            "greater than price_max",
        ),
        ("/v1/search?q=boot&price_min=-5", "must be ≥ 0"),
        ("/v1/search?q=boot&sort=random", "unknown order"),
        ("/v1/search?q=boot&limit=5000", "limit must be at most"),
        (
            "/v1/search?q=boot&offset=99999999",
            "offset must be at most",
        ),
        ("/v1/search?q=boot&frobnicate=1", "unknown parameter"),
        ("/v1/search?q=boot&limit=abc", "limit"),
        ("/v1/suggest?q=b&limit=500", "limit"),
    ];
    for (path, needle) in bad {
        let (st, v) = s.get(path).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{path}: {v}");
        assert!(
            v["detail"].as_str().unwrap_or_default().contains(needle),
            "{path}: {v}"
        );
    }
    let long = "boot ".repeat(2_000);
    let (st, _, v) = s.post("/v1/search", json!({"query": long})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let (st, _, v) = s
        .post("/v1/search", json!({"query": "x".repeat(10_001)}))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, _, v) = s
        .post(
            "/v1/search",
            json!({"query": "boot", "filters": {"colour": "x"}}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(v["detail"].as_str().unwrap().contains("filters"), "{v}");
    for q in [
        "\"unbalanced",
        "title:boot OR (",
        "the of",
        "*",
        "\u{0}",
        "boot AND NOT boot",
    ] {
        let (st, _, v) = s.post("/v1/search", json!({"query": q})).await;
        assert_eq!(st, StatusCode::OK, "{q}: {v}");
    }
    let (st, v) = s.get("/v1/search?q=boot&offset=5000").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        v["hits"].as_array().unwrap().len(),
        0,
        "a page beyond the end is empty"
    );
    let (st, _, v) = s
        .send(reqwest::Method::POST, "/v1/search", Some(vec![0xff, 0xfe]))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
}
