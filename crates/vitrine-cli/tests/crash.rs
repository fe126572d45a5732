//! Crash test: `kill -9` the server while clients stream events; after restart every acknowledged event is
//! present exactly once, and re-sending everything that was acknowledged stores nothing new.

mod common;
use common::*;
use std::{
    collections::HashSet,
    process::Child,
    sync::{Arc, Mutex},
    time::Duration,
};
use vitrine_store::Store;

/// Acknowledged event ids with the request body that carried them.
type Acked = Vec<(String, Vec<u8>)>;

fn start_server(db: &std::path::Path) -> (Child, String) {
    spawn_server(db, &[])
}

fn batch(client: usize, n: usize) -> (Vec<String>, Vec<u8>) {
    let ids: Vec<String> = (0..100).map(|i| format!("c{client}-b{n}-{i}")).collect();
    let events: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| serde_json::json!({"event_id": id, "type": "view", "session_id": format!("s{client}"), "product_id": "P1"}))
        .collect();
    (ids, serde_json::to_vec(&events).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_dash_nine_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let acked: Arc<Mutex<Acked>> = Arc::new(Mutex::new(Vec::new()));
    let mut acked_ids: HashSet<String> = HashSet::new();

    for round in 0..3 {
        let (mut server, base) = start_server(&db);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let mut tasks = Vec::new();
        for c in 0..4 {
            let (client, base, acked) = (client.clone(), base.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    let (ids, body) = batch(round * 10 + c, n);
                    let sent = client
                        .post(format!("{base}/v1/events"))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().is_success() => {
                            for id in &ids {
                                acked.lock().unwrap().push((id.clone(), body.clone()));
                            }
                        }
                        _ => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(700 + 300 * round as u64)).await;
        server.kill().unwrap(); // SIGKILL: no graceful shutdown, no flush.
        server.wait().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        acked_ids.extend(acked.lock().unwrap().iter().map(|(id, _)| id.clone()));
    }
    assert!(
        acked_ids.len() > 1_000,
        "the test must actually ingest under load ({} acked)",
        acked_ids.len()
    );

    // Restart: every acknowledged event is there, exactly once (event_id is unique in the schema).
    let store = vitrine_store::SqliteStore::open(&db, Default::default())
        .await
        .unwrap();
    let mut missing = 0;
    for id in &acked_ids {
        if store.get_event(id).await.unwrap().is_none() {
            missing += 1;
        }
    }
    assert_eq!(missing, 0, "acknowledged events lost after kill -9");
    let stored = store.stats().await.unwrap().events;
    assert!(stored >= acked_ids.len() as u64);
    store.close().await;

    // Re-sending every acknowledged batch after the crash stores nothing new.
    let (mut server, base) = start_server(&db);
    let client = reqwest::Client::new();
    let bodies: HashSet<Vec<u8>> = acked
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b.clone())
        .collect();
    let mut new = 0;
    for body in bodies {
        let r: serde_json::Value = client
            .post(format!("{base}/v1/events"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        new += r["stored"].as_u64().unwrap();
    }
    assert_eq!(new, 0, "duplicates after restart were stored again");
    sigterm(&server);
    let status = server.wait().unwrap();
    assert!(status.success(), "SIGTERM shuts down cleanly: {status}");
}

fn sigterm(child: &Child) {
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
}
