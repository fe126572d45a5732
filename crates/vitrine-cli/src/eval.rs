//! `vitrine eval …`: relevance and query-understanding evaluations on the shared data sets. Printed
//! figures are what docs/search.md reports; nothing here is a pass/fail test.

use crate::config::Config;
use crate::eval_ranker::{train_ranker, with_listwise_in_context};
use crate::progress;
use anyhow::Context;
use clap::Subcommand;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vitrine_models::Embedder;
use vitrine_search::eval::{Accumulator, HomeDepot};
use vitrine_search::ltr::LearnedRanker;
use vitrine_search::{Fusion, Retrieval, SearchConfig, SearchEngine, SearchRequest};

pub(crate) use crate::eval_ranker::{RankerTraining, TrainingParts};

/// Evaluations.
#[derive(Subcommand)]
pub enum EvalWhat {
    /// Home Depot protocol: NDCG@10 and Recall@100 for BM25, vectors and hybrid fusions, in one run.
    Search(Box<crate::eval_search_args::SearchArgs>),
    /// Query understanding: constraint extraction and filtered result sets on labelled fashion queries.
    Understanding {
        /// Myntra catalog CSV.
        #[arg(
            long,
            default_value = "../shared/datasets/myntra_products_catalog/myntra_products_catalog.csv"
        )]
        myntra: PathBuf,
        /// Fashion styles CSV.
        #[arg(
            long,
            default_value = "../shared/datasets/fashion_product_images_small/styles_8col.csv"
        )]
        styles: PathBuf,
        /// Seed of the query generator.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Write the labelled queries here as JSON lines.
        #[arg(long)]
        write_queries: Option<PathBuf>,
    },
    /// Next-item recommendation on amazon_seqrec: popularity, co-visitation, sequence model, blend.
    Recommend {
        /// Folder with Beauty.txt and Sports_and_Outdoors.txt.
        #[arg(long, default_value = "../shared/datasets/amazon_seqrec")]
        dataset: PathBuf,
        /// Datasets (file stems) to run.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "Beauty,Sports_and_Outdoors"
        )]
        datasets: Vec<String>,
        /// One sequence-model setting instead of the validation grid.
        #[arg(long)]
        quick: bool,
    },
    /// The fact checker on altered and faithful copies of real Myntra descriptions.
    Facts {
        /// Myntra catalog CSV.
        #[arg(
            long,
            default_value = "../shared/datasets/myntra_products_catalog/myntra_products_catalog.csv"
        )]
        myntra: PathBuf,
        /// Products sampled (seeded).
        #[arg(long, default_value_t = 600)]
        products: usize,
        /// Seed of the sample and the alterations.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Print the full summary as JSON (with examples of misses).
        #[arg(long)]
        json: bool,
    },
    /// Copy generation on Myntra products: validation scores, fact findings for N = 1 vs best-of-N, speed.
    Content {
        /// Myntra catalog CSV.
        #[arg(
            long,
            default_value = "../shared/datasets/myntra_products_catalog/myntra_products_catalog.csv"
        )]
        myntra: PathBuf,
        /// Products sampled (seeded).
        #[arg(long, default_value_t = 500)]
        products: usize,
        /// Candidates per product (N); N = 1 figures are those of the first candidate.
        #[arg(long, default_value_t = 4)]
        candidates: usize,
        /// Sampling seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Write two full examples (copy, validation report, attribution) here as JSON.
        #[arg(long)]
        examples: Option<PathBuf>,
    },
}

/// Runs an evaluation.
pub async fn run(what: EvalWhat, config: &Config) -> anyhow::Result<()> {
    match what {
        EvalWhat::Search(args) => {
            let (dataset, opts) = args.into_eval(config)?;
            search(&dataset, opts, config).await
        }
        EvalWhat::Understanding {
            myntra,
            styles,
            seed,
            write_queries,
        } => crate::eval_understanding::run(&myntra, &styles, seed, write_queries.as_deref()).await,
        EvalWhat::Recommend {
            dataset,
            datasets,
            quick,
        } => tokio::task::block_in_place(|| crate::eval_recommend::run(&dataset, &datasets, quick)),
        EvalWhat::Facts {
            myntra,
            products,
            seed,
            json,
        } => crate::eval_content::facts(&myntra, products, seed, json),
        EvalWhat::Content {
            myntra,
            products,
            candidates,
            seed,
            examples,
        } => {
            crate::eval_content::content(&myntra, products, candidates, seed, examples, config)
                .await
        }
    }
}

fn product(id: &str, title: &str) -> anyhow::Result<vitrine_core::Product> {
    let input: vitrine_core::ProductInput = serde_json::from_value(serde_json::json!({
        "id": id, "title": title, "price": "1", "currency": "USD", "inventory": {"quantity": 1}
    }))?;
    input
        .validate(chrono::Utc::now())
        .map_err(|e| anyhow::anyhow!("product {id}: {e:?}"))
}

pub(crate) struct SearchEval {
    pub(crate) n_queries: usize,
    pub(crate) seed: u64,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) dump_dir: Option<PathBuf>,
    pub(crate) train_queries: usize,
    pub(crate) ranking: RankerTraining,
    pub(crate) only_tuned_ranker: bool,
    pub(crate) adapter_epochs: usize,
    pub(crate) save_adapter: Option<PathBuf>,
    pub(crate) tuning: crate::eval_tune::EncoderTuning,
    pub(crate) cross: Box<crate::eval_cross::CrossArgs>,
}

async fn search(dataset: &Path, opts: SearchEval, config: &Config) -> anyhow::Result<()> {
    let SearchEval {
        n_queries,
        seed,
        cache_dir,
        dump_dir,
        train_queries,
        ranking,
        only_tuned_ranker,
        adapter_epochs,
        save_adapter,
        tuning,
        cross,
    } = opts;
    let data = HomeDepot::load(dataset).with_context(|| {
        format!(
            "reading the Home Depot data set from {} (see ../shared/datasets/README.md)",
            dataset.display()
        )
    })?;
    // The evaluated queries are the first of one seeded shuffle; the ranker trains on the ones after them.
    let shuffled = data.sample(usize::MAX, seed);
    let n_test = if n_queries == 0 {
        shuffled.len()
    } else {
        n_queries.min(shuffled.len())
    };
    let (queries, rest) = shuffled.split_at(n_test);
    let train: Vec<_> = rest.iter().take(train_queries).cloned().collect();
    eprintln!(
        "{} products, {} queries sampled (seed {seed}) of {}",
        data.products.len(),
        queries.len(),
        data.queries.len()
    );
    let titles: HashMap<String, String> = data.products.iter().cloned().collect();
    let embedder = crate::models::backends(config)
        .embedder
        .map_err(|e| anyhow::anyhow!("the evaluation needs the embedding model: {e}"))?;
    let search_config = SearchConfig {
        cache_capacity: 0,
        ranker: None,
        ..config.search.clone()
    };
    let products: Vec<vitrine_core::Product> = data
        .products
        .iter()
        .map(|(id, t)| product(id, t))
        .collect::<anyhow::Result<_>>()?;
    let texts: Vec<String> = products
        .iter()
        .map(vitrine_search::doc::embedding_text)
        .collect();
    let cache = cache_dir
        .or_else(|| dirs::cache_dir().map(|d| d.join("vitrine").join("eval")))
        .unwrap_or_else(|| PathBuf::from(".vitrine-eval-cache"));
    let (engine, catalog) = build_engine(
        search_config.clone(),
        embedder.clone(),
        &products,
        &texts,
        &cache,
    )
    .await?;
    crate::eval_understanding::report_corrections(&engine, queries);
    let cross_inputs = crate::eval_cross::Inputs {
        titles: &titles,
        args: &cross,
        models_dir: &config.models.dir,
        cache: &cache,
    };

    let mut methods: Vec<(String, Retrieval, Option<Fusion>)> = vec![
        ("BM25 (lexical only)".into(), Retrieval::Lexical, None),
        (
            "vectors only (MiniLM, HNSW int8)".into(),
            Retrieval::Semantic,
            None,
        ),
        (
            "hybrid RRF k=60".into(),
            Retrieval::Hybrid,
            Some(Fusion::Rrf { k: 60.0 }),
        ),
    ];
    for w in [0.3f32, 0.5, 0.6, 0.7, 0.8] {
        let fusion = Fusion::Weighted { lexical_weight: w };
        methods.push((
            format!("hybrid weighted w={w}"),
            Retrieval::Hybrid,
            Some(fusion),
        ));
    }
    println!("| method | NDCG@10 | Recall@100 | mean ms/query |");
    println!("|---|---|---|---|");
    if let Some(d) = &dump_dir {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut table = Table {
        dump_dir,
        ..Table::default()
    };
    for (name, retrieval, fusion) in methods {
        table
            .row(&engine, queries, &name, retrieval, fusion)
            .await?;
    }
    let tuned_encoder = tuning.epochs > 0 || tuning.load.is_some();
    let skip_untuned_ranker = only_tuned_ranker && tuned_encoder;
    if !train.is_empty() && !skip_untuned_ranker {
        let name = "hybrid + learned ranker (GBDT)";
        table
            .ranker_row(&engine, queries, &train, &ranking, name)
            .await?;
        if !tuned_encoder {
            crate::eval_cross::rows(&engine, queries, &train, &cross_inputs, &mut table).await?;
        }
    }
    // With a tuned encoder, the query map is trained over it instead (below).
    if !train.is_empty() && adapter_epochs > 0 && !tuned_encoder {
        let adapter = crate::eval_adapter::train(
            &engine,
            embedder.as_ref(),
            &train,
            &products,
            &catalog,
            adapter_epochs,
        )
        .await?;
        if let Some(p) = &save_adapter {
            adapter.save(p)?;
        }
        engine.set_query_adapter(adapter);
        let adapted: Vec<(String, Retrieval, Option<Fusion>)> = vec![
            ("vectors only + query map".into(), Retrieval::Semantic, None),
            (
                "hybrid weighted w=0.7 + query map".into(),
                Retrieval::Hybrid,
                Some(Fusion::Weighted {
                    lexical_weight: 0.7,
                }),
            ),
        ];
        for (name, retrieval, fusion) in adapted {
            table
                .row(&engine, queries, &name, retrieval, fusion)
                .await?;
        }
        // The ranker's cosine features change with the map, so it is trained again on them.
        let name = "hybrid + query map + learned ranker";
        table
            .ranker_row(&engine, queries, &train, &ranking, name)
            .await?;
    }
    if !train.is_empty() && tuned_encoder {
        let tuned_on = ((train.len() as f64 * tuning.share).round() as usize).clamp(1, train.len());
        let (seen, unseen) = train.split_at(tuned_on);
        let eval_catalog = crate::eval_tune::EvalCatalog {
            products: &products,
            texts: &texts,
            cache: &cache,
        };
        let (tuned, tuned_catalog) = crate::eval_tune::tuned_engine(
            config,
            search_config.clone(),
            &engine,
            seen,
            &eval_catalog,
            &tuning,
        )
        .await?;
        let rows: Vec<(String, Retrieval, Option<Fusion>)> = vec![
            (
                "vectors only, tuned encoder".into(),
                Retrieval::Semantic,
                None,
            ),
            (
                "hybrid weighted w=0.7, tuned encoder".into(),
                Retrieval::Hybrid,
                Some(Fusion::Weighted {
                    lexical_weight: 0.7,
                }),
            ),
            (
                "hybrid weighted w=0.5, tuned encoder".into(),
                Retrieval::Hybrid,
                Some(Fusion::Weighted {
                    lexical_weight: 0.5,
                }),
            ),
        ];
        for (name, retrieval, fusion) in rows {
            table.row(&tuned, queries, &name, retrieval, fusion).await?;
        }
        if tuning.cross_fit {
            let fit = crate::eval_crossfit::CrossFit {
                config,
                search_config,
                base: &engine,
                tuned: &tuned,
                first: seen,
                second: unseen,
                catalog: &eval_catalog,
                tuning: &tuning,
            };
            crate::eval_crossfit::ranker_row(fit, queries, &ranking, &mut table).await?;
        } else {
            let name = "hybrid + tuned encoder + learned ranker";
            table
                .ranker_row(&tuned, queries, &train, &ranking, name)
                .await?;
            crate::eval_cross::rows(&tuned, queries, &train, &cross_inputs, &mut table).await?;
            if !unseen.is_empty() {
                let name = format!(
                    "hybrid + tuned encoder + learned ranker on the {} queries the encoder did not see",
                    unseen.len()
                );
                table
                    .ranker_row(&tuned, queries, unseen, &ranking, &name)
                    .await?;
            }
            if adapter_epochs > 0 {
                // The query map over the tuned encoder, trained on the queries the encoder saw; the ranker
                // is then trained again on the mapped cosines (on the unseen queries when there are any).
                let embedder = tuned.embedder().context("tuned engine has no embedder")?;
                let adapter = crate::eval_adapter::train(
                    &tuned,
                    embedder.as_ref(),
                    seen,
                    &products,
                    &tuned_catalog,
                    adapter_epochs,
                )
                .await?;
                tuned.set_query_adapter(adapter);
                let name = "hybrid weighted w=0.7, tuned encoder + query map";
                let fusion = Some(Fusion::Weighted {
                    lexical_weight: 0.7,
                });
                table
                    .row(&tuned, queries, name, Retrieval::Hybrid, fusion)
                    .await?;
                let ranker_queries = if unseen.is_empty() {
                    &train[..]
                } else {
                    unseen
                };
                let name = "hybrid + tuned encoder + query map + learned ranker";
                table
                    .ranker_row(&tuned, queries, ranker_queries, &ranking, name)
                    .await?;
            }
        }
    }
    println!(
        "\n{} queries (seed {seed}); Recall@100 over the {} with a product rated ≥ 2.5; ranker trained on {} other queries.",
        queries.len(),
        table.recall_queries,
        train.len()
    );
    Ok(())
}

/// An in-memory engine over the evaluation catalog: the text index, and the vector index with every
/// product embedded by `embedder` (cached on disk by model and texts). Returns the catalog's vectors too.
pub async fn build_engine(
    search_config: SearchConfig,
    embedder: std::sync::Arc<dyn Embedder>,
    products: &[vitrine_core::Product],
    texts: &[String],
    cache: &Path,
) -> anyhow::Result<(SearchEngine, Vec<f32>)> {
    let engine = SearchEngine::open(search_config, None, Some(embedder.clone()))?;
    let t = Instant::now();
    for chunk in products.chunks(10_000) {
        engine.apply_text(chunk, 0)?;
    }
    engine.rebuild_vocabulary();
    eprintln!(
        "text index: {} products in {:.1} s",
        products.len(),
        t.elapsed().as_secs_f64()
    );
    let vectors = embed_cached(embedder.as_ref(), texts, cache, "homedepot").await?;
    let catalog: Vec<f32> = vectors.iter().flatten().copied().collect();
    let index = engine.vectors().context("vector index missing")?;
    let t = Instant::now();
    let items: Vec<(u64, u64, Vec<f32>)> = products
        .iter()
        .zip(texts)
        .zip(vectors)
        .map(|((p, text), v)| {
            (
                vitrine_search::normalize::doc_key(&p.id),
                vitrine_search::normalize::text_hash(text),
                v,
            )
        })
        .collect();
    for chunk in items.chunks(5_000) {
        index.upsert(chunk)?;
    }
    eprintln!(
        "vector index: {} vectors in {:.1} s",
        items.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let words = engine.embed_title_words().await?;
    eprintln!(
        "word vectors: {words} title words in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok((engine, catalog))
}

/// The printed table; the first row (BM25) is the reference of the ratios.
#[derive(Default)]
pub(crate) struct Table {
    bm25: Option<f64>,
    recall_queries: usize,
    /// Where each row's per-query top 10 is written (`--dump-dir`), and how many rows were written.
    dump_dir: Option<PathBuf>,
    rows_dumped: usize,
}

impl Table {
    /// Trains a ranker on the engine as it stands (with or without a query map), installs it, and
    /// prints its row.
    async fn ranker_row(
        &mut self,
        engine: &SearchEngine,
        queries: &[vitrine_search::eval::JudgedQuery],
        train: &[vitrine_search::eval::JudgedQuery],
        training: &RankerTraining,
        name: &str,
    ) -> anyhow::Result<()> {
        self.ranker_row_over(engine, queries, &[(engine, train)], training, name)
            .await
    }

    /// As [`Self::ranker_row`], with each group of training queries featurised by its own engine;
    /// the ranker then serves `engine`.
    pub(crate) async fn ranker_row_over(
        &mut self,
        engine: &SearchEngine,
        queries: &[vitrine_search::eval::JudgedQuery],
        parts: &TrainingParts<'_>,
        training: &RankerTraining,
        name: &str,
    ) -> anyhow::Result<()> {
        if let Some(p) = &training.load {
            engine.set_ranker(LearnedRanker::load(p)?);
            let name = format!("{name} (loaded from {})", p.display());
            let fusion = Some(Fusion::Learned);
            return self
                .row(engine, queries, &name, Retrieval::Hybrid, fusion)
                .await;
        }
        let (ranker, groups, sources) = train_ranker(parts, training).await?;
        let rounds = training.listwise.rounds;
        let ranker = if rounds > 0 {
            engine.set_ranker(ranker.clone());
            self.row(
                engine,
                queries,
                name,
                Retrieval::Hybrid,
                Some(Fusion::Learned),
            )
            .await?;
            let t = Instant::now();
            // The metric's gain: relevance − 1 for judged products, 0 for the rest (labelled 1).
            let gain = |l: f64| (l - 1.0).max(0.0);
            let listwise = if training.listwise_context {
                with_listwise_in_context(&ranker, &groups, &sources, training, gain)?
            } else {
                ranker.with_listwise_cross_fitted(
                    &groups,
                    gain,
                    &training.listwise,
                    training.cross_folds,
                    training.trees,
                    training.seed,
                )?
            };
            eprintln!(
                "learned ranker: {} listwise trees in {:.0} s",
                listwise.listwise_trees(),
                t.elapsed().as_secs_f64()
            );
            listwise
        } else {
            ranker
        };
        if let Some(p) = &training.save {
            ranker.save(p)?;
        }
        let name = if rounds > 0 {
            format!(
                "{name} + {} listwise (LambdaMART) trees at {}{}{}",
                ranker.listwise_trees(),
                training.listwise.learning_rate,
                if training.cross_folds > 1 {
                    format!(", over {}-fold out-of-fold scores", training.cross_folds)
                } else {
                    String::new()
                },
                if training.listwise_context {
                    ", reading the ranker's top 5"
                } else {
                    ""
                }
            )
        } else {
            name.to_string()
        };
        engine.set_ranker(ranker);
        self.row(
            engine,
            queries,
            &name,
            Retrieval::Hybrid,
            Some(Fusion::Learned),
        )
        .await
    }

    pub(crate) async fn row(
        &mut self,
        engine: &SearchEngine,
        queries: &[vitrine_search::eval::JudgedQuery],
        name: &str,
        retrieval: Retrieval,
        fusion: Option<Fusion>,
    ) -> anyhow::Result<()> {
        let mut acc = Accumulator::default();
        let mut dump = String::new();
        let t = Instant::now();
        for q in queries {
            let req = SearchRequest {
                query: q.text.clone(),
                limit: 100,
                retrieval,
                fusion,
                ..Default::default()
            };
            let (answer, _) = engine.search(&req).await?;
            let ranked: Vec<String> = answer.hits.iter().map(|h| h.id.clone()).collect();
            acc.add(&ranked, &q.judgments);
            if self.dump_dir.is_some() {
                let line = serde_json::json!({
                    "query": q.text,
                    "parsed": answer.parsed,
                    "top": &ranked[..ranked.len().min(10)],
                    "judgments": q.judgments,
                });
                dump.push_str(&line.to_string());
                dump.push('\n');
            }
        }
        let ms = t.elapsed().as_secs_f64() * 1000.0 / queries.len().max(1) as f64;
        self.print(name, &acc, ms);
        if let Some(dir) = &self.dump_dir {
            self.rows_dumped += 1;
            let slug: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '-'
                    }
                })
                .take(60)
                .collect();
            let path = dir.join(format!("{:02}-{slug}.jsonl", self.rows_dumped));
            std::fs::write(&path, dump).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    /// Prints one row of accumulated scores (`ms`: mean time per query).
    pub(crate) fn print(&mut self, name: &str, acc: &Accumulator, ms: f64) {
        let s = acc.scores();
        self.recall_queries = s.recall_queries;
        let ratio = match self.bm25 {
            None => {
                self.bm25 = Some(s.ndcg_at_10);
                String::new()
            }
            Some(b) if b > 0.0 => format!(" ({:.2}× BM25)", s.ndcg_at_10 / b),
            Some(_) => String::new(),
        };
        println!(
            "| {name} | {:.4}{ratio} | {:.4} | {ms:.1} |",
            s.ndcg_at_10, s.recall_at_100
        );
    }
}

/// Embeds `texts`, reusing vectors cached on disk by an earlier run with the same model and texts.
pub async fn embed_cached(
    embedder: &dyn Embedder,
    texts: &[String],
    cache_dir: &Path,
    name: &str,
) -> anyhow::Result<Vec<Vec<f32>>> {
    let mut h = sha2::Sha256::new();
    use sha2::Digest;
    h.update(embedder.model_name().as_bytes());
    for t in texts {
        h.update(t.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let tag: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let path = cache_dir.join(format!("{name}-{tag}.f32"));
    let dims = embedder.dimension();
    if let Ok(bytes) = std::fs::read(&path) {
        if bytes.len() == texts.len() * dims * 4 {
            eprintln!("embeddings: reusing {}", path.display());
            return Ok(bytes
                .chunks_exact(dims * 4)
                .map(|c| {
                    c.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect()
                })
                .collect());
        }
    }
    let pb = progress::items(texts.len() as u64, "embedding");
    let t = Instant::now();
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(64) {
        out.extend(embedder.embed(chunk.to_vec()).await?);
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    eprintln!(
        "embeddings: {} texts in {:.0} s ({:.0}/s)",
        texts.len(),
        t.elapsed().as_secs_f64(),
        texts.len() as f64 / t.elapsed().as_secs_f64()
    );
    std::fs::create_dir_all(cache_dir).ok();
    let bytes: Vec<u8> = out.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    if let Err(e) = std::fs::write(&path, bytes) {
        eprintln!(
            "warning: could not cache embeddings at {}: {e}",
            path.display()
        );
    }
    Ok(out)
}
