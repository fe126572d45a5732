//! An OpenAI-compatible HTTP backend for both traits: any server speaking `/embeddings` and
//! `/chat/completions` (including another Vitrine). Timeouts, retries with exponential backoff on
//! 429/5xx/connection errors, a concurrency limit, and the API key read from an environment variable.

use crate::{
    embed::{check_inputs, Embedder},
    llm::{check_messages, ChatMessage, FinishReason, GenerateOptions, Generation, Generator},
    ModelError,
};
use async_trait::async_trait;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};

/// Settings of a remote backend (`[models.openai]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    /// Base URL including the version prefix, e.g. `http://127.0.0.1:7700/v1`.
    pub base_url: String,
    /// Model name sent for embeddings.
    pub embedding_model: String,
    /// Vector length of that model.
    pub embedding_dimension: usize,
    /// Model name sent for chat completions.
    pub chat_model: String,
    /// Environment variable holding the API key (sent as a Bearer token), if any.
    pub api_key_env: Option<String>,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Requests in flight at most.
    pub concurrency: usize,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:7700/v1".into(),
            embedding_model: "all-minilm-l6-v2".into(),
            embedding_dimension: 384,
            chat_model: "smollm2-135m-instruct".into(),
            api_key_env: None,
            timeout_ms: 30_000,
            max_retries: 3,
            concurrency: 8,
        }
    }
}

/// The remote backend.
pub struct OpenAiBackend {
    client: reqwest::Client,
    config: OpenAiConfig,
    api_key: Option<String>,
    permits: Semaphore,
}

enum Attempt {
    Retry(String),
    Fail(ModelError),
}

impl OpenAiBackend {
    /// Builds the client; a configured but unset API-key variable is an error up front.
    pub fn new(config: OpenAiConfig) -> Result<Self, ModelError> {
        let api_key = match &config.api_key_env {
            Some(var) => Some(std::env::var(var).map_err(|_| {
                ModelError::Remote(format!(
                    "environment variable {var} (models.openai.api_key_env) is not set"
                ))
            })?),
            None => None,
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(config.timeout_ms.min(10_000)))
            .build()
            .map_err(|e| ModelError::Remote(e.to_string()))?;
        let permits = Semaphore::new(config.concurrency.max(1));
        Ok(Self {
            client,
            config,
            api_key,
            permits,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.config.base_url.trim_end_matches('/'))
    }

    async fn send_once(&self, path: &str, body: &Value) -> Result<reqwest::Response, Attempt> {
        let mut req = self
            .client
            .post(self.url(path))
            .json(body)
            .timeout(Duration::from_millis(self.config.timeout_ms));
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k);
        }
        match req.send().await {
            Err(e) if e.is_timeout() => Err(Attempt::Retry(format!(
                "timeout after {} ms",
                self.config.timeout_ms
            ))),
            Err(e) if e.is_connect() || e.is_request() => {
                Err(Attempt::Retry(format!("connection failed: {e}")))
            }
            Err(e) => Err(Attempt::Fail(ModelError::Remote(e.to_string()))),
            Ok(r) if r.status().is_success() => Ok(r),
            Ok(r) if r.status().as_u16() == 429 || r.status().is_server_error() => {
                Err(Attempt::Retry(format!("HTTP {}", r.status())))
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                Err(Attempt::Fail(ModelError::Remote(format!(
                    "HTTP {status}: {}",
                    text.chars().take(500).collect::<String>()
                ))))
            }
        }
    }

    /// Sends with retries and backoff; returns the successful response (body not yet read).
    async fn send(&self, path: &str, body: &Value) -> Result<reqwest::Response, ModelError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ModelError::Remote("backend closed".into()))?;
        let mut last = String::new();
        for attempt in 0..=self.config.max_retries {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 * (1 << (attempt - 1).min(6)))).await;
            }
            match self.send_once(path, body).await {
                Ok(r) => return Ok(r),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(why)) => {
                    tracing::warn!(path, attempt, %why, "remote model call failed; retrying");
                    last = why;
                }
            }
        }
        if last.starts_with("timeout") {
            return Err(ModelError::Timeout(self.config.timeout_ms));
        }
        Err(ModelError::Remote(format!(
            "{last} (after {} retries)",
            self.config.max_retries
        )))
    }

    async fn json(&self, path: &str, body: &Value) -> Result<Value, ModelError> {
        let resp = self.send(path, body).await?;
        let text = resp
            .text()
            .await
            .map_err(|e| ModelError::Remote(format!("reading the response: {e}")))?;
        serde_json::from_str(&text).map_err(|e| {
            ModelError::Remote(format!(
                "malformed JSON from the backend ({e}): {}",
                text.chars().take(200).collect::<String>()
            ))
        })
    }
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a Value, ModelError> {
    let mut cur = v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => cur.get(i),
            Err(_) => cur.get(*p),
        }
        .ok_or_else(|| ModelError::Remote(format!("response lacks {}", path.join("."))))?;
    }
    Ok(cur)
}

#[async_trait]
impl Embedder for OpenAiBackend {
    fn model_name(&self) -> &str {
        &self.config.embedding_model
    }
    fn dimension(&self) -> usize {
        self.config.embedding_dimension
    }
    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ModelError> {
        check_inputs(&texts)?;
        let n = texts.len();
        let v = self
            .json(
                "embeddings",
                &json!({"model": self.config.embedding_model, "input": texts}),
            )
            .await?;
        let data = field(&v, &["data"])?
            .as_array()
            .ok_or_else(|| ModelError::Remote("data is not an array".into()))?;
        let mut out = vec![Vec::new(); n];
        for item in data {
            let i = field(item, &["index"])?.as_u64().unwrap_or(u64::MAX) as usize;
            let vec: Vec<f32> = serde_json::from_value(field(item, &["embedding"])?.clone())
                .map_err(|e| {
                    ModelError::Remote(format!("embedding is not a list of numbers: {e}"))
                })?;
            if i >= n {
                return Err(ModelError::Remote(format!(
                    "embedding index {i} out of range"
                )));
            }
            out[i] = vec;
        }
        if out.iter().any(Vec::is_empty) {
            return Err(ModelError::Remote(format!(
                "expected {n} embeddings, got {}",
                data.len()
            )));
        }
        Ok(out)
    }
}

#[async_trait]
impl Generator for OpenAiBackend {
    fn model_name(&self) -> &str {
        &self.config.chat_model
    }

    async fn generate(
        &self,
        messages: Vec<ChatMessage>,
        o: GenerateOptions,
        stream: Option<mpsc::UnboundedSender<String>>,
    ) -> Result<Generation, ModelError> {
        check_messages(&messages)?;
        o.check()?;
        let started = Instant::now();
        let mut body = json!({
            "model": self.config.chat_model, "messages": messages, "max_tokens": o.max_tokens,
            "temperature": o.temperature, "top_p": o.top_p, "seed": o.seed, "stream": stream.is_some(),
        });
        if !o.stop.is_empty() {
            body["stop"] = json!(o.stop);
        }
        // Vitrine extensions; sent only when used, so strict OpenAI-compatible servers are not confused.
        if !o.banned.is_empty() {
            body["banned_phrases"] = json!(o.banned);
        }
        if o.top_k > 0 {
            body["top_k"] = json!(o.top_k);
        }
        if (o.repetition_penalty - 1.0).abs() > f32::EPSILON {
            body["repetition_penalty"] = json!(o.repetition_penalty);
        }
        let Some(tx) = stream else {
            let v = self.json("chat/completions", &body).await?;
            let text = field(&v, &["choices", "0", "message", "content"])?
                .as_str()
                .unwrap_or_default()
                .to_string();
            let finish = match field(&v, &["choices", "0", "finish_reason"])
                .ok()
                .and_then(Value::as_str)
            {
                Some("length") => FinishReason::Length,
                _ => FinishReason::Stop,
            };
            let usage = |k: &str| {
                v.get("usage")
                    .and_then(|u| u.get(k))
                    .and_then(Value::as_u64)
                    .unwrap_or(0) as usize
            };
            let total = started.elapsed().as_secs_f64() * 1000.0;
            return Ok(Generation {
                text,
                prompt_tokens: usage("prompt_tokens"),
                completion_tokens: usage("completion_tokens"),
                finish_reason: finish,
                time_to_first_token_ms: total,
                total_ms: total,
            });
        };
        let resp = self.send("chat/completions", &body).await?;
        let mut bytes = resp.bytes_stream();
        let (mut buf, mut text, mut chunks) = (String::new(), String::new(), 0usize);
        let (mut ttft, mut finish) = (None, FinishReason::Stop);
        while let Some(piece) = bytes.next().await {
            let piece =
                piece.map_err(|e| ModelError::Remote(format!("stream interrupted: {e}")))?;
            buf.push_str(&String::from_utf8_lossy(&piece));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                for line in event.lines() {
                    let Some(data) = line.strip_prefix("data:").map(str::trim) else {
                        continue;
                    };
                    if data == "[DONE]" {
                        continue;
                    }
                    let v: Value = serde_json::from_str(data).map_err(|e| {
                        ModelError::Remote(format!("malformed stream chunk ({e}): {data}"))
                    })?;
                    if let Some(delta) = v
                        .pointer("/choices/0/delta/content")
                        .and_then(Value::as_str)
                    {
                        ttft.get_or_insert_with(|| started.elapsed());
                        text.push_str(delta);
                        chunks += 1;
                        let _ = tx.send(delta.to_string());
                    }
                    if v.pointer("/choices/0/finish_reason")
                        .and_then(Value::as_str)
                        == Some("length")
                    {
                        finish = FinishReason::Length;
                    }
                }
            }
        }
        Ok(Generation {
            text,
            prompt_tokens: 0,
            completion_tokens: chunks,
            finish_reason: finish,
            time_to_first_token_ms: ttft.map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}
