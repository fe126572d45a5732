//! Rebuilds a `tokenizers::Tokenizer` from the GGUF metadata (`tokenizer.ggml.*`), so the GGUF file alone is
//! enough to run the model: byte-level BPE with its vocabulary, merges and special tokens.

use crate::ModelError;
use candle_core::quantized::gguf_file::{Content, Value};
use serde_json::json;
use tokenizers::Tokenizer;

/// Token ids the decoder needs.
#[derive(Debug, Clone)]
pub struct SpecialTokens {
    /// End-of-sequence.
    pub eos: u32,
    /// End of a chat turn (`<|im_end|>`), when the vocabulary has it.
    pub end_of_turn: Option<u32>,
}

fn strings(content: &Content, key: &str) -> Result<Vec<String>, ModelError> {
    match content.metadata.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(ModelError::Runtime(format!(
                    "GGUF {key} holds a non-string"
                ))),
            })
            .collect(),
        _ => Err(ModelError::Runtime(format!("GGUF metadata lacks {key}"))),
    }
}

fn u32_of(content: &Content, key: &str) -> Option<u32> {
    content.metadata.get(key).and_then(|v| v.to_u32().ok())
}

/// Builds the tokenizer and finds its special tokens.
pub fn from_gguf(content: &Content) -> Result<(Tokenizer, SpecialTokens), ModelError> {
    let model = content
        .metadata
        .get("tokenizer.ggml.model")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    if model != "gpt2" {
        return Err(ModelError::Runtime(format!(
            "unsupported GGUF tokenizer model {model:?} (expected gpt2 byte-level BPE)"
        )));
    }
    let tokens = strings(content, "tokenizer.ggml.tokens")?;
    let merges = strings(content, "tokenizer.ggml.merges")?;
    let types: Vec<i64> = match content.metadata.get("tokenizer.ggml.token_type") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.to_i32().map(i64::from).unwrap_or(1))
            .collect(),
        _ => vec![1; tokens.len()],
    };
    let vocab: serde_json::Map<String, serde_json::Value> = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), json!(i)))
        .collect();
    // Control tokens (type 3) must match atomically in text, like the original tokenizer's added tokens.
    let added: Vec<serde_json::Value> = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| types.get(*i) == Some(&3))
        .map(|(i, t)| json!({"id": i, "content": t, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}))
        .collect();
    let spec = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true},
            {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
        ]},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": merges}
    });
    let tokenizer: Tokenizer = spec.to_string().parse().map_err(|e| {
        ModelError::Runtime(format!("building the tokenizer from GGUF metadata: {e}"))
    })?;
    let eos = u32_of(content, "tokenizer.ggml.eos_token_id").unwrap_or(0);
    let end_of_turn = tokens
        .iter()
        .position(|t| t == "<|im_end|>")
        .map(|i| i as u32);
    Ok((tokenizer, SpecialTokens { eos, end_of_turn }))
}
