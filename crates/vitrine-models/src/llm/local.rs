//! SmolLM2-135M-Instruct (Q4_1 GGUF) in-process with candle's quantized llama. A small pool of model
//! instances (each with its own KV cache) serves several prompts at once; each generation runs on a
//! blocking thread while candle spreads the matrix work over the cores.

use super::{
    banned::BannedPhrases, chat_ml, check_messages, gguf_tokenizer, requant, ChatMessage,
    FinishReason, GenerateOptions, Generation, Generator,
};
use crate::{fetch, manifest::Manifest, ModelError};
use async_trait::async_trait;
use candle_core::{quantized::gguf_file, DType, Device, Tensor};
use candle_transformers::{
    generation::{LogitsProcessor, Sampling},
    models::quantized_llama::ModelWeights,
};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Instant,
};
use tokenizers::Tokenizer;
use tokio::sync::{mpsc, Semaphore};

/// Name of the model in the manifest.
pub const MODEL_NAME: &str = "smollm2-135m-instruct";
/// Tokens of history the repetition penalty looks at.
const REPEAT_WINDOW: usize = 64;
/// Resamples allowed per step when candidates hit banned phrases, before ending the turn.
const MAX_BAN_RETRIES: usize = 64;

struct Shared {
    tokenizer: Tokenizer,
    special: gguf_tokenizer::SpecialTokens,
    context_length: usize,
    pool: Mutex<Vec<ModelWeights>>,
    permits: Semaphore,
}

/// The local instruct LLM. Cheap to clone.
#[derive(Clone)]
pub struct LocalGenerator {
    shared: Arc<Shared>,
}

fn load_weights(path: &Path) -> Result<(gguf_file::Content, ModelWeights), ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let content = gguf_file::Content::read(&mut file)
        .map_err(|e| ModelError::Runtime(format!("reading GGUF: {e}")))?;
    let meta = gguf_file::Content::read(&mut std::fs::File::open(path).map_err(io)?)
        .map_err(|e| ModelError::Runtime(format!("reading GGUF: {e}")))?;
    let weights = match requant::requantized_gguf(&content, &mut file)? {
        Some((fast, mut bytes)) => ModelWeights::from_gguf(fast, &mut bytes, &Device::Cpu)?,
        None => ModelWeights::from_gguf(content, &mut file, &Device::Cpu)?,
    };
    Ok((meta, weights))
}

impl LocalGenerator {
    /// Loads `instances` copies of the model (after verifying the file's sha256); `instances` prompts can be
    /// generated concurrently.
    pub fn load(models_dir: &Path, instances: usize) -> Result<Self, ModelError> {
        let manifest = Manifest::builtin();
        let spec = manifest
            .model(MODEL_NAME)
            .ok_or_else(|| ModelError::Runtime("manifest lacks the LLM".into()))?;
        let dir = fetch::verify(models_dir, spec)?;
        let path: PathBuf = dir.join("model.gguf");
        let (meta, first) = load_weights(&path)?;
        let (tokenizer, special) = gguf_tokenizer::from_gguf(&meta)?;
        let context_length = meta
            .metadata
            .get("llama.context_length")
            .and_then(|v| v.to_u32().ok())
            .unwrap_or(2048) as usize;
        let mut pool = vec![first];
        for _ in 1..instances.max(1) {
            pool.push(load_weights(&path)?.1);
        }
        let n = pool.len();
        Ok(Self {
            shared: Arc::new(Shared {
                tokenizer,
                special,
                context_length,
                pool: Mutex::new(pool),
                permits: Semaphore::new(n),
            }),
        })
    }

    /// The model's tokenizer (rebuilt from the GGUF metadata).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.shared.tokenizer
    }

    /// Generates from a raw prompt (already templated) on the calling thread, using one pooled instance.
    pub fn generate_prompt_blocking(
        &self,
        prompt: &str,
        options: &GenerateOptions,
        stream: Option<&mpsc::UnboundedSender<String>>,
    ) -> Result<Generation, ModelError> {
        options.check()?;
        let mut model = {
            let mut pool = self
                .shared
                .pool
                .lock()
                .map_err(|_| ModelError::Runtime("pool lock poisoned".into()))?;
            pool.pop()
                .ok_or_else(|| ModelError::Runtime("no free model instance".into()))?
        };
        let result = self.run(&mut model, prompt, options, stream);
        if let Ok(mut pool) = self.shared.pool.lock() {
            pool.push(model);
        }
        result
    }

    fn run(
        &self,
        model: &mut ModelWeights,
        prompt: &str,
        o: &GenerateOptions,
        stream: Option<&mpsc::UnboundedSender<String>>,
    ) -> Result<Generation, ModelError> {
        let s = &self.shared;
        let started = Instant::now();
        let decode = |ids: &[u32]| {
            s.tokenizer
                .decode(ids, true)
                .map_err(|e| ModelError::Runtime(format!("decode: {e}")))
        };
        let prompt_ids = s
            .tokenizer
            .encode(prompt, false)
            .map_err(|e| ModelError::Runtime(format!("tokenizer: {e}")))?
            .get_ids()
            .to_vec();
        if prompt_ids.is_empty() {
            return Err(ModelError::InvalidInput("the prompt is empty".into()));
        }
        if prompt_ids.len() + o.max_tokens > s.context_length {
            return Err(ModelError::InvalidInput(format!(
                "prompt ({} tokens) + max_tokens ({}) exceeds the model's context of {} tokens",
                prompt_ids.len(),
                o.max_tokens,
                s.context_length
            )));
        }
        let sampling = if o.temperature <= 0.0 {
            Sampling::ArgMax
        } else if o.top_k > 0 && o.top_p < 1.0 {
            Sampling::TopKThenTopP {
                k: o.top_k,
                p: o.top_p,
                temperature: o.temperature,
            }
        } else if o.top_k > 0 {
            Sampling::TopK {
                k: o.top_k,
                temperature: o.temperature,
            }
        } else if o.top_p < 1.0 {
            Sampling::TopP {
                p: o.top_p,
                temperature: o.temperature,
            }
        } else {
            Sampling::All {
                temperature: o.temperature,
            }
        };
        let mut sampler = LogitsProcessor::from_sampling(o.seed, sampling);
        let banned = BannedPhrases::new(&o.banned);
        let is_end = |t: u32| t == s.special.eos || Some(t) == s.special.end_of_turn;
        let mut generated: Vec<u32> = Vec::new();
        let mut text = String::new();
        let mut streamed = 0usize;
        let mut ttft = None;
        let mut finish = FinishReason::Length;
        let mut pos = 0usize;
        let mut input: Vec<u32> = prompt_ids.clone();
        for _ in 0..o.max_tokens {
            let x = Tensor::new(input.as_slice(), &Device::Cpu)?.unsqueeze(0)?;
            let logits = model.forward(&x, pos)?.squeeze(0)?.to_dtype(DType::F32)?;
            pos += input.len();
            let logits =
                if (o.repetition_penalty - 1.0).abs() > f32::EPSILON && !generated.is_empty() {
                    let from = generated.len().saturating_sub(REPEAT_WINDOW);
                    candle_transformers::utils::apply_repeat_penalty(
                        &logits,
                        o.repetition_penalty,
                        &generated[from..],
                    )?
                } else {
                    logits
                };
            let next = if banned.is_empty() {
                sampler.sample(&logits)?
            } else {
                let mut values: Vec<f32> = logits.to_vec1()?;
                let chars_so_far = text.chars().count();
                let mut chosen = None;
                for _ in 0..MAX_BAN_RETRIES {
                    let candidate =
                        sampler.sample(&Tensor::new(values.as_slice(), &Device::Cpu)?)?;
                    if is_end(candidate) {
                        chosen = Some(candidate);
                        break;
                    }
                    let mut probe = generated.clone();
                    probe.push(candidate);
                    if !banned.violated_by(&decode(&probe)?, chars_so_far) {
                        chosen = Some(candidate);
                        break;
                    }
                    values[candidate as usize] = f32::NEG_INFINITY;
                }
                chosen.unwrap_or(s.special.eos)
            };
            ttft.get_or_insert_with(|| started.elapsed());
            if is_end(next) {
                finish = FinishReason::Stop;
                break;
            }
            generated.push(next);
            input = vec![next];
            text = decode(&generated)?;
            if let Some(cut) = o.stop.iter().filter_map(|st| text.find(st.as_str())).min() {
                text.truncate(cut);
                finish = FinishReason::Stop;
                break;
            }
            if let Some(tx) = stream {
                // Hold back a partial UTF-8 character and anything that could be the start of a stop sequence.
                let hold = o
                    .stop
                    .iter()
                    .map(|st| st.len())
                    .max()
                    .unwrap_or(0)
                    .saturating_sub(1);
                let mut safe = text.len().saturating_sub(hold);
                while safe > streamed && !text.is_char_boundary(safe) {
                    safe -= 1;
                }
                // A trailing U+FFFD is a character still being decoded: wait for its remaining bytes.
                if safe > streamed && !text.ends_with('\u{FFFD}') {
                    if tx.send(text[streamed..safe].to_string()).is_err() {
                        break; // the client went away: stop spending CPU on it
                    }
                    streamed = safe;
                }
            }
        }
        if let Some(tx) = stream {
            if text.len() > streamed {
                let _ = tx.send(text[streamed..].to_string());
            }
        }
        Ok(Generation {
            text,
            prompt_tokens: prompt_ids.len(),
            completion_tokens: generated.len(),
            finish_reason: finish,
            time_to_first_token_ms: ttft.map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
            total_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }
}

#[async_trait]
impl Generator for LocalGenerator {
    fn model_name(&self) -> &str {
        MODEL_NAME
    }

    async fn generate(
        &self,
        messages: Vec<ChatMessage>,
        options: GenerateOptions,
        stream: Option<mpsc::UnboundedSender<String>>,
    ) -> Result<Generation, ModelError> {
        check_messages(&messages)?;
        options.check()?;
        let _permit = self
            .shared
            .permits
            .acquire()
            .await
            .map_err(|_| ModelError::Runtime("generator closed".into()))?;
        let me = self.clone();
        let prompt = chat_ml(&messages);
        tokio::task::spawn_blocking(move || {
            me.generate_prompt_blocking(&prompt, &options, stream.as_ref())
        })
        .await
        .map_err(|e| ModelError::Runtime(format!("generation task failed: {e}")))?
    }
}
