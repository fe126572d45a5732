//! Merchandising rules for recommendations, from a TOML file re-read when it changes (a bad file is
//! refused with the reason and the previous rules stay in force).
//!
//! ```toml
//! exclude_out_of_stock = true
//! low_stock_threshold = 3        # at or below: "backorder risk", demoted
//! backorder_demote = 0.5
//! substitute_boost = 1.5         # in-stock items of the category of an unavailable context item
//! margin_floor = 0.0             # hide items whose unit margin is below
//! exclude_purchased = true
//! repeat_purchase_categories = ["Grocery"]
//! max_per_brand = 4
//! max_per_category = 0           # 0 = no cap
//! price_band = [0.5, 2.0]        # similar/bought_together: price relative to the context item
//! [[boost]]
//! brand = "acme"                  # or sku = "…", or category = "Apparel > Men"
//! factor = 1.3                    # < 1 buries
//! [[pin]]
//! sku = "SKU-0000042"
//! position = 0
//! surface = "for_you"             # optional: every surface when absent
//! ```

use crate::catalog::ItemMeta;
use crate::types::Surface;
use serde::{Deserialize, Serialize};

/// Boost (factor > 1) or bury (factor < 1) items matching a selector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoostRule {
    /// Exact product id.
    pub sku: Option<String>,
    /// Brand (case-insensitive).
    pub brand: Option<String>,
    /// Category path prefix.
    pub category: Option<String>,
    /// Score multiplier, > 0.
    pub factor: f32,
}

impl BoostRule {
    /// Whether the rule selects `item`.
    pub fn matches(&self, item: &ItemMeta) -> bool {
        self.sku.as_deref().is_none_or(|s| s == item.sku)
            && self
                .brand
                .as_deref()
                .is_none_or(|b| b.eq_ignore_ascii_case(&item.brand))
            && self.category.as_deref().is_none_or(|c| item.in_category(c))
    }

    /// A short label for `explain`.
    pub fn label(&self) -> String {
        let what = self
            .sku
            .as_deref()
            .map(|s| format!("sku {s}"))
            .or_else(|| self.brand.as_deref().map(|b| format!("brand {b}")))
            .or_else(|| self.category.as_deref().map(|c| format!("category {c}")))
            .unwrap_or_default();
        let verb = if self.factor >= 1.0 { "boost" } else { "bury" };
        format!("{verb} {what} ×{}", self.factor)
    }
}

/// Put a product at a fixed position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinRule {
    /// Product id.
    pub sku: String,
    /// 0-based position.
    pub position: usize,
    /// Only on this surface (every surface when absent).
    pub surface: Option<Surface>,
}

/// The rule set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecRules {
    /// Never show what cannot be bought (backorder counts as buyable).
    pub exclude_out_of_stock: bool,
    /// Stock at or below which an item is at backorder risk.
    pub low_stock_threshold: i64,
    /// Score multiplier for items at backorder risk.
    pub backorder_demote: f32,
    /// Multiplier for in-stock items sharing the category of an unavailable context item.
    pub substitute_boost: f32,
    /// Hide items whose unit margin is below this (items without a cost are kept).
    pub margin_floor: Option<f64>,
    /// Do not recommend what the shopper already bought …
    pub exclude_purchased: bool,
    /// … except in these categories (consumables).
    pub repeat_purchase_categories: Vec<String>,
    /// At most this many items per brand (0: no cap).
    pub max_per_brand: usize,
    /// At most this many items per category (0: no cap).
    pub max_per_category: usize,
    /// For `similar` and `bought_together`: price relative to the context item, `[low, high]`.
    pub price_band: Option<[f64; 2]>,
    /// Boosts and burials.
    pub boost: Vec<BoostRule>,
    /// Pins.
    pub pin: Vec<PinRule>,
}

impl Default for RecRules {
    fn default() -> Self {
        Self {
            exclude_out_of_stock: true,
            low_stock_threshold: 2,
            backorder_demote: 0.7,
            substitute_boost: 1.3,
            margin_floor: None,
            exclude_purchased: true,
            repeat_purchase_categories: Vec::new(),
            max_per_brand: 0,
            max_per_category: 0,
            price_band: None,
            boost: Vec::new(),
            pin: Vec::new(),
        }
    }
}

impl RecRules {
    /// Parses and checks a rules file; errors say which rule is wrong and why.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rules: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        rules.validate()?;
        Ok(rules)
    }

    /// Refuses contradictory or meaningless settings.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.backorder_demote > 0.0 && self.backorder_demote.is_finite()) {
            return Err("backorder_demote must be a positive number".into());
        }
        if !(self.substitute_boost > 0.0 && self.substitute_boost.is_finite()) {
            return Err("substitute_boost must be a positive number".into());
        }
        if let Some([low, high]) = self.price_band {
            if !(low >= 0.0 && low <= high && high.is_finite()) {
                return Err(format!(
                    "price_band [{low}, {high}] is empty or negative: the low bound must be ≥ 0 and ≤ the high bound"
                ));
            }
        }
        for (i, b) in self.boost.iter().enumerate() {
            if b.sku.is_none() && b.brand.is_none() && b.category.is_none() {
                return Err(format!(
                    "boost[{i}] selects nothing: give sku, brand or category"
                ));
            }
            if !(b.factor > 0.0 && b.factor.is_finite()) {
                return Err(format!("boost[{i}].factor must be > 0 (use < 1 to bury)"));
            }
        }
        for (i, p) in self.pin.iter().enumerate() {
            if p.position >= crate::types::MAX_COUNT {
                return Err(format!(
                    "pin[{i}].position {} is beyond the largest answer ({})",
                    p.position,
                    crate::types::MAX_COUNT
                ));
            }
            let clash = self.pin[..i].iter().any(|q| {
                q.position == p.position
                    && (q.surface.is_none() || p.surface.is_none() || q.surface == p.surface)
            });
            if clash {
                return Err(format!(
                    "pin[{i}] uses position {} already pinned for the same surface",
                    p.position
                ));
            }
        }
        Ok(())
    }

    /// Whether a bought item may be shown again (repeat-purchase category).
    pub fn repeatable(&self, item: &ItemMeta) -> bool {
        self.repeat_purchase_categories
            .iter()
            .any(|c| item.in_category(c))
    }

    /// Boost factor and the labels of the rules applied.
    pub fn boost_of(&self, item: &ItemMeta) -> (f32, Vec<String>) {
        let mut factor = 1.0;
        let mut labels = Vec::new();
        for b in &self.boost {
            if b.matches(item) {
                factor *= b.factor;
                labels.push(b.label());
            }
        }
        (factor, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contradictory_rules_are_refused_with_the_reason() {
        assert!(RecRules::parse("price_band = [3.0, 1.0]")
            .unwrap_err()
            .contains("price_band"));
        assert!(RecRules::parse("[[boost]]\nfactor = 2.0")
            .unwrap_err()
            .contains("boost[0]"));
        let pins = "[[pin]]\nsku='a'\nposition=1\n[[pin]]\nsku='b'\nposition=1\n";
        assert!(RecRules::parse(pins).unwrap_err().contains("pin[1]"));
        assert!(RecRules::parse("nonsense = 1").is_err());
        let ok = RecRules::parse("max_per_brand = 2\n[[boost]]\nbrand='Acme'\nfactor=0.5").unwrap();
        assert_eq!(ok.max_per_brand, 2);
    }
}
