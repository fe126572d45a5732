//! Hybrid retrieval with the real all-MiniLM-L6-v2 model: semantic matches without shared words, filters
//! enforced inside the vector search, re-embedding only when the text changes.

use serde_json::json;
use std::sync::Arc;
use vitrine_core::{Product, ProductInput};
use vitrine_models::{Embedder, LocalEmbedder};
use vitrine_search::{Retrieval, SearchConfig, SearchEngine, SearchRequest};

fn product(id: &str, title: &str, category: &str, price: &str) -> Product {
    let input: ProductInput = serde_json::from_value(json!({
        "id": id, "title": title, "price": price, "currency": "USD", "category": [category],
        "inventory": {"quantity": 3}
    }))
    .unwrap();
    input.validate(chrono::Utc::now()).unwrap()
}

fn catalog() -> Vec<Product> {
    vec![
        product(
            "P1",
            "Trail running sneakers with grippy outsole",
            "Footwear",
            "89",
        ),
        product("P2", "Leather office loafers", "Footwear", "120"),
        product("P3", "Stainless steel espresso machine", "Kitchen", "300"),
        product("P4", "Ceramic coffee mug set", "Kitchen", "25"),
        product("P5", "Insulated winter parka", "Apparel", "210"),
        product("P6", "Lightweight jogging trainers", "Footwear", "45"),
        product("P7", "Cotton bath towel", "Home", "15"),
        product("P8", "Noise cancelling headphones", "Electronics", "199"),
    ]
}

/// The installed sentence encoder, or `None` (with a note) where the models are not fetched.
fn installed_model() -> Option<Arc<dyn Embedder>> {
    match LocalEmbedder::load(&vitrine_models::default_models_dir()) {
        Ok(e) => Some(Arc::new(e)),
        Err(e) => {
            eprintln!("skipping: {e} (run `vitrine models fetch`)");
            None
        }
    }
}

/// An engine whose indexes live in `dir`, as a server's do: opening it again is a restart.
fn open_in(dir: &std::path::Path, embedder: &Arc<dyn Embedder>) -> SearchEngine {
    SearchEngine::open(SearchConfig::default(), Some(dir), Some(embedder.clone())).unwrap()
}

async fn engine() -> Option<(SearchEngine, Vec<Product>)> {
    let embedder = installed_model()?;
    let engine = SearchEngine::open(SearchConfig::default(), None, Some(embedder)).unwrap();
    let products = catalog();
    engine.apply_text(&products, 1).unwrap();
    engine.rebuild_vocabulary();
    assert_eq!(
        engine.apply_vectors(&products, 1).await.unwrap(),
        products.len()
    );
    Some((engine, products))
}

fn ids(a: &vitrine_search::SearchResponse) -> Vec<&str> {
    a.hits.iter().map(|h| h.id.as_str()).collect()
}

#[tokio::test]
async fn semantic_retrieval_finds_what_words_miss() {
    let Some((engine, products)) = engine().await else {
        return;
    };
    // No catalog title contains "shoes" or "jog": only the vectors can connect them.
    let r = SearchRequest {
        query: "shoes for a morning jog".into(),
        limit: 3,
        retrieval: Retrieval::Semantic,
        ..Default::default()
    };
    let a = engine.search(&r).await.unwrap().0;
    let top: Vec<&str> = ids(&a);
    assert!(
        top[..2].contains(&"P6") && top[..3].contains(&"P1"),
        "{top:?}"
    );

    // Hybrid keeps lexical hits and adds semantic ones; the price constraint holds inside vector search.
    let r = SearchRequest {
        query: "coffee under $100".into(),
        limit: 5,
        explain: true,
        ..Default::default()
    };
    let a = engine.search(&r).await.unwrap().0;
    assert_eq!(a.hits[0].id, "P4", "{:?}", ids(&a));
    assert!(a.hits.iter().all(|h| h.price <= 100.0));
    assert!(a.hits[0].explain.as_ref().unwrap().semantic.is_some());

    // A price change does not re-embed; a title change does.
    let mut changed = products[6].clone();
    changed.price = 9.into();
    assert_eq!(
        engine
            .apply_vectors(std::slice::from_ref(&changed), 2)
            .await
            .unwrap(),
        0
    );
    changed.title = "Espresso coffee beans".into();
    assert_eq!(
        engine
            .apply_vectors(std::slice::from_ref(&changed), 3)
            .await
            .unwrap(),
        1
    );
}

/// The ranker's soft word match: a query word that a candidate's title lacks counts for as much as
/// the title's nearest word means the same ("sneakers" ~ "trainers", not "headphones").
#[tokio::test]
async fn soft_word_match_credits_a_title_word_of_the_same_meaning() {
    let Some((engine, _)) = engine().await else {
        return;
    };
    assert!(engine.embed_title_words().await.unwrap() > 10);
    assert!(engine.word_vector_count() > 10);
    assert_eq!(
        engine.embed_title_words().await.unwrap(),
        0,
        "each word is embedded once"
    );
    // A later change embeds only its own new words, before the text index has seen it.
    let renamed = product("P9", "Xylophone mallets for trainers", "Music", "30");
    let before = engine.word_vector_count();
    assert_eq!(
        engine.embed_title_words_of(&[renamed]).await.unwrap(),
        2,
        "xylophone and mallets are new; trainers is known"
    );
    assert_eq!(engine.word_vector_count(), before + 2);
    let candidate = |id: &str| vitrine_search::fusion::Fused {
        key: vitrine_search::normalize::doc_key(id),
        score: 0.0,
        lexical: None,
        semantic: None,
    };
    let rows = engine.candidate_features("sneakers", 0, &[candidate("P6"), candidate("P8")], None);
    let at = |row: &vitrine_search::ltr::FeatureRow| {
        let i = vitrine_search::ltr::FEATURES
            .iter()
            .position(|f| *f == "soft_word_coverage")
            .unwrap();
        row[i]
    };
    assert!(
        at(&rows[0]) > at(&rows[1]) + 0.1,
        "trainers {} vs headphones {}",
        at(&rows[0]),
        at(&rows[1])
    );
    assert!(at(&rows[0]) < 1.0, "a different word is not a letter match");
}

/// Each judged query's candidates as a training group (3 for the judged product, 1 for the rest) and
/// their keys, from the engine's own pool of 8 per retriever.
async fn judged_groups(
    engine: &SearchEngine,
    judged: &[(&str, &str)],
) -> (Vec<vitrine_search::ltr::TrainingGroup>, Vec<Vec<u64>>) {
    let (mut groups, mut keys) = (Vec::new(), Vec::new());
    for (query, relevant) in judged {
        let candidates = engine.training_candidates(query, 8).await.unwrap();
        keys.push(candidates.iter().map(|(k, _, _)| *k).collect());
        let labels = candidates
            .iter()
            .map(|(_, id, _)| if id == relevant { 3.0 } else { 1.0 })
            .collect();
        let rows = candidates.into_iter().map(|(_, _, row)| row).collect();
        groups.push(vitrine_search::ltr::TrainingGroup { rows, labels });
    }
    (groups, keys)
}

/// The learned ranker end to end: trained on the engine's own candidates for judged queries, served
/// through `Fusion::Learned` (features, soft word match included, then the model's order), and saved
/// and reloaded without changing a score.
#[tokio::test]
async fn a_learned_ranker_serves_what_it_learned_and_reloads_the_same() {
    let Some((engine, products)) = engine().await else {
        return;
    };
    engine.embed_title_words().await.unwrap();
    let judged = [
        ("running sneakers", "P1"),
        ("office loafers", "P2"),
        ("espresso machine", "P3"),
        ("coffee mug", "P4"),
        ("winter parka", "P5"),
        ("jogging trainers", "P6"),
        ("bath towel", "P7"),
        ("headphones", "P8"),
        ("coffee maker", "P3"),
        ("warm coat", "P5"),
    ];
    let (groups, _) = judged_groups(&engine, &judged).await;
    for (g, (query, _)) in groups.iter().zip(judged) {
        assert!(g.rows.len() <= products.len());
        assert!(
            g.labels.contains(&3.0),
            "{query}: the judged product is a candidate"
        );
    }
    let rows: Vec<_> = groups.iter().flat_map(|g| g.rows.clone()).collect();
    let labels: Vec<f64> = groups.iter().flat_map(|g| g.labels.clone()).collect();
    let ranker = vitrine_search::ltr::LearnedRanker::train(&rows, &labels, 30, 7).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ranker.json");
    ranker.save(&path).unwrap();
    let reloaded = vitrine_search::ltr::LearnedRanker::load(&path).unwrap();
    assert_eq!(ranker.predict(&rows), reloaded.predict(&rows));
    engine.set_ranker(reloaded);

    let r = SearchRequest {
        query: "trail sneakers".into(),
        limit: 3,
        fusion: Some(vitrine_search::Fusion::Learned),
        explain: true,
        ..Default::default()
    };
    let (a, _) = engine.search(&r).await.unwrap();
    assert!(
        a.notices.iter().all(|n| !n.contains("learned ranker")),
        "{:?}",
        a.notices
    );
    assert_eq!(ids(&a)[0], "P1", "{:?}", ids(&a));
    let scores: Vec<f64> = a.hits.iter().map(|h| h.score).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // `explain` shows what the ranker saw: "trail" and "sneakers" are both in P1's title.
    let seen = a.hits[0].explain.as_ref().unwrap().ranker_features.as_ref();
    let seen = seen.expect("the ranker's inputs are explained");
    assert_eq!(seen.len(), vitrine_search::ltr::N_FEATURES);
    assert_eq!(seen["soft_word_coverage"], 1.0);
    assert_eq!(seen["query_terms_in_title"], 1.0);
    // … and why it scored it so: the features' contributions add up to the ranker's score.
    for hit in &a.hits {
        let e = hit.explain.as_ref().unwrap();
        let by_feature = e.ranker_contributions.as_ref().expect("contributions");
        assert_eq!(by_feature.len(), vitrine_search::ltr::N_FEATURES);
        let sum = e.ranker_base.expect("base") + by_feature.values().sum::<f64>();
        assert!(
            (sum - f64::from(e.relevance)).abs() < 1e-3,
            "{} vs {}",
            sum,
            e.relevance
        );
    }
    // A later page is explained too (only the page's hits are, so this checks the window).
    let next_page = SearchRequest { offset: 2, ..r };
    let (b, _) = engine.search(&next_page).await.unwrap();
    assert_eq!(ids(&b)[0], ids(&a)[2], "pages continue each other");
    for hit in &b.hits {
        let e = hit.explain.as_ref().unwrap();
        let by_feature = e.ranker_contributions.as_ref().expect("contributions");
        let sum = e.ranker_base.expect("base") + by_feature.values().sum::<f64>();
        assert!((sum - f64::from(e.relevance)).abs() < 1e-3, "{}", hit.id);
    }
}

/// A ranker whose listwise trees read the ranker's own top results: trained on context computed by
/// the engine over each query's first-stage top 5, saved and reloaded, then served — the engine
/// computes the same context per search, and `explain` shows those inputs and credits them.
#[tokio::test]
async fn a_ranker_reading_its_own_top_results_is_served_and_explained() {
    let Some((engine, _)) = engine().await else {
        return;
    };
    engine.embed_title_words().await.unwrap();
    let judged = [
        ("running sneakers", "P1"),
        ("jogging shoes", "P6"),
        ("espresso", "P3"),
        ("coffee cup", "P4"),
        ("warm jacket", "P5"),
        ("towel", "P7"),
        ("headphones", "P8"),
        ("formal shoes", "P2"),
    ];
    let (groups, sources) = judged_groups(&engine, &judged).await;
    let rows: Vec<_> = groups.iter().flat_map(|g| g.rows.clone()).collect();
    let labels: Vec<f64> = groups.iter().flat_map(|g| g.labels.clone()).collect();
    let first = vitrine_search::ltr::LearnedRanker::train(&rows, &labels, 20, 7).unwrap();
    let bases = first.first_stage_scores(&groups, 1, 20, 7).unwrap();
    let context: Vec<_> = sources
        .iter()
        .zip(&bases)
        .map(|(keys, base)| {
            let set = vitrine_search::ltr::ranker_feedback_set(base);
            assert_eq!(set.len(), keys.len().min(5));
            engine.ranker_context(keys, &set, true)
        })
        .collect();
    assert!(
        context.iter().flatten().any(|s| s.cosine_to_top > 0.0),
        "the context has cosines"
    );
    let params = vitrine_search::lambdamart::LambdaParams {
        rounds: 10,
        min_rows_in_leaf: 2,
        validation_every: 0,
        ..Default::default()
    };
    let model = first.with_listwise_over(&groups, bases, Some(&context), |l| l - 1.0, &params);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ranker.json");
    model.save(&path).unwrap();
    let reloaded = vitrine_search::ltr::LearnedRanker::load(&path).unwrap();
    assert!(reloaded.reads_context());
    engine.set_ranker(reloaded);

    let r = SearchRequest {
        query: "running sneakers".into(),
        limit: 4,
        fusion: Some(vitrine_search::Fusion::Learned),
        explain: true,
        ..Default::default()
    };
    let (a, _) = engine.search(&r).await.unwrap();
    assert_eq!(ids(&a)[0], "P1", "{:?}", ids(&a));
    let n = vitrine_search::ltr::N_FEATURES + vitrine_search::ltr::RANKER_CONTEXT_FEATURES.len();
    for hit in &a.hits {
        let e = hit.explain.as_ref().unwrap();
        let seen = e.ranker_features.as_ref().expect("inputs");
        assert_eq!(seen.len(), n, "the context is among the inputs");
        assert!(seen.contains_key("cosine_to_ranker_top_results"));
        let by_feature = e.ranker_contributions.as_ref().expect("contributions");
        assert_eq!(by_feature.len(), n);
        let sum = e.ranker_base.expect("base") + by_feature.values().sum::<f64>();
        assert!(
            (sum - f64::from(e.relevance)).abs() < 1e-3,
            "{}: {sum} vs {}",
            hit.id,
            e.relevance
        );
    }
}

/// Word vectors are kept beside the indexes: after a restart the soft match works at once, and the
/// first catch-up finds nothing left to embed.
#[tokio::test]
async fn word_vectors_survive_a_restart() {
    let Some(embedder) = installed_model() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let products = catalog();
    let open = || {
        let e = open_in(dir.path(), &embedder);
        e.apply_text(&products, 1).unwrap();
        e
    };
    let first = open();
    let embedded = first.embed_title_words().await.unwrap();
    assert!(embedded > 10);
    drop(first);
    let second = open();
    assert_eq!(second.word_vector_count(), embedded, "loaded from disk");
    assert_eq!(second.embed_title_words().await.unwrap(), 0);
    assert!(second.word_vectors_caught_up());
}

/// The change-feed followers save the word vectors once a catch-up ends: a word first seen in a
/// product added while the server runs is still known after a restart, with nothing re-embedded.
#[tokio::test]
async fn words_of_a_product_added_while_running_survive_a_restart() {
    use vitrine_store::{SqliteStore, Store, StoreOptions};
    let Some(embedder) = installed_model() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("db.sqlite"), StoreOptions::default())
        .await
        .unwrap();
    let v = store.begin_catalog_version("test").await.unwrap();
    store.upsert_products(v, &catalog()).await.unwrap();
    let search_dir = dir.path().join("search");
    let open = || open_in(&search_dir, &embedder);
    let first = open();
    assert_eq!(follow(&first, &store).await, catalog().len());
    let before = first.word_vector_count();
    store
        .upsert_products(v, &[product("P9", "Xylophone mallets", "Music", "30")])
        .await
        .unwrap();
    assert_eq!(follow(&first, &store).await, 1);
    let after = first.word_vector_count();
    assert_eq!(after, before + 2, "xylophone and mallets");
    drop(first);
    let second = open();
    assert_eq!(second.word_vector_count(), after, "loaded from disk");
    vitrine_search::sync::load(&second, &store).await.unwrap();
    follow(&second, &store).await;
    assert_eq!(second.word_vector_count(), after, "nothing new to embed");
}

/// Runs both change-feed followers until caught up; returns how many products were embedded.
async fn follow(engine: &SearchEngine, store: &dyn vitrine_store::Store) -> usize {
    vitrine_search::sync::catch_up_text(engine, store, &|_, _| {})
        .await
        .unwrap();
    vitrine_search::sync::catch_up_vectors(engine, store, &|_, _| {})
        .await
        .unwrap()
}
