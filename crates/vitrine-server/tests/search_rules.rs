//! Merchandising rules edited over HTTP: checked before anything changes, written to the rules file,
//! applied to the next search.

mod common;

use common::{product, start, start_with_search};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use vitrine_server::ServerConfig;

async fn put(s: &common::Server, body: Value) -> (StatusCode, Value) {
    let (st, _, v) = s
        .send(
            Method::PUT,
            "/v1/search/rules",
            Some(body.to_string().into_bytes()),
        )
        .await;
    (st, v)
}

fn first_hit(v: &Value) -> &str {
    v["hits"][0]["id"].as_str().unwrap_or("")
}

#[tokio::test]
async fn rules_edited_over_http_apply_at_once_and_bad_ones_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.toml");
    std::fs::write(&file, "").unwrap();
    let rules_path = file.clone();
    let s = start_with_search(ServerConfig::default(), move |_| {
        vitrine_search::SearchConfig {
            rules: Some(rules_path),
            ..Default::default()
        }
    })
    .await;
    let batch: Vec<Value> = (0..5)
        .map(|i| product(&format!("B{i}"), &format!("{}", 50 + i)))
        .collect();
    let (st, _, _) = s.post("/v1/products/batch", json!(batch)).await;
    assert_eq!(st, StatusCode::OK);
    let (st, v) = s.get("/v1/search/rules").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["editable"], true);
    assert_eq!(v["text"], "", "an empty file: the default rules");

    // The catalog arrives asynchronously: wait for all five, and pin the one ranked last.
    let mut before = Value::Null;
    for _ in 0..200 {
        let (_, v) = s.get("/v1/search?q=trail+boot").await;
        if v["total"].as_u64() == Some(5) {
            before = v;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let last = before["hits"][4]["id"]
        .as_str()
        .expect("five hits")
        .to_string();
    assert_ne!(first_hit(&before), last);

    let pin = format!("[[pin]]\nquery = \"trail boot\"\nproduct = \"{last}\"\nposition = 1\n");
    let (st, v) = put(&s, json!({"text": pin, "actor": "maria"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["rules"]["pin"][0]["product"], last.as_str());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pin);
    let (_, v) = s.get("/v1/search?q=trail+boot").await;
    assert_eq!(first_hit(&v), last, "the next search obeys: {v}");

    // A text that does not parse, or names an unknown key, is refused with the reason; nothing changes.
    for bad in [
        "[[pin]]\nquery = ",
        "[[pin]]\nquery = \"x\"\nproduct = \"B1\"\nposition = 1\ncolour = 2\n",
    ] {
        let (st, v) = put(&s, json!({"text": bad, "actor": "maria"})).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["detail"].as_str().unwrap().starts_with("text:"), "{v}");
    }
    let (st, v) = put(&s, json!({"text": "", "actor": " "})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(v["detail"].as_str().unwrap().contains("actor"), "{v}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pin);
    let (_, v) = s.get("/v1/search?q=trail+boot").await;
    assert_eq!(first_hit(&v), last);
    let (_, v) = s.get("/v1/search/rules").await;
    assert_eq!(v["text"], pin);
}

#[tokio::test]
async fn without_a_rules_file_the_rules_are_read_only() {
    let s = start(ServerConfig::default()).await;
    let (st, v) = s.get("/v1/search/rules").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["editable"], false);
    assert_eq!(v["rules"]["out_of_stock"], "demote");
    let (st, v) = put(&s, json!({"text": "", "actor": "maria"})).await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("[search] rules"),
        "{v}"
    );
}
