//! Vitrine serves its local models as OpenAI-compatible endpoints, and a second Vitrine process uses them
//! through its remote backend, over real HTTP on loopback.

mod common;
use common::*;
use serde_json::{json, Value};
use std::process::Child;

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(db: &std::path::Path, env: &[(&str, String)]) -> (Proc, String) {
    let (child, base) = spawn_server(db, env);
    (Proc(child), base)
}

async fn post(c: &reqwest::Client, url: String, body: Vec<u8>) -> (u16, String) {
    let r = c
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>()
}

fn vectors(v: &Value) -> Vec<Vec<f64>> {
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| serde_json::from_value(d["embedding"].clone()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_vitrine_uses_the_first_as_its_remote_backend() {
    let fetch = vitrine().args(["models", "fetch"]).output().unwrap();
    assert!(
        fetch.status.success(),
        "{}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let local = [
        ("VITRINE_MODELS__EMBEDDING", "local".to_string()),
        ("VITRINE_MODELS__GENERATION", "local".to_string()),
    ];
    let (_a, a) = serve(&dir.path().join("a.db"), &local);
    let remote = [
        ("VITRINE_MODELS__EMBEDDING", "openai".to_string()),
        ("VITRINE_MODELS__GENERATION", "openai".to_string()),
        ("VITRINE_MODELS__OPENAI__BASE_URL", format!("{a}/v1")),
        ("VITRINE_MODELS__OPENAI__MAX_RETRIES", "1".to_string()),
    ];
    let (_b, b) = serve(&dir.path().join("b.db"), &remote);
    let c = reqwest::Client::new();

    let body = serde_json::to_vec(
        &json!({"input": ["waterproof hiking boots", "navy linen shirt"], "model": "x"}),
    )
    .unwrap();
    let (st, local) = post(&c, format!("{a}/v1/embeddings"), body.clone()).await;
    assert_eq!(st, 200, "{local}");
    let (st, via_remote) = post(&c, format!("{b}/v1/embeddings"), body).await;
    assert_eq!(st, 200, "{via_remote}");
    let (l, r) = (
        vectors(&serde_json::from_str(&local).unwrap()),
        vectors(&serde_json::from_str(&via_remote).unwrap()),
    );
    assert_eq!(l.len(), 2);
    assert_eq!(l[0].len(), 384);
    for (x, y) in l.iter().zip(&r) {
        assert!(cosine(x, y) > 0.99999);
    }

    let chat = json!({"messages": [{"role": "user", "content": "Name three colours."}], "temperature": 0, "max_tokens": 24});
    let (st, local) = post(
        &c,
        format!("{a}/v1/chat/completions"),
        serde_json::to_vec(&chat).unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{local}");
    let (st, remote_text) = post(
        &c,
        format!("{b}/v1/chat/completions"),
        serde_json::to_vec(&chat).unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{remote_text}");
    let text = |s: &str| {
        serde_json::from_str::<Value>(s).unwrap()["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        text(&local),
        text(&remote_text),
        "greedy decoding is the same through the remote backend"
    );
    assert!(!text(&local).is_empty());

    // Streaming through both hops: the deltas add up to the same text.
    let mut streamed = chat.clone();
    streamed["stream"] = json!(true);
    let (st, sse) = post(
        &c,
        format!("{b}/v1/chat/completions"),
        serde_json::to_vec(&streamed).unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    let joined: String = sse
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    assert_eq!(joined, text(&local));
    assert!(sse.trim_end().ends_with("data: [DONE]"));

    // Bad input gets clear 4xx answers and the server keeps serving.
    for (body, want) in [
        (b"{\"input\": \"\xff\"}".to_vec(), 400),
        (serde_json::to_vec(&json!({"input": ""})).unwrap(), 400),
        (serde_json::to_vec(&json!({"input": []})).unwrap(), 400),
        (
            serde_json::to_vec(&json!({"input": "x".repeat(100_000)})).unwrap(),
            200,
        ),
    ] {
        let (st, text) = post(&c, format!("{a}/v1/embeddings"), body).await;
        assert_eq!(st, want, "{text}");
    }
    let (st, _) = post(
        &c,
        format!("{a}/v1/chat/completions"),
        serde_json::to_vec(&json!({"messages": []})).unwrap(),
    )
    .await;
    assert_eq!(st, 400);
    let (st, _) = post(
        &c,
        format!("{b}/v1/chat/completions"),
        serde_json::to_vec(&json!({"messages": [{"role": "wizard", "content": "x"}]})).unwrap(),
    )
    .await;
    assert_eq!(st, 400);

    // The remote goes away: B answers 502 and keeps serving everything else.
    drop(_a);
    let (st, text) = post(
        &c,
        format!("{b}/v1/embeddings"),
        serde_json::to_vec(&json!({"input": "boots"})).unwrap(),
    )
    .await;
    assert_eq!(st, 502, "{text}");
    assert_eq!(
        c.get(format!("{b}/health"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let metrics = c
        .get(format!("{b}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("vitrine_http_requests_total"));
}
