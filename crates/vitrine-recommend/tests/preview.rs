//! `RecommendEngine::preview`: what a request would be shown under another objective, without logging.
//! The simulator's paired return-risk study rests on both properties tested here.

mod common;

use common::{demo_store, engine_without_exploration};
use std::sync::Arc;
use vitrine_recommend::ranker::Objective;
use vitrine_recommend::types::{RecRequest, Surface};
use vitrine_recommend::RecommendEngine;
use vitrine_sim::DemoStore;
use vitrine_store::Store;

async fn loaded_engine(dir: &std::path::Path) -> (Arc<RecommendEngine>, DemoStore) {
    let (store, demo) = demo_store(dir, 400, 300, 5).await;
    for day in 0..3 {
        store.append_events(demo.simulate_day(day)).await.unwrap();
    }
    let engine = engine_without_exploration(&store, dir);
    engine.load(store.as_ref()).await.unwrap();
    (engine, demo)
}

fn request(demo: &DemoStore, shopper: usize) -> RecRequest {
    RecRequest {
        user_id: Some(demo.shoppers[shopper].user_id.clone()),
        count: Some(20),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_under_the_serving_objective_is_the_served_list_and_is_not_logged() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, demo) = loaded_engine(dir.path()).await;
    let objective = engine.config().objective;
    let logged_before = engine.recent_impressions();
    let previews: Vec<Vec<String>> = (0..15)
        .map(|u| {
            engine
                .preview(Surface::ForYou, &request(&demo, u), &objective)
                .unwrap()
        })
        .collect();
    assert_eq!(
        engine.recent_impressions(),
        logged_before,
        "a preview is not an impression"
    );
    for (u, preview) in previews.iter().enumerate() {
        let served: Vec<String> = engine
            .recommend_at(
                Surface::ForYou,
                &request(&demo, u),
                format!("r{u}"),
                demo.config.now,
            )
            .unwrap()
            .items
            .into_iter()
            .map(|i| i.product_id)
            .collect();
        assert_eq!(&served, preview, "shopper {u}");
    }
    assert_eq!(engine.recent_impressions(), logged_before + 15);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stronger_return_term_previews_products_that_come_back_less() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, demo) = loaded_engine(dir.path()).await;
    let with_risk = |return_risk: f32| Objective {
        return_risk,
        ..engine.config().objective
    };
    // Mean true return rate of everything shown to 60 shoppers.
    let shown_return_rate = |objective: &Objective| {
        let (mut sum, mut n) = (0.0, 0usize);
        for u in 0..60 {
            for sku in engine
                .preview(Surface::ForYou, &request(&demo, u), objective)
                .unwrap()
            {
                let i = demo.index_of(&sku).expect("a demo product");
                sum += demo.items[i].return_rate;
                n += 1;
            }
        }
        sum / n.max(1) as f64
    };
    let (off, on) = (
        shown_return_rate(&with_risk(0.0)),
        shown_return_rate(&with_risk(3.0)),
    );
    assert!(
        on < off * 0.95,
        "return rate of shown products: {on:.4} with the term, {off:.4} without"
    );
}
