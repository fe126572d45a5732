//! Test harness shared by the HTTP test files: a real server (search and recommendations included) on a
//! loopback port, over a temporary store.

#![allow(dead_code)]

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use vitrine_server::{AppState, Metrics, ServerConfig};
use vitrine_store::{RecStore, SqliteStore, Store, StoreOptions};

pub struct Server {
    pub base: String,
    pub client: Client,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start(config: ServerConfig) -> Server {
    start_with_search(config, |_| vitrine_search::SearchConfig::default()).await
}

/// [`start`] with an empty rules file in the server's directory, as a first deploy has; also returns
/// the file's path, for tests that read or edit the rules on disk.
#[allow(dead_code)] // not every test binary edits rules
pub async fn start_with_rules_file() -> (Server, std::path::PathBuf) {
    let mut rules = None;
    let server = start_with_search(ServerConfig::default(), |dir| {
        let file = dir.join("rules.toml");
        std::fs::write(&file, "").unwrap();
        rules = Some(file.clone());
        vitrine_search::SearchConfig {
            rules: Some(file),
            ..Default::default()
        }
    })
    .await;
    (server, rules.expect("the search configuration was made"))
}

/// [`start`] with the search configuration `search` makes from the server's temporary directory
/// (to place a rules or synonyms file there).
pub async fn start_with_search(
    config: ServerConfig,
    search: impl FnOnce(&std::path::Path) -> vitrine_search::SearchConfig,
) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("api.db"), StoreOptions::default())
        .await
        .unwrap();
    let sqlite = Arc::new(store);
    let store = sqlite.clone() as Arc<dyn Store>;
    let engine = Arc::new(
        vitrine_search::SearchEngine::open(
            search(dir.path()),
            Some(&dir.path().join("search")),
            None,
        )
        .unwrap(),
    );
    let catalog_changed = Arc::new(tokio::sync::Notify::new());
    vitrine_search::sync::spawn_followers(
        engine.clone(),
        store.clone(),
        catalog_changed.clone(),
        std::time::Duration::from_millis(50),
    );
    // As `vitrine serve` does: edits to the rules file on disk apply and enter the history.
    vitrine_search::reload::spawn_watcher(
        engine.clone(),
        std::time::Duration::from_millis(50),
        Some(sqlite.clone() as Arc<dyn vitrine_store::RulesHistory>),
    );
    let recommend = vitrine_recommend::RecommendEngine::new(
        vitrine_recommend::RecommendConfig {
            explore_share: 0.0,
            ..Default::default()
        },
        sqlite.clone() as Arc<dyn RecStore>,
        dir.path().join("recommend"),
    );
    recommend.load(store.as_ref()).await.unwrap();
    recommend.clone().spawn_catalog_follower(
        store.clone(),
        catalog_changed.clone(),
        std::time::Duration::from_millis(50),
    );
    let content_workflow = vitrine_content::workflow::Workflow::new(
        store.clone(),
        sqlite.clone() as Arc<dyn vitrine_store::ContentStore>,
        vitrine_content::ContentConfig::default(),
    );
    let content = vitrine_server::ContentServices {
        jobs: vitrine_content::jobs::Jobs::new(
            store.clone(),
            sqlite.clone() as Arc<dyn vitrine_store::ContentStore>,
            content_workflow.clone(),
            None,
        ),
        workflow: content_workflow,
    };
    let state = AppState {
        content: Ok(Arc::new(content)),
        store,
        search: Ok(engine),
        recommend: Ok(recommend),
        rec_store: Some(sqlite.clone() as Arc<dyn RecStore>),
        rules_history: Some(sqlite as Arc<dyn vitrine_store::RulesHistory>),
        training: Default::default(),
        catalog_changed,
        models: vitrine_server::ModelServices::none("models are not loaded in this test"),
        config: Arc::new(config),
        metrics: Arc::new(Metrics::new()),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(vitrine_server::serve(listener, state, async {
        let _ = rx.await;
    }));
    Server {
        base,
        client: Client::new(),
        _dir: dir,
        stop: Some(tx),
    }
}

impl Server {
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, String, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_string())
            .unwrap_or_default();
        assert!(
            resp.headers().contains_key("x-request-id"),
            "every response carries a request id"
        );
        let text = resp.text().await.unwrap();
        (
            status,
            ctype,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    /// The body of `GET path` as text, whatever its type.
    pub async fn text(&self, path: &str) -> String {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        resp.text().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, _, v) = self.send(reqwest::Method::GET, path, None).await;
        (s, v)
    }
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, String, Value) {
        self.send(
            reqwest::Method::POST,
            path,
            Some(serde_json::to_vec(&body).unwrap()),
        )
        .await
    }
}

pub fn product(id: &str, price: &str) -> Value {
    json!({"id": id, "title": format!("Trail boot {id}"), "price": price, "currency": "USD",
           "category": "Footwear > Men > Boots", "brand": "Stride",
           "inventory": {"quantity": 3}, "attributes": {"waterproof": true, "colour": "brown"}})
}
