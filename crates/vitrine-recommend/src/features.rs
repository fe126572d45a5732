//! The ranking feature vector: candidate-source scores, item funnel statistics, price and margin, stock,
//! shopper affinity and context. The same function builds rows at serving time (logged with the
//! impression) and nowhere else, so training sees exactly what serving saw.

use crate::catalog::ItemMeta;
use crate::signals::ItemStats;

/// Candidate sources, in feature order.
pub const SOURCES: [&str; 7] = [
    "covis",
    "transition",
    "basket",
    "sequence",
    "content",
    "trending",
    "popular",
];

/// Feature names, in order (the schema recorded with every trained model).
pub const FEATURES: [&str; 23] = [
    "src_covis",
    "src_transition",
    "src_basket",
    "src_sequence",
    "src_content",
    "src_trending",
    "src_popular",
    "sources",
    "item_ctr",
    "item_conversion",
    "item_return_rate",
    "item_log_activity",
    "log_price",
    "margin_share",
    "low_stock",
    "shopper_log_history",
    "category_affinity",
    "brand_affinity",
    "seen_before",
    "price_vs_shopper",
    "surface",
    "device",
    "return_rate_pooled",
];

/// Column of `return_rate_pooled`: the return estimate used while no return model is trained.
pub const RETURN_RATE_POOLED: usize = 22;

/// Number of features.
pub const WIDTH: usize = FEATURES.len();

/// What is known about the shopper and the request, shared by every candidate.
#[derive(Debug, Clone, Default)]
pub struct ShopperProfile<'a> {
    /// Recent items' metadata, oldest first.
    pub recent: Vec<&'a ItemMeta>,
    /// Surface code.
    pub surface: f32,
    /// Device code.
    pub device: f32,
    /// Stock at or below which an item counts as low.
    pub low_stock_threshold: i64,
}

impl ShopperProfile<'_> {
    fn mean_log_price(&self) -> Option<f32> {
        (!self.recent.is_empty()).then(|| {
            self.recent
                .iter()
                .map(|m| (m.price.max(0.01) as f32).ln())
                .sum::<f32>()
                / self.recent.len() as f32
        })
    }
}

/// Builds one row. `pooled_return_rate` is [`crate::signals::Signals::pooled_return_rate`] of the item.
///
/// New features go at the end: a stored model indexes columns by position, so earlier versions keep
/// predicting from the columns they were trained on.
pub fn row(
    profile: &ShopperProfile<'_>,
    sources: &[f32; 7],
    item: &ItemMeta,
    stats: &ItemStats,
    pooled_return_rate: f32,
) -> [f32; WIDTH] {
    let n = profile.recent.len().max(1) as f32;
    let same_category = profile
        .recent
        .iter()
        .filter(|m| m.category == item.category)
        .count() as f32;
    let same_brand = profile
        .recent
        .iter()
        .filter(|m| !m.brand.is_empty() && m.brand == item.brand)
        .count() as f32;
    let seen = profile.recent.iter().any(|m| m.sku == item.sku);
    let log_price = (item.price.max(0.01) as f32).ln();
    [
        sources[0],
        sources[1],
        sources[2],
        sources[3],
        sources[4],
        sources[5],
        sources[6],
        sources.iter().filter(|s| **s > 0.0).count() as f32,
        stats.ctr(),
        stats.conversion(),
        stats.return_rate(),
        (1.0 + stats.activity()).ln(),
        log_price,
        (item.margin_or_default() / item.price.max(0.01)) as f32,
        f32::from(item.stock <= profile.low_stock_threshold),
        (1.0 + profile.recent.len() as f32).ln(),
        same_category / n,
        same_brand / n,
        f32::from(seen),
        profile.mean_log_price().map_or(0.0, |m| log_price - m),
        profile.surface,
        profile.device,
        pooled_return_rate,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_columns_point_at_their_features() {
        assert_eq!(FEATURES[RETURN_RATE_POOLED], "return_rate_pooled");
    }
}
