//! Implementation of each command. Every command opens the store it needs and nothing else.

use crate::{config::Config, progress, Command, EventFileFormat, ImportWhat, ProductFileFormat};
use anyhow::Context;
use futures::StreamExt;
use std::{
    io::{BufReader, BufWriter, Write},
    path::Path,
    sync::Arc,
};
use vitrine_ingest::{CsvMapping, EventFormat, ImportOptions, ImportReport, ProductFormat};
use vitrine_server::{AppState, Metrics};
use vitrine_sim::{DemoConfig, DemoStore};
use vitrine_store::{SqliteStore, Store, StoreOptions};

pub async fn open_store(config: &Config) -> anyhow::Result<SqliteStore> {
    let options = StoreOptions {
        read_connections: config.store.read_connections,
        ..Default::default()
    };
    SqliteStore::open(&config.store.path, options)
        .await
        .with_context(|| format!("opening the database {}", config.store.path.display()))
}

pub async fn run(command: Command, mut config: Config) -> anyhow::Result<()> {
    match command {
        Command::Serve { addr } => {
            if let Some(a) = addr {
                config.server.addr = a;
            }
            let store = Arc::new(open_store(&config).await?);
            serve(store, &config, None).await
        }
        Command::Demo {
            products,
            shoppers,
            days,
            seed,
            anchor,
            no_serve,
            addr,
        } => {
            if let Some(a) = addr {
                config.server.addr = a;
            }
            let anchor = anchor.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let now = anchor.and_time(chrono::NaiveTime::MIN).and_utc();
            let demo_config = DemoConfig {
                products,
                shoppers,
                days,
                seed,
                now,
            };
            demo(&mut config, demo_config, no_serve).await
        }
        Command::Import { what } => {
            let store = open_store(&config).await?;
            let report = import(&store, what).await;
            store.close().await;
            print_report(&report?);
            Ok(())
        }
        Command::Export { out } => {
            let store = open_store(&config).await?;
            export(&store, &out).await?;
            store.close().await;
            Ok(())
        }
        Command::EraseUser { id } => {
            let store = open_store(&config).await?;
            let r = store.erase_user(&id).await?;
            store.close().await;
            println!(
                "erased user {id:?}: {} events and {} profile rows deleted",
                r.events_deleted, r.profiles_deleted
            );
            Ok(())
        }
        Command::Reindex { text_only } => {
            let store = Arc::new(open_store(&config).await?);
            let r =
                crate::search::reindex(&config, store.clone() as Arc<dyn Store>, text_only).await;
            store.close().await;
            r
        }
        Command::Stats => {
            let store = open_store(&config).await?;
            let s = store.stats().await?;
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&s)?);
            Ok(())
        }
        Command::Bench { what } => crate::bench::run(what, &config).await,
        Command::Eval { what } => crate::eval::run(what, &config).await,
        Command::Content { what } => {
            let store = Arc::new(open_store(&config).await?);
            let r = crate::content::run(what, &config, store.clone()).await;
            store.close().await;
            r
        }
        Command::Train { promote } => {
            let store = open_store(&config).await?;
            let r = crate::recommend::train(&config, &store, promote).await;
            store.close().await;
            r
        }
        Command::RecommendModels { action } => {
            let store = open_store(&config).await?;
            let r = crate::recommend::registry(&store, action).await;
            store.close().await;
            r
        }
        Command::Simulate(args) => crate::simulate::run(args, &config).await,
        Command::Models { what } => crate::models::run(what, &config).await,
    }
}

/// Fetches missing model weights for the demo; without them the demo still serves catalog and events.
async fn ensure_models(config: &Config) {
    use vitrine_models::{fetch, manifest::Manifest};
    let dir = config.models.dir.clone();
    let manifest = Manifest::builtin();
    if manifest
        .models
        .iter()
        .all(|m| fetch::verify(&dir, m).is_ok())
    {
        return;
    }
    eprintln!("fetching model weights into {} (one time)…", dir.display());
    let result = tokio::task::spawn_blocking(move || {
        fetch::fetch_all(&manifest, &dir, |l| eprintln!("  {l}"))
    })
    .await;
    match result {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => eprintln!("warning: models unavailable ({e}); the demo runs without /v1/embeddings and /v1/chat/completions"),
        Err(e) => eprintln!("warning: model fetch task failed: {e}"),
    }
}

/// Serves until SIGTERM/Ctrl-C, then drains: in-flight requests finish and queued writes commit.
async fn serve(
    store: Arc<SqliteStore>,
    config: &Config,
    banner: Option<String>,
) -> anyhow::Result<()> {
    let backends = crate::models::backends(config);
    for (what, r) in [
        ("embeddings", backends.embedder.as_ref().err()),
        ("generation", backends.generator.as_ref().err()),
    ] {
        if let Some(reason) = r {
            tracing::warn!("{what} unavailable: {reason}");
        }
    }
    let listener = tokio::net::TcpListener::bind(config.server.addr)
        .await
        .with_context(|| format!("binding {}", config.server.addr))?;
    let local = listener.local_addr()?;
    tracing::info!(%local, db = %config.store.path.display(), "vitrine listening");
    // Machine-readable line for scripts and tests that start the server on port 0.
    println!("listening on http://{local}");
    if let Some(b) = banner {
        println!("{}", b.replace("{addr}", &local.to_string()));
    }
    let _ = std::io::stdout().flush();
    let catalog_changed = Arc::new(tokio::sync::Notify::new());
    let search = crate::search::start(
        config,
        store.clone() as Arc<dyn Store>,
        backends.embedder.as_ref().ok().cloned(),
        catalog_changed.clone(),
        Some(store.clone() as Arc<dyn vitrine_store::RulesHistory>),
    )
    .await;
    let recommend = crate::recommend::start(
        config,
        store.clone(),
        search.as_ref().ok().cloned(),
        catalog_changed.clone(),
    )
    .await;
    if let Err(reason) = &recommend {
        tracing::warn!("recommendations unavailable: {reason}");
    }
    let recommend_engine = recommend.clone();
    let content = crate::content::services(config, store.clone(), backends.generator.clone());
    if let Ok(c) = &content {
        tokio::spawn(c.jobs.clone().run_forever());
        if let Some(url) = config.content.webhook_url.clone() {
            tokio::spawn(vitrine_server::webhooks::deliver_forever(
                store.clone() as Arc<dyn vitrine_store::ContentStore>,
                url,
                config.content.webhook_attempts,
                std::time::Duration::from_secs(1),
            ));
        }
    }
    let state = AppState {
        content: content.map(Arc::new),
        store: store.clone() as Arc<dyn Store>,
        search,
        recommend,
        rec_store: Some(store.clone() as Arc<dyn vitrine_store::RecStore>),
        rules_history: Some(store.clone() as Arc<dyn vitrine_store::RulesHistory>),
        training: Default::default(),
        catalog_changed,
        models: vitrine_server::ModelServices {
            embedder: backends.embedder,
            generator: backends.generator,
            embedder_stats: backends.local_embedder.map(|e| e.stats.clone()),
        },
        config: Arc::new(config.server.clone()),
        metrics: Arc::new(Metrics::new()),
    };
    // Run the accept loop on a worker thread, not on the main thread that blocks on the runtime.
    tokio::spawn(vitrine_server::serve(
        listener,
        state,
        vitrine_server::shutdown_signal(),
    ))
    .await??;
    // Requests have drained, so every accepted event is in the signals: save them for a fast restart.
    if let Ok(engine) = &recommend_engine {
        match engine.save_snapshot(store.as_ref()).await {
            Ok(Some(info)) => {
                tracing::info!(path = %info.path.display(), event_seq = info.event_seq, bytes = info.bytes, "signals snapshot saved")
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "signals snapshot not saved; the next start replays the event log")
            }
        }
    }
    store.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn import(store: &SqliteStore, what: ImportWhat) -> anyhow::Result<ImportReport> {
    let (file, errors_out) = match &what {
        ImportWhat::Products {
            file, errors_out, ..
        }
        | ImportWhat::Events {
            file, errors_out, ..
        } => (file.clone(), errors_out.clone()),
    };
    let f = std::fs::File::open(&file).with_context(|| format!("opening {}", file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let pb = progress::bytes(size, "importing");
    let reader = BufReader::with_capacity(1 << 20, pb.wrap_read(f));
    let error_sink: Option<Box<dyn Write + Send>> = match &errors_out {
        Some(p) => Some(Box::new(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        ))),
        None => None,
    };
    let opts = ImportOptions {
        error_sink,
        source_name: format!("import:{}", file.display()),
        ..Default::default()
    };
    let report = match what {
        ImportWhat::Products {
            format, mapping, ..
        } => {
            let is_csv = match format {
                Some(ProductFileFormat::Csv) => true,
                Some(ProductFileFormat::Jsonl) => false,
                None => file
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
            };
            let format = if is_csv {
                let m = mapping
                    .context("CSV import needs --mapping FILE (see mappings/ for examples)")?;
                let text = std::fs::read_to_string(&m)
                    .with_context(|| format!("reading {}", m.display()))?;
                ProductFormat::Csv(CsvMapping::from_toml(&text)?)
            } else {
                ProductFormat::Jsonl
            };
            vitrine_ingest::import_products(store, reader, format, opts).await?
        }
        ImportWhat::Events { format, .. } => {
            let format = match format {
                EventFileFormat::Jsonl => EventFormat::Jsonl,
                EventFileFormat::Otto => EventFormat::Otto,
            };
            vitrine_ingest::import_events(store, reader, format, opts).await?
        }
    };
    pb.finish_and_clear();
    Ok(report)
}

fn print_report(r: &ImportReport) {
    let secs = r.elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "read {} records in {:.1}s ({:.0}/s): {} stored, {} unchanged/duplicate, {} unknown-product (stored, flagged), {} rejected{}",
        r.records,
        secs,
        r.records as f64 / secs,
        r.stored,
        r.unchanged_or_duplicate,
        r.unknown_product,
        r.rejected,
        r.catalog_version.map(|v| format!(", catalog version {v}")).unwrap_or_default()
    );
    for e in r.errors.iter().take(20) {
        eprintln!("  rejected {e}");
    }
    if r.rejected > 20 {
        eprintln!(
            "  … {} more (use --errors-out FILE for all)",
            r.rejected - 20
        );
    }
    if let Ok(json) = serde_json::to_string(&serde_json::json!({
        "records": r.records, "stored": r.stored, "unchanged_or_duplicate": r.unchanged_or_duplicate,
        "unknown_product": r.unknown_product, "rejected": r.rejected, "catalog_version": r.catalog_version,
        "elapsed_s": secs,
    })) {
        println!("{json}");
    }
}

async fn export(store: &SqliteStore, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let stats = store.stats().await?;
    let pb = progress::items(stats.products, "products");
    let mut w = BufWriter::new(std::fs::File::create(out.join("products.jsonl"))?);
    let mut products = store.stream_products();
    while let Some(p) = products.next().await {
        serde_json::to_writer(&mut w, &p?)?;
        w.write_all(b"\n")?;
        pb.inc(1);
    }
    w.flush()?;
    pb.finish_and_clear();
    let pb = progress::items(stats.events, "events");
    let mut w = BufWriter::new(std::fs::File::create(out.join("events.jsonl"))?);
    let mut events = store.stream_events();
    while let Some(e) = events.next().await {
        serde_json::to_writer(&mut w, &e?.event)?;
        w.write_all(b"\n")?;
        pb.inc(1);
    }
    w.flush()?;
    pb.finish_and_clear();
    eprintln!(
        "exported {} products and {} events to {}",
        stats.products,
        stats.events,
        out.display()
    );
    Ok(())
}

async fn demo(config: &mut Config, demo_config: DemoConfig, no_serve: bool) -> anyhow::Result<()> {
    let DemoConfig {
        products,
        shoppers,
        days,
        seed,
        ..
    } = demo_config;
    if config.store.path == crate::config::StoreConfig::default().path {
        config.store.path = "vitrine-data/demo.db".into();
    }
    // The demo is reproducible: start from an empty database every time.
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", config.store.path.display());
        let _ = std::fs::remove_file(p);
    }
    ensure_models(config).await;
    let store = Arc::new(open_store(config).await?);
    let demo = DemoStore::generate(demo_config);
    let version = store.begin_catalog_version("demo").await?;
    let pb = progress::items(products as u64, "products");
    for chunk in demo.products.chunks(2_000) {
        store.upsert_products(version, chunk).await?;
        pb.inc(chunk.len() as u64);
    }
    store
        .finish_catalog_version(
            version,
            vitrine_store::VersionCounts {
                changed: products as u64,
                ..Default::default()
            },
        )
        .await?;
    pb.finish_and_clear();
    let pb = progress::items(u64::from(days), "days");
    let mut total = 0u64;
    for day in 0..days {
        let events = demo.simulate_day(day);
        for chunk in events.chunks(5_000) {
            total += store.append_events(chunk.to_vec()).await?.stored;
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let stats = store.stats().await?;
    eprintln!(
        "demo store ready: {} products, {} shoppers, {} events over {days} days (seed {seed}) in {}",
        stats.products,
        shoppers,
        total,
        config.store.path.display()
    );
    // A first model version from the organic history, so recommendations are model-ranked from the start.
    if config.recommend.enabled {
        crate::recommend::train(config, &store, true).await?;
    }
    // A first copy job (five products) that the server's job runner writes with the local model.
    let content_job =
        match crate::content::services(config, store.clone(), Err("queued only".into())) {
            Ok(s) => {
                let spec = vitrine_content::jobs::JobSpec {
                    filter: Some(vitrine_content::jobs::ProductFilter {
                        limit: Some(5),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                match s.jobs.create(&spec).await {
                    Ok(job) => job.id,
                    Err(e) => {
                        tracing::warn!("demo content job not queued: {e}");
                        String::new()
                    }
                }
            }
            Err(e) => {
                tracing::warn!("content disabled: {e}");
                String::new()
            }
        };
    if no_serve {
        store.close().await;
        return Ok(());
    }
    let some_user = demo
        .shoppers
        .iter()
        .find(|s| s.logged_in)
        .map(|s| s.user_id.clone())
        .unwrap_or_default();
    let banner = format!(
        "\nTry it:\n  curl -s http://{{addr}}/health\n  curl -s 'http://{{addr}}/v1/products?category=Footwear&in_stock=true&limit=3'\n  \
         curl -s http://{{addr}}/v1/products/SKU-0000001\n  curl -s http://{{addr}}/v1/products/SKU-0000001/history\n  \
         curl -s -X PATCH http://{{addr}}/v1/products/SKU-0000001 -H 'content-type: application/json' -d '{{\"quantity\": 0}}'\n  \
         curl -s -X POST http://{{addr}}/v1/events -H 'content-type: application/json' -d '[{{\"event_id\":\"try-1\",\"type\":\"view\",\"session_id\":\"s1\",\"product_id\":\"SKU-0000001\"}}]'\n  \
         curl -s 'http://{{addr}}/v1/users/{some_user}/events?limit=5'\n  \
         curl -s 'http://{{addr}}/v1/recommend/for_you?user_id={some_user}&explain=true' | head -c 600\n  \
         curl -s 'http://{{addr}}/v1/recommend/similar?item=SKU-0000001&count=5'\n  \
         curl -s 'http://{{addr}}/v1/recommend/trending?category=Footwear&count=5'\n  \
         curl -s http://{{addr}}/v1/recommend/models | head -c 400\n  curl -s http://{{addr}}/v1/stats\n  curl -s http://{{addr}}/metrics | head\n  \
         curl -s http://{{addr}}/openapi.json | head -c 300\n  \
         curl -s http://{{addr}}/v1/embeddings -H 'content-type: application/json' -d '{{\"input\": \"waterproof hiking boots\"}}' | head -c 200\n  \
         curl -s http://{{addr}}/v1/content/jobs/{content_job}\n  \
         curl -s http://{{addr}}/v1/content/review-queue | head -c 600\n  \
         curl -s http://{{addr}}/v1/products/SKU-0000001/content/history | head -c 600\n  \
         curl -s http://{{addr}}/v1/chat/completions -H 'content-type: application/json' -d '{{\"messages\": [{{\"role\": \"user\", \"content\": \"Describe a navy linen shirt in one sentence.\"}}], \"max_tokens\": 60}}'\n\
         Stop with Ctrl-C."
    );
    serve(store, config, Some(banner)).await
}
