//! The remote backend's failure handling against tiny fake servers on loopback: a server that never answers,
//! one that answers malformed JSON, and one that fails twice then recovers.

use std::{
    sync::{atomic::AtomicUsize, atomic::Ordering, Arc},
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use vitrine_models::{
    openai::{OpenAiBackend, OpenAiConfig},
    Embedder, ModelError,
};

/// Serves canned HTTP responses: `respond(n)` gives the n-th response, `None` means hang forever.
async fn fake(respond: impl Fn(usize) -> Option<(u16, String)> + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let respond = Arc::new(respond);
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (respond, count) = (respond.clone(), count.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = sock.read(&mut buf).await;
                match respond(count.fetch_add(1, Ordering::SeqCst)) {
                    None => tokio::time::sleep(Duration::from_secs(3600)).await,
                    Some((status, body)) => {
                        let resp = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = sock.write_all(resp.as_bytes()).await;
                    }
                }
            });
        }
    });
    format!("http://{addr}/v1")
}

fn backend(base_url: String, timeout_ms: u64, max_retries: u32) -> OpenAiBackend {
    OpenAiBackend::new(OpenAiConfig {
        base_url,
        timeout_ms,
        max_retries,
        ..Default::default()
    })
    .unwrap()
}

#[tokio::test]
async fn a_hanging_backend_times_out_after_the_retries() {
    let b = backend(fake(|_| None).await, 200, 1);
    let started = Instant::now();
    let err = b.embed(vec!["boots".into()]).await.unwrap_err();
    assert!(matches!(err, ModelError::Timeout(200)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by timeout × attempts + backoff"
    );
}

#[tokio::test]
async fn malformed_json_is_a_clear_error() {
    let b = backend(fake(|_| Some((200, "{not json".into()))).await, 2_000, 2);
    let err = b.embed(vec!["boots".into()]).await.unwrap_err();
    assert!(err.to_string().contains("malformed JSON"), "{err}");
    let b = backend(
        fake(|_| Some((200, r#"{"data": "nope"}"#.into()))).await,
        2_000,
        0,
    );
    assert!(b.embed(vec!["boots".into()]).await.is_err());
}

#[tokio::test]
async fn transient_failures_are_retried_and_client_errors_are_not() {
    let ok = r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]}],"model":"m"}"#;
    let b = backend(
        fake(move |n| {
            Some(if n < 2 {
                (503, "{}".into())
            } else {
                (200, ok.into())
            })
        })
        .await,
        2_000,
        3,
    );
    assert_eq!(
        b.embed(vec!["boots".into()]).await.unwrap(),
        vec![vec![0.6, 0.8]]
    );
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let b = backend(
        fake(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            Some((400, r#"{"error":"bad"}"#.into()))
        })
        .await,
        2_000,
        3,
    );
    let err = b.embed(vec!["boots".into()]).await.unwrap_err();
    assert!(err.to_string().contains("400"), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a 4xx is not retried");
}

#[tokio::test]
async fn unset_api_key_variable_fails_up_front() {
    let cfg = OpenAiConfig {
        api_key_env: Some("VITRINE_TEST_SURELY_UNSET_KEY".into()),
        ..Default::default()
    };
    let err = OpenAiBackend::new(cfg).err().expect("must fail");
    assert!(err.to_string().contains("VITRINE_TEST_SURELY_UNSET_KEY"));
}
