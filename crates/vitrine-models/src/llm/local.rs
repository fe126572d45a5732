//! SmolLM2-135M-Instruct (Q4_1 GGUF) in-process on Vitrine's own quantized Llama forward pass
//! ([`super::engine`]). One copy of the weights serves every request; each generation owns its KV cache.
//! Several completions of one prompt ([`Generator::generate_many`]) share a single pass over the prompt
//! and are decoded together, so each step reads the weights once for all of them.

use super::{
    banned::BannedPhrases,
    chat_ml, check_messages,
    engine::{KvCache, Llama, StepToken},
    gguf_tokenizer, ChatMessage, FinishReason, GenerateOptions, Generation, Generator,
};
use crate::{fetch, manifest::Manifest, ModelError};
use async_trait::async_trait;
use candle_core::{quantized::gguf_file, Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};
use tokenizers::Tokenizer;
use tokio::sync::{mpsc, Semaphore};

/// Name of the model in the manifest.
pub const MODEL_NAME: &str = "smollm2-135m-instruct";
/// Tokens of history the repetition penalty looks at.
const REPEAT_WINDOW: usize = 64;
/// Resamples allowed per step when candidates hit banned phrases, before ending the turn.
const MAX_BAN_RETRIES: usize = 64;
/// Most completions decoded together for one prompt.
pub const MAX_COMPLETIONS: usize = 16;

struct Shared {
    /// The threads the forward pass runs on. Generation runs *inside* this pool so the calling thread
    /// takes a share of every matrix product instead of sleeping and waking ~250 times per token.
    threads: rayon::ThreadPool,
    tokenizer: Tokenizer,
    special: gguf_tokenizer::SpecialTokens,
    model: Llama,
    permits: Semaphore,
}

/// The local instruct LLM. Cheap to clone.
#[derive(Clone)]
pub struct LocalGenerator {
    shared: Arc<Shared>,
}

fn sampling(o: &GenerateOptions) -> Sampling {
    if o.temperature <= 0.0 {
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
    }
}

/// Divides positive logits and multiplies negative ones of recently generated tokens (each token once).
fn apply_repeat_penalty(logits: &mut [f32], penalty: f32, recent: &[u32]) {
    let mut seen = std::collections::HashSet::new();
    for &t in recent {
        if seen.insert(t) {
            if let Some(l) = logits.get_mut(t as usize) {
                *l = if *l >= 0.0 {
                    *l / penalty
                } else {
                    *l * penalty
                };
            }
        }
    }
}

/// The decoding state of one completion: sampling, bans, stop sequences, streaming.
struct Sequence<'a> {
    options: &'a GenerateOptions,
    sampler: LogitsProcessor,
    banned: BannedPhrases,
    generated: Vec<u32>,
    text: String,
    streamed: usize,
    finish: FinishReason,
    done: bool,
    first_token: Option<Duration>,
    elapsed: Duration,
    stream: Option<&'a mpsc::UnboundedSender<String>>,
}

impl<'a> Sequence<'a> {
    fn new(
        options: &'a GenerateOptions,
        stream: Option<&'a mpsc::UnboundedSender<String>>,
    ) -> Self {
        Self {
            options,
            sampler: LogitsProcessor::from_sampling(options.seed, sampling(options)),
            banned: BannedPhrases::new(&options.banned),
            generated: Vec::new(),
            text: String::new(),
            streamed: 0,
            finish: FinishReason::Length,
            done: false,
            first_token: None,
            elapsed: Duration::ZERO,
            stream,
        }
    }

    /// Takes the logits after the last token; returns the next token to feed, or `None` once finished.
    fn advance(
        &mut self,
        shared: &Shared,
        mut logits: Vec<f32>,
        started: Instant,
    ) -> Result<Option<u32>, ModelError> {
        let o = self.options;
        let decode = |ids: &[u32]| {
            shared
                .tokenizer
                .decode(ids, true)
                .map_err(|e| ModelError::Runtime(format!("decode: {e}")))
        };
        let is_end = |t: u32| t == shared.special.eos || Some(t) == shared.special.end_of_turn;
        if (o.repetition_penalty - 1.0).abs() > f32::EPSILON {
            let from = self.generated.len().saturating_sub(REPEAT_WINDOW);
            apply_repeat_penalty(&mut logits, o.repetition_penalty, &self.generated[from..]);
        }
        let next = if self.banned.is_empty() {
            self.sampler
                .sample(&Tensor::new(logits.as_slice(), &Device::Cpu)?)?
        } else {
            let chars_so_far = self.text.chars().count();
            let mut chosen = None;
            for _ in 0..MAX_BAN_RETRIES {
                let candidate = self
                    .sampler
                    .sample(&Tensor::new(logits.as_slice(), &Device::Cpu)?)?;
                if is_end(candidate) {
                    chosen = Some(candidate);
                    break;
                }
                let mut probe = self.generated.clone();
                probe.push(candidate);
                if !self.banned.violated_by(&decode(&probe)?, chars_so_far) {
                    chosen = Some(candidate);
                    break;
                }
                logits[candidate as usize] = f32::NEG_INFINITY;
            }
            chosen.unwrap_or(shared.special.eos)
        };
        self.first_token.get_or_insert_with(|| started.elapsed());
        let next = if is_end(next) {
            self.finish = FinishReason::Stop;
            None
        } else {
            self.generated.push(next);
            self.text = decode(&self.generated)?;
            if let Some(cut) = o
                .stop
                .iter()
                .filter_map(|st| self.text.find(st.as_str()))
                .min()
            {
                self.text.truncate(cut);
                self.finish = FinishReason::Stop;
                None
            } else if self.generated.len() >= o.max_tokens {
                None
            } else {
                Some(next)
            }
        };
        if !self.stream_text(next.is_none()) {
            return Ok(self.finish_now(started)); // the client went away: stop spending CPU on it
        }
        if next.is_none() {
            self.finish_now(started);
        }
        Ok(next)
    }

    fn finish_now(&mut self, started: Instant) -> Option<u32> {
        self.done = true;
        self.elapsed = started.elapsed();
        None
    }

    /// Sends what can be sent; `false` when the receiver is gone.
    fn stream_text(&mut self, last: bool) -> bool {
        let Some(tx) = self.stream else { return true };
        let text = &self.text;
        let safe = if last {
            text.len()
        } else {
            // Hold back a partial UTF-8 character and anything that could be the start of a stop sequence.
            let hold = self
                .options
                .stop
                .iter()
                .map(|st| st.len())
                .max()
                .unwrap_or(0)
                .saturating_sub(1);
            let mut safe = text.len().saturating_sub(hold);
            while safe > self.streamed && !text.is_char_boundary(safe) {
                safe -= 1;
            }
            // A trailing U+FFFD is a character still being decoded: wait for its remaining bytes.
            if text.ends_with('\u{FFFD}') {
                return true;
            }
            safe
        };
        if safe > self.streamed {
            if tx.send(text[self.streamed..safe].to_string()).is_err() {
                return false;
            }
            self.streamed = safe;
        }
        true
    }
}

impl LocalGenerator {
    /// Loads the model (after verifying the file's sha256); `concurrency` generations may run at once,
    /// all sharing one copy of the weights.
    pub fn load(models_dir: &Path, concurrency: usize) -> Result<Self, ModelError> {
        let manifest = Manifest::builtin();
        let spec = manifest
            .model(MODEL_NAME)
            .ok_or_else(|| ModelError::Runtime("manifest lacks the LLM".into()))?;
        let dir = fetch::verify(models_dir, spec)?;
        let path: PathBuf = dir.join("model.gguf");
        let io = |source| ModelError::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let content = gguf_file::Content::read(&mut file)
            .map_err(|e| ModelError::Runtime(format!("reading GGUF: {e}")))?;
        let model = Llama::from_gguf(&content, &mut file)?;
        let (tokenizer, special) = gguf_tokenizer::from_gguf(&content)?;
        Ok(Self {
            shared: Arc::new(Shared {
                threads: rayon::ThreadPoolBuilder::new()
                    .thread_name(|i| format!("vitrine-llm-{i}"))
                    .build()
                    .map_err(|e| ModelError::Runtime(format!("starting LLM threads: {e}")))?,
                tokenizer,
                special,
                model,
                permits: Semaphore::new(concurrency.max(1)),
            }),
        })
    }

    /// The model's tokenizer (rebuilt from the GGUF metadata).
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.shared.tokenizer
    }

    /// The next-token logits after a raw prompt: what the runtime is checked against a reference
    /// implementation with.
    pub fn prompt_logits(&self, prompt: &str) -> Result<Vec<f32>, ModelError> {
        self.shared
            .threads
            .install(|| self.prompt_pass(prompt, 0))
            .map(|(_, _, logits)| logits)
    }

    /// Tokenizes `prompt`, runs it as one batch into a cache with room for `room_after` more tokens, and
    /// returns the prompt's token count, the cache and the logits after its last token.
    fn prompt_pass(
        &self,
        prompt: &str,
        room_after: usize,
    ) -> Result<(usize, KvCache, Vec<f32>), ModelError> {
        let s = &self.shared;
        let ids = s
            .tokenizer
            .encode(prompt, false)
            .map_err(|e| ModelError::Runtime(format!("tokenizer: {e}")))?
            .get_ids()
            .to_vec();
        if ids.is_empty() {
            return Err(ModelError::InvalidInput("the prompt is empty".into()));
        }
        let context = s.model.config().context_length;
        if ids.len() + room_after > context {
            return Err(ModelError::InvalidInput(format!(
                "prompt ({} tokens) + max_tokens ({room_after}) exceeds the model's context of {context} tokens",
                ids.len(),
            )));
        }
        let mut cache = s.model.new_cache(ids.len() + room_after);
        let tokens: Vec<StepToken> = ids
            .iter()
            .map(|&token| StepToken { sequence: 0, token })
            .collect();
        let logits = s
            .model
            .forward(std::slice::from_mut(&mut cache), &tokens, &[ids.len() - 1])?
            .pop()
            .ok_or_else(|| ModelError::Runtime("no logits for the prompt".into()))?;
        Ok((ids.len(), cache, logits))
    }

    /// Generates from a raw prompt (already templated) on the calling thread.
    pub fn generate_prompt_blocking(
        &self,
        prompt: &str,
        options: &GenerateOptions,
        stream: Option<&mpsc::UnboundedSender<String>>,
    ) -> Result<Generation, ModelError> {
        let mut all = self.generate_many_blocking(prompt, std::slice::from_ref(options), stream)?;
        all.pop()
            .ok_or_else(|| ModelError::Runtime("no completion was produced".into()))
    }

    /// Completes one raw prompt once per entry of `options`: the prompt is processed once, its cache
    /// copied to every completion, and the completions decoded together. Completion `i` is exactly what
    /// a lone generation with `options[i]` produces. `stream` receives the first completion's text.
    pub fn generate_many_blocking(
        &self,
        prompt: &str,
        options: &[GenerateOptions],
        stream: Option<&mpsc::UnboundedSender<String>>,
    ) -> Result<Vec<Generation>, ModelError> {
        self.shared
            .threads
            .install(|| self.generate_many_in_pool(prompt, options, stream))
    }

    fn generate_many_in_pool(
        &self,
        prompt: &str,
        options: &[GenerateOptions],
        stream: Option<&mpsc::UnboundedSender<String>>,
    ) -> Result<Vec<Generation>, ModelError> {
        if options.is_empty() || options.len() > MAX_COMPLETIONS {
            return Err(ModelError::InvalidInput(format!(
                "ask for 1 to {MAX_COMPLETIONS} completions"
            )));
        }
        for o in options {
            o.check()?;
        }
        let s = &self.shared;
        let started = Instant::now();
        let longest = options.iter().map(|o| o.max_tokens).max().unwrap_or(1);
        let (prompt_tokens, prefix, first_logits) = self.prompt_pass(prompt, longest)?;
        let mut caches: Vec<KvCache> = vec![prefix; options.len()];
        let mut sequences: Vec<Sequence> = options
            .iter()
            .enumerate()
            .map(|(i, o)| Sequence::new(o, if i == 0 { stream } else { None }))
            .collect();
        let mut pending: Vec<(usize, u32)> = Vec::new();
        for (i, seq) in sequences.iter_mut().enumerate() {
            if let Some(t) = seq.advance(s, first_logits.clone(), started)? {
                pending.push((i, t));
            }
        }
        while !pending.is_empty() {
            let step: Vec<StepToken> = pending
                .iter()
                .map(|&(sequence, token)| StepToken { sequence, token })
                .collect();
            let wanted: Vec<usize> = (0..step.len()).collect();
            let logits = s.model.forward(&mut caches, &step, &wanted)?;
            let mut next = Vec::with_capacity(pending.len());
            for (&(i, _), l) in pending.iter().zip(logits) {
                if let Some(t) = sequences[i].advance(s, l, started)? {
                    next.push((i, t));
                }
            }
            pending = next;
        }
        Ok(sequences
            .into_iter()
            .map(|seq| Generation {
                text: seq.text,
                prompt_tokens,
                completion_tokens: seq.generated.len(),
                finish_reason: seq.finish,
                time_to_first_token_ms: seq
                    .first_token
                    .map(|d| d.as_secs_f64() * 1000.0)
                    .unwrap_or(0.0),
                total_ms: seq.elapsed.as_secs_f64() * 1000.0,
            })
            .collect())
    }
}

impl LocalGenerator {
    /// Checks the messages, waits for a decoding permit and runs `job` on the ChatML prompt on the blocking
    /// pool: decoding is seconds of CPU and must not sit on the async runtime.
    async fn run_decoding<T: Send + 'static>(
        &self,
        messages: &[ChatMessage],
        job: impl FnOnce(&Self, &str) -> Result<T, ModelError> + Send + 'static,
    ) -> Result<T, ModelError> {
        check_messages(messages)?;
        let _permit = self
            .shared
            .permits
            .acquire()
            .await
            .map_err(|_| ModelError::Runtime("generator closed".into()))?;
        let me = self.clone();
        let prompt = chat_ml(messages);
        tokio::task::spawn_blocking(move || job(&me, &prompt))
            .await
            .map_err(|e| ModelError::Runtime(format!("generation task failed: {e}")))?
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
        options.check()?;
        self.run_decoding(&messages, move |me, prompt| {
            me.generate_prompt_blocking(prompt, &options, stream.as_ref())
        })
        .await
    }

    async fn generate_many(
        &self,
        messages: Vec<ChatMessage>,
        options: Vec<GenerateOptions>,
    ) -> Result<Vec<Generation>, ModelError> {
        self.run_decoding(&messages, move |me, prompt| {
            me.generate_many_blocking(prompt, &options, None)
        })
        .await
    }
}
