//! Query-understanding evaluation. Labelled queries are generated from real catalog rows (Myntra and the
//! fashion styles table): a product is drawn, its real attribute values (gender, colour, brand, season,
//! usage, price) are written into one of several shopper phrasings, and the values used are the labels.
//! The parser's output is compared with the labels (precision/recall per constraint), and the engine's
//! results with the catalog rows that truly satisfy the labels (precision@10 and recall of the matched set).

use crate::engine::SearchEngine;
use crate::normalize;
use crate::query::{ParsedQuery, SortOrder};
use crate::types::{Retrieval, SearchRequest};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use vitrine_core::Product;

/// One labelled query.
#[derive(Debug, Clone, Serialize)]
pub struct LabelledQuery {
    /// Which catalog it was drawn from.
    pub catalog: String,
    /// The query text.
    pub text: String,
    /// The product it was generated from.
    pub source_product: String,
    /// Product type word(s) the results must be (the source title's last word).
    pub product_type: String,
    /// Labels: `attr:name=value`, `price:min-max`, `exclude:value`, `sort:order`, `in_stock`.
    pub labels: BTreeSet<String>,
    /// Attribute labels as (name, value), for checking result sets.
    #[serde(skip)]
    pub attributes: Vec<(String, String)>,
    /// Price labels.
    #[serde(skip)]
    pub price: (Option<f64>, Option<f64>),
    /// Excluded values as (name, value).
    #[serde(skip)]
    pub exclusions: Vec<(String, String)>,
}

/// The label set of a parser output, in the same vocabulary as [`LabelledQuery::labels`].
pub fn labels_of(p: &ParsedQuery) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for a in &p.attributes {
        out.insert(format!("attr:{}={}", a.name, a.value));
    }
    if let Some(pr) = p.price {
        out.insert(price_label(pr.min, pr.max));
    }
    for e in &p.exclusions {
        out.insert(format!("exclude:{}", e.value));
    }
    if let Some(s) = p.sort {
        out.insert(format!("sort:{s:?}"));
    }
    if p.in_stock {
        out.insert("in_stock".into());
    }
    out
}

fn price_label(min: Option<f64>, max: Option<f64>) -> String {
    let f = |v: Option<f64>| v.map_or("*".to_string(), |x| format!("{x:.0}"));
    format!("price:{}-{}", f(min), f(max))
}

fn facet(p: &Product, name: &str) -> Option<String> {
    p.attributes
        .get(name)
        .map(|v| normalize::phrase(&v.display_text()))
        .filter(|v| !v.is_empty())
}

fn gender_phrase(g: &str, rng: &mut impl Rng) -> Option<String> {
    let options: &[&str] = match g {
        "men" => &["men's", "mens", "for men", "men"],
        "women" => &["women's", "womens", "for women", "ladies"],
        "boys" => &["boys", "for boys"],
        "girls" => &["girls", "for girls"],
        _ => return None,
    };
    options.choose(rng).map(|s| s.to_string())
}

/// Product types common enough to query (the last title word, ≥ `min_count` products).
fn product_types(products: &[Product], min_count: usize) -> HashMap<String, usize> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for p in products {
        if let Some(t) = type_of(p) {
            *counts.entry(t).or_default() += 1;
        }
    }
    counts.retain(|_, c| *c >= min_count);
    counts
}

fn type_of(p: &Product) -> Option<String> {
    let last = p.title.split_whitespace().last()?;
    let t = normalize::phrase(last);
    (t.len() >= 3 && t.chars().all(|c| c.is_alphabetic() || c == ' ')).then_some(t)
}

/// Generates `n` labelled queries from a catalog.
pub fn generate(catalog: &str, products: &[Product], n: usize, seed: u64) -> Vec<LabelledQuery> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let types = product_types(products, 20);
    let colours: Vec<String> = {
        let mut c: BTreeSet<String> = products.iter().filter_map(|p| facet(p, "colour")).collect();
        c.retain(|v| v.split(' ').count() <= 2);
        c.into_iter().collect()
    };
    let mut out = Vec::new();
    let mut attempts = 0;
    while out.len() < n && attempts < n * 50 {
        attempts += 1;
        let Some(p) = products.choose(&mut rng) else {
            break;
        };
        let Some(ptype) = type_of(p).filter(|t| types.contains_key(t)) else {
            continue;
        };
        let gender = facet(p, "gender");
        let colour = facet(p, "colour");
        let price = rust_decimal::prelude::ToPrimitive::to_f64(&p.price).unwrap_or(0.0);
        let mut q = LabelledQuery {
            catalog: catalog.to_string(),
            text: String::new(),
            source_product: p.id.clone(),
            product_type: ptype.clone(),
            labels: BTreeSet::new(),
            attributes: Vec::new(),
            price: (None, None),
            exclusions: Vec::new(),
        };
        let mut words: Vec<String> = Vec::new();
        let add_attr = |q: &mut LabelledQuery, name: &str, value: &str| {
            q.labels.insert(format!("attr:{name}={value}"));
            q.attributes.push((name.to_string(), value.to_string()));
        };
        let template = rng.gen_range(0..8);
        // Gender and colour in most templates, as shoppers write them.
        if let (Some(g), true) = (&gender, template != 5) {
            if let Some(phrase) = gender_phrase(g, &mut rng) {
                add_attr(&mut q, "gender", g);
                words.push(phrase);
            }
        }
        if let (Some(c), true) = (&colour, template % 2 == 0) {
            add_attr(&mut q, "colour", c);
            words.push(c.clone());
        }
        if template == 3 {
            if let Some(b) = &p.brand {
                let b = normalize::phrase(b);
                add_attr(&mut q, "brand", &b);
                words.insert(0, b);
            }
        }
        if template == 5 {
            for name in ["season", "usage"] {
                if let Some(v) = facet(p, name).filter(|v| v != "na") {
                    add_attr(&mut q, name, &v);
                    words.push(v);
                }
            }
        }
        words.push(ptype.clone());
        if price > 0.0 {
            match template {
                1 => {
                    let max = (price / 100.0).ceil() * 100.0;
                    let phrase = ["under", "below", "less than"]
                        .choose(&mut rng)
                        .copied()
                        .unwrap_or("under");
                    words.push(format!("{phrase} {max:.0}"));
                    q.price = (None, Some(max));
                }
                4 => {
                    let lo = (price / 200.0).floor() * 100.0;
                    let hi = (price / 100.0).ceil() * 100.0 + 100.0;
                    let phrase = if rng.gen_bool(0.5) {
                        format!("between {lo:.0} and {hi:.0} rupees")
                    } else {
                        format!("rs {lo:.0}-{hi:.0}")
                    };
                    words.push(phrase);
                    q.price = (Some(lo), Some(hi));
                }
                7 => {
                    let min = (price / 200.0).floor() * 100.0;
                    words.push(format!("over {min:.0}"));
                    q.price = (Some(min), None);
                }
                _ => {}
            }
            if q.price != (None, None) {
                q.labels.insert(price_label(q.price.0, q.price.1));
            }
        }
        if template == 6 {
            // Exclude a colour the product does not have.
            if let Some(other) = colours
                .iter()
                .filter(|c| Some(*c) != colour.as_ref())
                .collect::<Vec<_>>()
                .choose(&mut rng)
            {
                let word = ["not", "without", "no"]
                    .choose(&mut rng)
                    .copied()
                    .unwrap_or("not");
                words.push(format!("{word} {other}"));
                q.labels.insert(format!("exclude:{other}"));
                q.exclusions.push(("colour".to_string(), (*other).clone()));
            }
        }
        if template == 2 && rng.gen_bool(0.5) {
            words.insert(0, "cheapest".into());
            q.labels.insert(format!("sort:{:?}", SortOrder::PriceAsc));
        }
        q.text = words.join(" ");
        if !out.iter().any(|o: &LabelledQuery| o.text == q.text) {
            out.push(q);
        }
    }
    out
}

/// Figures of one catalog.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UnderstandingScores {
    /// Queries evaluated.
    pub queries: usize,
    /// Extracted constraints that are labels.
    pub constraint_precision: f64,
    /// Labels that were extracted.
    pub constraint_recall: f64,
    /// Queries whose extracted constraints equal the labels exactly.
    pub exact_match: f64,
    /// Share of the top 10 results satisfying every labelled constraint (with query understanding).
    pub precision_at_10: f64,
    /// The same without query understanding (the whole query as BM25 text).
    pub precision_at_10_without: f64,
    /// Share of truly matching products (labels + product type) inside the matched set.
    pub matched_set_recall: f64,
    /// Share of the matched set satisfying the labelled constraints.
    pub matched_set_precision: f64,
    /// The most frequent extracted constraints that were not labels (what lowers precision).
    pub top_unlabelled: Vec<(String, usize)>,
    /// The most frequent labels that were missed.
    pub top_missed: Vec<(String, usize)>,
}

fn satisfies(p: &crate::doc::SearchDoc, q: &LabelledQuery) -> bool {
    q.attributes.iter().all(|(n, v)| p.has_facet(n, v))
        && q.price.0.is_none_or(|m| p.price >= m)
        && q.price.1.is_none_or(|m| p.price <= m)
        && q.exclusions.iter().all(|(n, v)| !p.has_facet(n, v))
}

/// Scores the parser and the engine on labelled queries. `docs` is every product of the catalog.
pub async fn score(
    engine: &SearchEngine,
    products: &[Product],
    queries: &[LabelledQuery],
) -> UnderstandingScores {
    let docs: Vec<crate::doc::SearchDoc> = products
        .iter()
        .map(crate::doc::SearchDoc::from_product)
        .collect();
    let by_key: HashMap<u64, &crate::doc::SearchDoc> = docs.iter().map(|d| (d.key, d)).collect();
    let (mut tp, mut extracted, mut labelled, mut exact) = (0usize, 0usize, 0usize, 0usize);
    let mut unlabelled: HashMap<String, usize> = HashMap::new();
    let mut missed: HashMap<String, usize> = HashMap::new();
    let (mut p10, mut p10_raw, mut rec, mut prec, mut rec_n) = (0.0, 0.0, 0.0, 0.0, 0usize);
    for q in queries {
        let got = labels_of(&engine.parse(&q.text));
        tp += got.intersection(&q.labels).count();
        extracted += got.len();
        labelled += q.labels.len();
        exact += usize::from(got == q.labels);
        for l in got.difference(&q.labels) {
            *unlabelled.entry(l.clone()).or_default() += 1;
        }
        for l in q.labels.difference(&got) {
            *missed.entry(l.clone()).or_default() += 1;
        }

        let relevant: BTreeSet<u64> = docs
            .iter()
            .filter(|d| {
                satisfies(d, q) && normalize::contains_phrase(d.title_padded(), &q.product_type)
            })
            .map(|d| d.key)
            .collect();
        let req = SearchRequest {
            query: q.text.clone(),
            limit: 5_000,
            retrieval: Retrieval::Lexical,
            ..Default::default()
        };
        let Ok((answer, _)) = engine.search(&req).await else {
            continue;
        };
        let keys: Vec<u64> = answer
            .hits
            .iter()
            .map(|h| normalize::doc_key(&h.id))
            .collect();
        let ok = |k: &u64| by_key.get(k).is_some_and(|d| satisfies(d, q));
        let top: Vec<&u64> = keys.iter().take(10).collect();
        p10 += if top.is_empty() {
            0.0
        } else {
            top.iter().filter(|k| ok(k)).count() as f64 / top.len() as f64
        };
        if !keys.is_empty() {
            prec += keys.iter().filter(|k| ok(k)).count() as f64 / keys.len() as f64;
        }
        if !relevant.is_empty() {
            let found: BTreeSet<u64> = keys.iter().copied().collect();
            rec += relevant.intersection(&found).count() as f64 / relevant.len() as f64;
            rec_n += 1;
        }
        let raw = SearchRequest {
            query: q.text.clone(),
            limit: 10,
            retrieval: Retrieval::Lexical,
            raw: true,
            ..Default::default()
        };
        if let Ok((a, _)) = engine.search(&raw).await {
            let n = a.hits.len().max(1);
            p10_raw += a
                .hits
                .iter()
                .filter(|h| ok(&normalize::doc_key(&h.id)))
                .count() as f64
                / n as f64;
        }
    }
    let n = queries.len().max(1) as f64;
    let top = |m: HashMap<String, usize>| {
        let mut v: Vec<(String, usize)> = m.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v.truncate(5);
        v
    };
    UnderstandingScores {
        top_unlabelled: top(unlabelled),
        top_missed: top(missed),
        queries: queries.len(),
        constraint_precision: tp as f64 / extracted.max(1) as f64,
        constraint_recall: tp as f64 / labelled.max(1) as f64,
        exact_match: exact as f64 / n,
        precision_at_10: p10 / n,
        precision_at_10_without: p10_raw / n,
        matched_set_recall: rec / rec_n.max(1) as f64,
        matched_set_precision: prec / n,
    }
}
