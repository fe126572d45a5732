//! Deterministic catalog generation: the same seed always yields the same store, byte for byte.

use crate::vocabulary::{brands_for, Leaf, COLOURS, LEAVES, SEASONS, STYLES};
use chrono::{DateTime, Duration, Utc};
use rand::{seq::SliceRandom, Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use vitrine_core::{AttributeValue, Currency, Inventory, Product, ProductStatus};

/// The hidden truth about a product that shoppers react to but Vitrine never sees directly.
#[derive(Debug, Clone)]
pub struct ItemTruth {
    /// Index into [`LEAVES`].
    pub leaf: usize,
    /// Index into the department's brand list.
    pub brand: usize,
    /// Index into [`COLOURS`].
    pub colour: usize,
    /// Effective price in USD, as a float for utility maths only.
    pub price: f64,
    /// Intrinsic appeal (design, reviews, value): roughly N(0, 1).
    pub quality: f64,
    /// Probability that a purchase comes back.
    pub return_rate: f64,
    /// Unit margin in USD.
    pub margin: f64,
    /// Whether it can be bought now.
    pub available: bool,
}

/// Log-scale spread of the hidden fit mismatch: 0.6 puts two thirds of a leaf's products between 0.5× and
/// 1.5× its return rate, as in real apparel.
const MISMATCH_SPREAD: f64 = 0.6;

/// Product `i` of a catalog generated from `seed`. Each product has its own RNG stream, so product 500,000
/// is computed without generating the 499,999 before it and a 1M catalog streams in constant memory.
pub fn product(seed: u64, i: u64, now: DateTime<Utc>) -> (Product, ItemTruth) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i + 1));
    let leaf_idx = rng.gen_range(0..LEAVES.len());
    let leaf: &Leaf = &LEAVES[leaf_idx];
    let brands = brands_for(leaf);
    let brand_idx = rng.gen_range(0..brands.len());
    let colour_idx = rng.gen_range(0..COLOURS.len());
    let colour = COLOURS[colour_idx];
    let material = *leaf.materials.choose(&mut rng).unwrap_or(&"mixed");
    let noun = *leaf.nouns.choose(&mut rng).unwrap_or(&"Item");
    let style = *STYLES.choose(&mut rng).unwrap_or(&"classic");
    let season = *SEASONS.choose(&mut rng).unwrap_or(&"all-season");
    let use_case = *leaf.uses.choose(&mut rng).unwrap_or(&"everyday");
    let waterproof = leaf.can_be_waterproof && rng.gen_bool(0.4);

    // Log-normal prices around the leaf median, ending in .99 / .00 like real shops.
    let factor: f64 = (rng.gen::<f64>() * 1.6 - 0.8).exp();
    let raw = (leaf.median_price * factor).max(3.0);
    let cents = if rng.gen_bool(0.7) { 99 } else { 0 };
    let price = Decimal::new((raw.floor() as i64) * 100 + cents, 2);
    let sale_price = rng.gen_bool(0.15).then(|| {
        let pct = [10i64, 15, 20, 25, 30][rng.gen_range(0..5)];
        (price * Decimal::new(100 - pct, 2)).round_dp(2)
    });
    let effective = sale_price.unwrap_or(price);
    let cost = (price * Decimal::new(rng.gen_range(35..70), 2)).round_dp(2);

    let roll: f64 = rng.gen();
    let inventory = if roll < 0.06 {
        Inventory {
            quantity: 0,
            backorder: false,
            restock_date: None,
        }
    } else if roll < 0.10 {
        let days = rng.gen_range(3..30);
        Inventory {
            quantity: 0,
            backorder: true,
            restock_date: Some((now + Duration::days(days)).date_naive()),
        }
    } else {
        Inventory {
            quantity: rng.gen_range(1..250),
            backorder: false,
            restock_date: None,
        }
    };

    let brand = brands[brand_idx];
    let gender_word = match leaf.gender {
        Some("men") => "Men's ",
        Some("women") => "Women's ",
        _ => "",
    };
    let title = format!(
        "{brand} {gender_word}{} {} {noun}",
        title_case(colour),
        title_case(material)
    );
    let mut sentences = vec![
        format!(
            "A {style} {} in {colour} {material}, made for {use_case}.",
            noun.to_lowercase()
        ),
        format!("Designed by {brand} for {season} wear and easy care."),
    ];
    if waterproof {
        sentences.push("Fully waterproof construction keeps you dry in wet weather.".into());
    }
    if !leaf.sizes.is_empty() {
        sentences.push(format!("Available in sizes {}.", leaf.sizes.join(", ")));
    }
    let mut attributes = BTreeMap::new();
    attributes.insert("material".into(), AttributeValue::Text(material.into()));
    attributes.insert("colour".into(), AttributeValue::Text(colour.into()));
    attributes.insert("season".into(), AttributeValue::Text(season.into()));
    attributes.insert("use_case".into(), AttributeValue::Text(use_case.into()));
    if !leaf.sizes.is_empty() {
        attributes.insert(
            "size".into(),
            AttributeValue::List(leaf.sizes.iter().map(|s| s.to_string()).collect()),
        );
    }
    if let Some(g) = leaf.gender {
        attributes.insert("gender".into(), AttributeValue::Text(g.into()));
    }
    if leaf.can_be_waterproof {
        attributes.insert("waterproof".into(), AttributeValue::Bool(waterproof));
    }
    attributes.insert(
        "weight".into(),
        AttributeValue::Number {
            value: (rng.gen_range(50..3000) as f64) / 1000.0,
            unit: Some("kg".into()),
        },
    );
    let id = format!("SKU-{i:07}");
    let quality: f64 = {
        // Sum of uniforms ≈ normal, without an extra distribution crate.
        (0..4).map(|_| rng.gen::<f64>()).sum::<f64>() - 2.0
    } * 1.7;
    // Fit and description mismatch: how far the product differs from its photos and size chart. Shoppers
    // cannot see it before buying (it is not in their utility), so only returns reveal it, which is what
    // a return model is for. Log-normal with median 1, mean-corrected so the catalog's overall return
    // rate stays that of the leaf baselines. Drawn last, so every other field keeps its value.
    let mismatch: f64 = {
        let z = ((0..4).map(|_| rng.gen::<f64>()).sum::<f64>() - 2.0) * 1.73;
        (MISMATCH_SPREAD * z - MISMATCH_SPREAD * MISMATCH_SPREAD / 2.0).exp()
    };
    let return_rate = (leaf.base_return_rate * (1.0 - 0.35 * quality) * mismatch).clamp(0.01, 0.6);
    let product = Product {
        id: id.clone(),
        title,
        description: sentences.join(" "),
        brand: Some(brand.into()),
        category: leaf.path.iter().map(|s| s.to_string()).collect(),
        attributes,
        price,
        currency: Currency::parse("USD").unwrap_or_else(|_| unreachable_currency()),
        sale_price,
        unit_cost: Some(cost),
        inventory: inventory.clone(),
        images: vec![format!("https://images.example.com/{id}.jpg")],
        status: ProductStatus::Active,
        updated_at: now,
        variant_group: None,
    };
    let eff = effective.to_string().parse::<f64>().unwrap_or(raw);
    let truth = ItemTruth {
        leaf: leaf_idx,
        brand: brand_idx,
        colour: colour_idx,
        price: eff,
        quality,
        return_rate,
        margin: eff - cost.to_string().parse::<f64>().unwrap_or(0.0),
        available: inventory.is_available(),
    };
    (product, truth)
}

fn unreachable_currency() -> Currency {
    // "USD" is in the ISO table; this path exists only to avoid a panic-capable unwrap.
    Currency::parse("EUR").unwrap_or_else(|_| unreachable_currency())
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_product_and_products_validate() {
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let (a, _) = product(7, 42, now);
        let (b, _) = product(7, 42, now);
        assert_eq!(a, b);
        let (c, _) = product(8, 42, now);
        assert_ne!(a, c);
        for i in 0..500 {
            let (p, t) = product(1, i, now);
            assert!(p.sale_price.is_none_or(|s| s <= p.price), "{p:?}");
            assert!(p.unit_cost.unwrap() < p.price);
            assert!(p.inventory.quantity >= 0);
            assert!(t.return_rate > 0.0 && t.return_rate < 1.0);
            assert!(!p.title.is_empty() && p.description.len() > 40);
        }
    }
}
