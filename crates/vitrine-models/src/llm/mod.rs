//! Text generation: the [`Generator`] trait, chat messages, decoding options, and the local SmolLM2
//! implementation.

mod banned;
mod engine;
mod gguf_tokenizer;
mod local;

pub use banned::BannedPhrases;
pub use local::{LocalGenerator, MAX_COMPLETIONS, MODEL_NAME};

use crate::ModelError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl ChatMessage {
    /// A message with a role.
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// Decoding options. Defaults suit product copy: some variety, no loops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateOptions {
    /// Most new tokens.
    pub max_tokens: usize,
    /// 0 = greedy.
    pub temperature: f64,
    /// Nucleus sampling mass.
    pub top_p: f64,
    /// Keep only the k most likely tokens (0 = off).
    pub top_k: usize,
    /// >1 discourages repeating recent tokens.
    pub repetition_penalty: f32,
    /// Same seed, same options, same prompt → same output.
    pub seed: u64,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
    /// Words/phrases that may never appear in the output: masked while decoding, case-insensitively, at word
    /// starts.
    pub banned: Vec<String>,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.7,
            top_p: 0.9,
            top_k: 40,
            repetition_penalty: 1.1,
            seed: 42,
            stop: Vec::new(),
            banned: Vec::new(),
        }
    }
}

/// Most tokens one request may ask for.
pub const MAX_NEW_TOKENS: usize = 2_048;

impl GenerateOptions {
    /// Rejects options no backend could honour.
    pub fn check(&self) -> Result<(), ModelError> {
        let bad = |m: String| Err(ModelError::InvalidInput(m));
        if self.max_tokens == 0 || self.max_tokens > MAX_NEW_TOKENS {
            return bad(format!("max_tokens must be 1 to {MAX_NEW_TOKENS}"));
        }
        if !(0.0..=5.0).contains(&self.temperature) {
            return bad("temperature must be 0 to 5".into());
        }
        if !(0.0..=1.0).contains(&self.top_p) || self.top_p == 0.0 {
            return bad("top_p must be in (0, 1]".into());
        }
        if !(0.5..=3.0).contains(&self.repetition_penalty) {
            return bad("repetition_penalty must be 0.5 to 3".into());
        }
        if self.stop.iter().any(String::is_empty) || self.banned.iter().any(|b| b.trim().is_empty())
        {
            return bad("stop and banned entries must not be empty".into());
        }
        Ok(())
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// End-of-turn token or a stop sequence.
    Stop,
    /// `max_tokens` reached.
    Length,
}

/// A finished generation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generation {
    /// The generated text (stop sequence excluded).
    pub text: String,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
    /// Why it ended.
    pub finish_reason: FinishReason,
    /// Time to the first generated token, ms.
    pub time_to_first_token_ms: f64,
    /// Total time, ms.
    pub total_ms: f64,
}

/// Generates chat completions.
#[async_trait]
pub trait Generator: Send + Sync {
    /// Model name.
    fn model_name(&self) -> &str;
    /// Generates a reply to `messages`. When `stream` is given, text deltas are sent as they are decoded.
    async fn generate(
        &self,
        messages: Vec<ChatMessage>,
        options: GenerateOptions,
        stream: Option<mpsc::UnboundedSender<String>>,
    ) -> Result<Generation, ModelError>;

    /// Several completions of the same messages, one per entry of `options` (typically differing only in
    /// seed), in order. Completion `i` equals `generate(messages, options[i])`; a backend may share work
    /// between them (the local one reads the prompt once and decodes them together).
    async fn generate_many(
        &self,
        messages: Vec<ChatMessage>,
        options: Vec<GenerateOptions>,
    ) -> Result<Vec<Generation>, ModelError> {
        let mut all = Vec::with_capacity(options.len());
        for o in options {
            all.push(self.generate(messages.clone(), o, None).await?);
        }
        Ok(all)
    }
}

/// Checks messages the same way for every backend.
pub fn check_messages(messages: &[ChatMessage]) -> Result<(), ModelError> {
    if messages.is_empty() {
        return Err(ModelError::InvalidInput(
            "messages must not be empty".into(),
        ));
    }
    for (i, m) in messages.iter().enumerate() {
        if !["system", "user", "assistant"].contains(&m.role.as_str()) {
            return Err(ModelError::InvalidInput(format!(
                "messages[{i}].role must be system, user or assistant"
            )));
        }
    }
    Ok(())
}

/// The ChatML template SmolLM2-Instruct was trained with; the generation prompt opens the assistant turn.
pub fn chat_ml(messages: &[ChatMessage]) -> String {
    let mut s = String::new();
    if messages.first().is_none_or(|m| m.role != "system") {
        s.push_str("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n");
    }
    for m in messages {
        s.push_str(&format!(
            "<|im_start|>{}\n{}<|im_end|>\n",
            m.role, m.content
        ));
    }
    s.push_str("<|im_start|>assistant\n");
    s
}
