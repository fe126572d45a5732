//! The search engine end to end on a small fashion catalog (text retrieval; the hybrid path with the real
//! embedding model is tested in `hybrid.rs`).

use serde_json::json;
use std::sync::Arc;
use vitrine_core::{Product, ProductInput};
use vitrine_search::{rules::Rules, Filters, SearchConfig, SearchEngine, SearchRequest, SortOrder};

const COLOURS: [&str; 5] = ["Red", "Navy Blue", "Black", "White", "Green"];
const FITS: [&str; 3] = ["Slim Fit", "Regular Fit", "Relaxed Fit"];
const BRANDS: [&str; 4] = ["Roadster", "HRX", "Puma", "Acme"];

fn product(i: usize) -> Product {
    let colour = COLOURS[i % 5];
    let fit = FITS[(i / 5) % 3];
    let brand = BRANDS[(i / 15) % 4];
    let kind = if i.is_multiple_of(2) {
        "Shirt"
    } else {
        "Pants"
    };
    let material = if i.is_multiple_of(3) {
        "Linen"
    } else {
        "Cotton"
    };
    let input: ProductInput = serde_json::from_value(json!({
        "id": format!("SKU-{i:03}"),
        "title": format!("{brand} Men {colour} {fit} {material} {kind}"),
        "description": format!("A {} {} {} for everyday wear.", colour.to_lowercase(), material.to_lowercase(), kind.to_lowercase()),
        "brand": brand,
        "category": ["Apparel", kind],
        "price": format!("{}", 10 + (i * 7) % 90),
        "currency": "USD",
        "inventory": {"quantity": if i % 10 == 8 { 0 } else { 5 }},
        "attributes": {"colour": colour, "material": material, "gender": "Men", "fit": fit},
    }))
    .unwrap();
    input.validate(chrono::Utc::now()).unwrap()
}

fn engine_with(n: usize, config: SearchConfig) -> (SearchEngine, Vec<Product>) {
    let engine = SearchEngine::open(config, None, None).unwrap();
    let products: Vec<Product> = (0..n).map(product).collect();
    engine.apply_text(&products, 1).unwrap();
    engine.rebuild_vocabulary();
    (engine, products)
}

fn req(q: &str) -> SearchRequest {
    SearchRequest {
        query: q.into(),
        limit: 100,
        ..Default::default()
    }
}

async fn ids(engine: &SearchEngine, r: &SearchRequest) -> Vec<String> {
    engine
        .search(r)
        .await
        .unwrap()
        .0
        .hits
        .iter()
        .map(|h| h.id.clone())
        .collect()
}

#[tokio::test]
async fn constraints_are_applied_inside_retrieval_with_full_recall() {
    let (engine, products) = engine_with(300, SearchConfig::default());
    let (answer, _) = engine
        .search(&req("men's red linen shirt under $40"))
        .await
        .unwrap();
    let p = &answer.parsed;
    assert_eq!(p.price.unwrap().max, Some(40.0));
    let attrs: Vec<_> = p
        .attributes
        .iter()
        .map(|a| (a.name.as_str(), a.value.as_str()))
        .collect();
    assert!(
        attrs.contains(&("colour", "red")) && attrs.contains(&("material", "linen")),
        "{attrs:?}"
    );
    // Every product that satisfies the constraints is in the matched set, and nothing else is.
    let expected: Vec<&Product> = products
        .iter()
        .filter(|p| {
            p.title.contains("Red")
                && p.title.contains("Linen")
                && p.title.ends_with("Shirt")
                && p.effective_price() <= 40.into()
        })
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(answer.total, expected.len(), "matched set");
    for h in &answer.hits {
        assert!(
            h.title.contains("Red") && h.title.contains("Linen") && h.price <= 40.0,
            "{h:?}"
        );
        assert!(
            h.title.ends_with("Shirt"),
            "\"shirt\" is the catalog's category: {h:?}"
        );
    }
}

#[tokio::test]
async fn negation_excludes_and_sort_words_sort() {
    let (engine, _) = engine_with(300, SearchConfig::default());
    let (a, _) = engine
        .search(&req("navy linen shirt, not slim fit"))
        .await
        .unwrap();
    assert!(!a.hits.is_empty());
    assert!(
        a.hits.iter().all(|h| !h.title.contains("Slim Fit")),
        "{:?}",
        a.hits
    );
    let (a, _) = engine.search(&req("cheapest cotton pants")).await.unwrap();
    assert_eq!(a.sort, SortOrder::PriceAsc);
    let prices: Vec<f64> = a.hits.iter().map(|h| h.price).collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    let (a, _) = engine.search(&req("green shirt in stock")).await.unwrap();
    assert!(a.parsed.in_stock && a.hits.iter().all(|h| h.in_stock));
}

#[tokio::test]
async fn typos_synonyms_and_hostile_queries() {
    let (engine, _) = engine_with(60, SearchConfig::default());
    let (typo, _) = engine.search(&req("linen shrit")).await.unwrap();
    assert!(
        typo.hits
            .first()
            .is_some_and(|h| h.title.to_lowercase().contains("shirt")),
        "a transposed letter still finds shirts first"
    );
    assert_eq!(
        typo.parsed.text, "linen shirt",
        "the answer says what was searched"
    );
    assert_eq!(typo.parsed.corrections.len(), 1);
    assert_eq!(typo.parsed.corrections[0].from, "shrit");
    // Highlighting marks what was searched, after the correction and by stem; it is asked for, and
    // cached apart from the plain answer.
    let marked = SearchRequest {
        highlight: true,
        ..req("linen shrit")
    };
    let (m, _) = engine.search(&marked).await.unwrap();
    let title = m.hits[0].highlighted_title.as_deref().expect("highlighted");
    assert!(
        title.contains("<mark>Linen</mark> <mark>Shirt</mark>"),
        "{title}"
    );
    let (plain, _) = engine.search(&req("linen shrit")).await.unwrap();
    assert!(plain.hits.iter().all(|h| h.highlighted_title.is_none()));
    let plural = SearchRequest {
        highlight: true,
        ..req("linen shirts")
    };
    let (p, _) = engine.search(&plural).await.unwrap();
    let title = p.hits[0].highlighted_title.as_deref().expect("highlighted");
    assert!(title.ends_with("<mark>Shirt</mark>"), "by stem: {title}");
    // Autocomplete forgives the same typo, from the titles' shared phrase.
    let completed = engine.suggest("linen shrit", 5);
    assert_eq!(completed[0].text, "linen shirt", "{completed:?}");
    assert_eq!(completed[0].source, "title");
    assert!(engine.suggest("qqqqqq", 5).is_empty());
    let syn = ids(&engine, &req("trousers")).await;
    assert!(
        !syn.is_empty(),
        "trousers finds pants through the default synonyms"
    );
    for q in [
        "",
        "the of and",
        "\"unbalanced",
        "title:shirt AND (",
        "*:*",
        "x".repeat(10_000).as_str(),
        "-shirt",
        "$-$",
    ] {
        let r = engine.search(&req(q)).await;
        assert!(r.is_ok(), "{q:.20}: {r:?}");
    }
    let browse = engine.search(&req("")).await.unwrap().0;
    assert_eq!(browse.total, 60, "an empty query browses the catalog");
    let page = SearchRequest {
        offset: 10_000,
        ..req("shirt")
    };
    assert!(engine.search(&page).await.unwrap().0.hits.is_empty());
}

#[tokio::test]
async fn rules_hide_boost_pin_diversify_and_reload() {
    let (engine, _) = engine_with(120, SearchConfig::default());
    let before = engine.search(&req("shirt")).await.unwrap().0;
    assert!(
        before.hits.iter().any(|h| !h.in_stock),
        "demoted, not hidden, by default"
    );
    engine.set_rules(
        Rules::parse(
            r#"
            out_of_stock = "hide"
            [[boost]]
            attribute = "brand"
            value = "Acme"
            factor = 3.0
            [[pin]]
            query = "shirt"
            product = "SKU-001"
            position = 2
            "#,
        )
        .unwrap(),
    );
    let r = SearchRequest {
        explain: true,
        ..req("shirt")
    };
    let after = engine.search(&r).await.unwrap().0;
    assert!(after.hits.iter().all(|h| h.in_stock));
    assert_eq!(after.hits[0].brand.as_deref(), Some("Acme"));
    assert_eq!(
        after.hits[1].id, "SKU-001",
        "pinned even though SKU-001 is pants"
    );
    let e = after.hits[0].explain.as_ref().unwrap();
    assert!(e.rules.iter().any(|r| r.starts_with("boost")), "{e:?}");
    assert!(e.lexical.is_some() && e.rules_factor > 1.0);

    engine.set_rules(Rules::parse("[diversity]\nmax = 1\nwindow = 4").unwrap());
    let div = engine.search(&req("shirt")).await.unwrap().0;
    let first: Vec<_> = div.hits.iter().take(4).map(|h| h.brand.clone()).collect();
    let mut uniq = first.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), 4, "{first:?}");
}

#[tokio::test]
async fn cache_hits_and_catalog_changes_invalidate() {
    let (engine, mut products) = engine_with(50, SearchConfig::default());
    let r = req("red shirt");
    let (a, cached) = engine.search(&r).await.unwrap();
    assert!(!cached);
    let (_, cached) = engine.search(&r).await.unwrap();
    assert!(cached);
    // A price change of a shown product must be visible on the next search.
    let shown = a.hits[0].id.clone();
    let p = products.iter_mut().find(|p| p.id == shown).unwrap();
    p.price = 999.into();
    engine.apply_text(std::slice::from_ref(p), 2).unwrap();
    let (b, cached) = engine.search(&r).await.unwrap();
    assert!(!cached);
    assert_eq!(b.hits.iter().find(|h| h.id == shown).unwrap().price, 999.0);
    // Archiving removes it.
    p.status = vitrine_core::ProductStatus::Archived;
    engine.apply_text(std::slice::from_ref(p), 3).unwrap();
    assert!(!ids(&engine, &r).await.contains(&shown));
}

#[tokio::test]
async fn explicit_filters_and_facets() {
    let (engine, _) = engine_with(120, SearchConfig::default());
    let mut filters = Filters::default();
    filters
        .attributes
        .insert("brand".into(), vec!["puma".into()]);
    filters.price_min = Some(30.0);
    let r = SearchRequest {
        filters,
        ..req("shirt")
    };
    let a = engine.search(&r).await.unwrap().0;
    assert!(!a.hits.is_empty());
    assert!(a
        .hits
        .iter()
        .all(|h| h.brand.as_deref() == Some("Puma") && h.price >= 30.0));
    let brands = &a.facets["brand"];
    assert_eq!(brands.len(), 1);
    assert_eq!(brands[0].value, "Puma");
    let colours: u32 = a.facets["colour"].iter().map(|f| f.count).sum();
    assert_eq!(colours as usize, a.total);
}

#[tokio::test]
async fn indexes_persist_across_restart() {
    let dir = tempfile::tempdir().unwrap();
    let products: Vec<Product> = (0..40).map(product).collect();
    {
        let engine = SearchEngine::open(SearchConfig::default(), Some(dir.path()), None).unwrap();
        engine.apply_text(&products, 77).unwrap();
    }
    let engine =
        Arc::new(SearchEngine::open(SearchConfig::default(), Some(dir.path()), None).unwrap());
    assert_eq!(engine.lexical().watermark(), 77);
    assert_eq!(engine.lexical().len(), 40);
    engine.load_docs(&products);
    assert!(!ids(&engine, &req("linen")).await.is_empty());
}

#[tokio::test]
async fn compacting_keeps_every_answer_and_the_change_feed_position() {
    let dir = tempfile::tempdir().unwrap();
    let engine = SearchEngine::open(SearchConfig::default(), Some(dir.path()), None).unwrap();
    let products: Vec<Product> = (0..40).map(product).collect();
    // Three commits write three segments; the third replaces a product of the first.
    engine.apply_text(&products[..20], 5).unwrap();
    engine.apply_text(&products[20..], 9).unwrap();
    let mut renamed = products[3].clone();
    renamed.title = "Acme Men Red Corduroy Jacket".into();
    engine
        .apply_text(std::slice::from_ref(&renamed), 12)
        .unwrap();
    engine.rebuild_vocabulary();
    let mut before_linen = ids(&engine, &req("linen shirt")).await;
    before_linen.sort();
    assert!(engine.lexical().segments() >= 2);

    assert!(engine.lexical().compact().unwrap() >= 2);
    assert_eq!(engine.lexical().segments(), 1);
    assert_eq!(
        engine.lexical().len(),
        40,
        "the replaced row is gone, not duplicated"
    );
    assert_eq!(engine.lexical().watermark(), 12);
    engine.invalidate();
    // The same products match (their order may move: BM25 no longer counts the replaced row).
    let mut after_linen = ids(&engine, &req("linen shirt")).await;
    after_linen.sort();
    assert_eq!(after_linen, before_linen);
    assert_eq!(ids(&engine, &req("corduroy")).await, ["SKU-003"]);
}

#[tokio::test]
async fn the_exact_filter_set_is_complete_counts_only_live_rows_and_gives_up_past_its_limit() {
    let (engine, products) = engine_with(40, SearchConfig::default());
    // A second version of a red product: its first row is deleted, not counted twice.
    engine.apply_text(&products[..1], 2).unwrap();
    let mut red = Filters::default();
    red.attributes.insert("colour".into(), vec!["red".into()]);
    let mut keys = engine.lexical().filtered_keys(&red, 8).unwrap().unwrap();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 8, "every fifth of 40 products is red");
    assert_eq!(engine.lexical().filtered_keys(&red, 7).unwrap(), None);
    assert_eq!(
        engine
            .lexical()
            .filtered_keys(&Filters::default(), 100)
            .unwrap(),
        None,
        "no constraint: nothing to list"
    );
}

/// Shoppers glue sizes ("9x12 rug"); titles spell them out ("9 ft. x 12 ft."). The glued size must
/// still find the product of that size first.
#[tokio::test]
async fn a_glued_size_finds_the_spelled_out_size() {
    let engine = SearchEngine::open(SearchConfig::default(), None, None).unwrap();
    let rug = |id: &str, title: &str| -> Product {
        let input: ProductInput = serde_json::from_value(json!({
            "id": id, "title": title, "price": "99", "currency": "USD",
            "inventory": {"quantity": 3},
        }))
        .unwrap();
        input.validate(chrono::Utc::now()).unwrap()
    };
    let products = vec![
        rug("R-5x8", "Braided Area Rug 5 ft. x 8 ft."),
        rug("R-9x12", "Braided Area Rug 9 ft. x 12 ft."),
        rug("R-8x10", "Braided Area Rug 8 ft. x 10 ft."),
    ];
    engine.apply_text(&products, 1).unwrap();
    engine.rebuild_vocabulary();
    let found = ids(&engine, &req("9x12 braided rug")).await;
    assert_eq!(
        found.first().map(String::as_str),
        Some("R-9x12"),
        "{found:?}"
    );
}

/// Identical titles score alike. Their order must not depend on the order products were indexed in
/// (or on which segment a parallel build put them), or the same catalog answers differently after a
/// rebuild.
#[tokio::test]
async fn equal_scores_keep_one_order_whatever_the_indexing_order() {
    let lamp = |id: &str| -> Product {
        let input: ProductInput = serde_json::from_value(json!({
            "id": id, "title": "Brass Desk Lamp", "price": "40", "currency": "USD",
            "inventory": {"quantity": 3},
        }))
        .unwrap();
        input.validate(chrono::Utc::now()).unwrap()
    };
    let ids_in_order = |order: &[&str]| {
        let engine = SearchEngine::open(SearchConfig::default(), None, None).unwrap();
        for (seq, id) in order.iter().enumerate() {
            engine.apply_text(&[lamp(id)], seq as i64 + 1).unwrap();
        }
        engine.rebuild_vocabulary();
        engine
    };
    let forward = ids_in_order(&["L-1", "L-2", "L-3", "L-4", "L-5"]);
    let backward = ids_in_order(&["L-5", "L-4", "L-3", "L-2", "L-1"]);
    let a = ids(&forward, &req("brass desk lamp")).await;
    let b = ids(&backward, &req("brass desk lamp")).await;
    assert_eq!(a.len(), 5);
    assert_eq!(a, b);
}

/// The usual stream of catalog changes is prices and stock. They leave the catalog's words alone, so
/// they must not pay for rebuilding the vocabulary, the speller and the title terms (hundreds of
/// milliseconds on a large catalog); a new title, a new product or an archived one must.
#[tokio::test]
async fn only_changes_to_the_catalog_words_rebuild_them() {
    use std::sync::atomic::Ordering;
    let (engine, products) = engine_with(30, SearchConfig::default());
    let builds = || engine.stats.vocabulary_builds.load(Ordering::Relaxed);
    let before = builds();
    let mut cheaper = products[3].clone();
    cheaper.price /= rust_decimal::Decimal::from(2);
    cheaper.inventory.quantity = 0;
    assert!(!engine.apply_text(&[cheaper], 2).unwrap());
    assert_eq!(builds(), before, "price and stock only");
    let renamed: Vec<Product> = [4, 6]
        .iter()
        .map(|&i| {
            let mut p = products[i].clone();
            p.title = format!("Zebra Print {}", p.title);
            p
        })
        .collect();
    assert!(engine.apply_text(&renamed, 3).unwrap());
    let mut archived = products[5].clone();
    archived.status = vitrine_core::ProductStatus::Archived;
    assert!(engine.apply_text(&[archived], 4).unwrap());
    engine.rebuild_vocabulary();
    assert!(builds() > before);
    assert_eq!(engine.suggest("zeb", 3)[0].text, "zebra");
}
