//! OpenAI-compatible model endpoints, so any tool that speaks that API can use Vitrine's local models.

use crate::{ApiError, AppState};
use axum::{
    body::Bytes,
    extract::{rejection::BytesRejection, State},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
    Json,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use vitrine_models::{ChatMessage, FinishReason, GenerateOptions};

fn text_of(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body).map_err(|e| {
        ApiError::from(vitrine_ingest::BatchError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })
    })
}

/// `input` is one string or a list of strings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
}

/// An embeddings request (OpenAI format).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct EmbeddingRequest {
    /// Text(s) to embed.
    input: EmbeddingInput,
    /// Ignored: the configured embedding model answers.
    #[serde(default)]
    #[allow(dead_code)]
    model: Option<String>,
    /// Only `float` is supported.
    #[serde(default)]
    encoding_format: Option<String>,
}

/// One embedding.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmbeddingItem {
    object: &'static str,
    index: usize,
    embedding: Vec<f32>,
}

/// An embeddings response (OpenAI format).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmbeddingResponse {
    object: &'static str,
    data: Vec<EmbeddingItem>,
    model: String,
}

/// Embeds one or more texts with the configured embedding backend (L2-normalised vectors).
#[utoipa::path(post, path = "/v1/embeddings", tag = "models", request_body = EmbeddingRequest,
    responses((status = 200, body = EmbeddingResponse), (status = 400, body = crate::error::Problem),
              (status = 503, description = "Model not installed or disabled", body = crate::error::Problem)))]
pub(crate) async fn embeddings(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EmbeddingResponse>, ApiError> {
    let body = body?;
    let req: EmbeddingRequest = vitrine_ingest::record::from_json(text_of(&body)?)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.field, e.reason)))?;
    if req.encoding_format.as_deref().is_some_and(|f| f != "float") {
        return Err(ApiError::bad_request(
            "encoding_format: only \"float\" is supported",
        ));
    }
    let embedder = state
        .models
        .embedder
        .as_ref()
        .map_err(|r| ApiError::unavailable(r))?;
    let texts = match req.input {
        EmbeddingInput::One(t) => vec![t],
        EmbeddingInput::Many(v) => v,
    };
    let vectors = embedder.embed(texts).await?;
    Ok(Json(EmbeddingResponse {
        object: "list",
        data: vectors
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| EmbeddingItem {
                object: "embedding",
                index,
                embedding,
            })
            .collect(),
        model: embedder.model_name().to_string(),
    }))
}

/// `stop` is one string or a list.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum StopInput {
    /// One stop sequence.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// A chat completion request (OpenAI format, plus `top_k`, `repetition_penalty` and `banned_phrases`).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ChatRequest {
    /// The conversation.
    #[schema(value_type = Vec<Object>)]
    messages: Vec<ChatMessage>,
    /// Ignored: the configured generation model answers.
    #[serde(default)]
    #[allow(dead_code)]
    model: Option<String>,
    /// Most new tokens (default 256).
    max_tokens: Option<usize>,
    /// Sampling temperature (0 = greedy).
    temperature: Option<f64>,
    /// Nucleus sampling.
    top_p: Option<f64>,
    /// Top-k sampling (extension).
    top_k: Option<usize>,
    /// Repetition penalty (extension).
    repetition_penalty: Option<f32>,
    /// Seed: same seed, same output.
    seed: Option<u64>,
    /// Stop sequences.
    stop: Option<StopInput>,
    /// Phrases masked while decoding (extension).
    #[serde(default)]
    banned_phrases: Vec<String>,
    /// Server-sent events.
    #[serde(default)]
    stream: bool,
}

fn finish_name(f: FinishReason) -> &'static str {
    match f {
        FinishReason::Stop => "stop",
        FinishReason::Length => "length",
    }
}

/// Chat completion with the configured generation backend; `stream: true` answers with server-sent events.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "models", request_body = ChatRequest,
    responses((status = 200, description = "A chat.completion object, or text/event-stream chunks"),
              (status = 400, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub(crate) async fn chat_completions(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let req: ChatRequest = vitrine_ingest::record::from_json(text_of(&body)?)
        .map_err(|e| ApiError::bad_request(format!("{}: {}", e.field, e.reason)))?;
    let generator = state
        .models
        .generator
        .as_ref()
        .map_err(|r| ApiError::unavailable(r))?
        .clone();
    let d = GenerateOptions::default();
    let options = GenerateOptions {
        max_tokens: req.max_tokens.unwrap_or(d.max_tokens),
        temperature: req.temperature.unwrap_or(d.temperature),
        top_p: req.top_p.unwrap_or(d.top_p),
        top_k: req.top_k.unwrap_or(d.top_k),
        repetition_penalty: req.repetition_penalty.unwrap_or(d.repetition_penalty),
        seed: req.seed.unwrap_or(d.seed),
        stop: match req.stop {
            None => vec![],
            Some(StopInput::One(s)) => vec![s],
            Some(StopInput::Many(v)) => v,
        },
        banned: req.banned_phrases,
    };
    vitrine_models::llm::check_messages(&req.messages)?;
    options.check()?;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = chrono::Utc::now().timestamp();
    let model = generator.model_name().to_string();
    if !req.stream {
        let g = generator.generate(req.messages, options, None).await?;
        return Ok(Json(json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": g.text}, "finish_reason": finish_name(g.finish_reason)}],
            "usage": {"prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
                      "total_tokens": g.prompt_tokens + g.completion_tokens},
        }))
        .into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let task =
        tokio::spawn(async move { generator.generate(req.messages, options, Some(tx)).await });
    let chunk = move |delta: serde_json::Value, finish: Option<&str>| {
        json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        .to_string()
    };
    let first = chunk.clone()(json!({"role": "assistant"}), None);
    enum Phase {
        Deltas,
        Finish,
        Done,
    }
    let stream = futures::stream::unfold(
        (rx, Some(task), Phase::Deltas, chunk),
        |(mut rx, mut task, phase, chunk)| async move {
            match phase {
                Phase::Deltas => match rx.recv().await {
                    Some(d) => {
                        let ev = Event::default().data(chunk(json!({"content": d}), None));
                        Some((
                            Ok::<_, std::convert::Infallible>(ev),
                            (rx, task, Phase::Deltas, chunk),
                        ))
                    }
                    None => {
                        let finish = match task.take() {
                            Some(t) => match t.await {
                                Ok(Ok(g)) => finish_name(g.finish_reason).to_string(),
                                Ok(Err(e)) => format!("error: {e}"),
                                Err(e) => format!("error: {e}"),
                            },
                            None => "stop".into(),
                        };
                        let ev = Event::default().data(chunk(json!({}), Some(&finish)));
                        Some((Ok(ev), (rx, None, Phase::Finish, chunk)))
                    }
                },
                Phase::Finish => Some((
                    Ok(Event::default().data("[DONE]")),
                    (rx, None, Phase::Done, chunk),
                )),
                Phase::Done => None,
            }
        },
    );
    let head = futures::stream::once(async move { Ok(Event::default().data(first)) });
    Ok(Sse::new(futures::StreamExt::chain(head, stream))
        .keep_alive(KeepAlive::default())
        .into_response())
}
