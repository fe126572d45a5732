//! Merchandising rules edited over HTTP: checked before anything changes, written to the rules file,
//! applied to the next search.

mod common;

use common::{product, start, start_with_rules_file};
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
    let (s, file) = start_with_rules_file().await;
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

async fn history(s: &common::Server) -> Vec<Value> {
    let (st, v) = s.get("/v1/search/rules/history").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["versions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn every_edit_is_a_version_a_stale_edit_is_refused_and_any_version_can_be_restored() {
    let (s, file) = start_with_rules_file().await;
    assert!(history(&s).await.is_empty());
    let (_, v) = s.get("/v1/search/rules").await;
    assert_eq!(v["version"], Value::Null);

    let hide = "out_of_stock = \"hide\"\n";
    let (st, v) = put(
        &s,
        json!({"text": hide, "actor": "maria", "note": "sold-out clutter"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 1);
    let ignore = "out_of_stock = \"ignore\"\n";
    let (st, v) = put(
        &s,
        json!({"text": ignore, "actor": "li", "base_version": 1}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 2);

    // Maria edits the text she loaded at version 1; Li's version 2 is not silently overwritten.
    let stale = "out_of_stock = \"demote\"\n";
    let (st, v) = put(
        &s,
        json!({"text": stale, "actor": "maria", "base_version": 1}),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    let why = v["detail"].as_str().unwrap();
    assert!(why.contains("version 2 by li"), "{v}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), ignore);
    let (_, v) = s.get("/v1/search/rules").await;
    assert_eq!(v["rules"]["out_of_stock"], "ignore");
    assert_eq!(v["version"], 2);

    // Re-sending the text in force records nothing new.
    let (st, v) = put(&s, json!({"text": ignore, "actor": "li"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 2);

    let h = history(&s).await;
    let summary: Vec<(i64, &str, &str)> = h
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["actor"].as_str().unwrap(),
                v["text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(summary, vec![(2, "li", ignore), (1, "maria", hide)]);
    assert_eq!(h[1]["note"], "sold-out clutter");
    assert_eq!(h[1]["source"], "api");

    // Restore version 1: its text is written, applied and recorded as version 3.
    let rollback = |body: Value| {
        let s = &s;
        async move {
            let (st, _, v) = s
                .send(
                    Method::POST,
                    "/v1/search/rules/rollback",
                    Some(body.to_string().into_bytes()),
                )
                .await;
            (st, v)
        }
    };
    let (st, v) = rollback(json!({"version": 1, "actor": "ana"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 3);
    assert_eq!(v["rules"]["out_of_stock"], "hide");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), hide);
    let (st, v) = s.get("/v1/search/rules/history/3").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["source"], "rollback");
    assert_eq!(v["note"], "rolled back to version 1");
    assert_eq!(v["actor"], "ana");

    // Bad requests name what is wrong.
    let (st, v) = rollback(json!({"version": 9, "actor": "ana"})).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    let (st, v) = rollback(json!({"version": 1, "actor": ""})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("actor"), "{v}");
    let (st, v) = rollback(json!({"version": "one", "actor": "ana"})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("version"), "{v}");
    let (st, v) = s.get("/v1/search/rules/history/abc").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, _) = s.get("/v1/search/rules/history?limit=x").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // An edit made on the server's disk applies and enters the history as `file`.
    let on_disk = "out_of_stock = \"demote\"\nmargin_weight = 0.2\n";
    std::fs::write(&file, on_disk).unwrap();
    let mut newest = Value::Null;
    for _ in 0..200 {
        newest = history(&s).await[0].clone();
        if newest["version"] == 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(newest["version"], 4, "{newest}");
    assert_eq!(newest["actor"], "file");
    assert_eq!(newest["source"], "file");
    assert_eq!(newest["text"], on_disk);
    let (_, v) = s.get("/v1/search/rules").await;
    assert_eq!(v["rules"]["out_of_stock"], "demote");

    // Paging: older than version 3, one at a time.
    let (_, v) = s.get("/v1/search/rules/history?before=3&limit=1").await;
    assert_eq!(v["versions"].as_array().unwrap().len(), 1);
    assert_eq!(v["versions"][0]["version"], 2);
}
