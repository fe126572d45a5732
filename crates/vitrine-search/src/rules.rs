//! Merchandising rules applied after relevance: stock handling, boosts and burials, margin, pins and
//! diversity. They come from a TOML file the server re-reads when it changes, and every rule that touched
//! a result is named in its explanation.

use crate::doc::SearchDoc;
use crate::normalize;
use serde::{Deserialize, Serialize};

/// What to do with products that cannot be sold now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OutOfStock {
    /// Never show them.
    Hide,
    /// Show them lower (score × `out_of_stock_factor`).
    #[default]
    Demote,
    /// Treat them like any other product.
    Ignore,
}

/// Multiply the score of matching products (factor > 1 boosts, < 1 buries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoostRule {
    /// A SKU.
    #[serde(default)]
    pub product: Option<String>,
    /// An attribute name (`brand`, `category`, `colour`…), with `value`.
    #[serde(default)]
    pub attribute: Option<String>,
    /// The attribute value.
    #[serde(default)]
    pub value: Option<String>,
    /// Score multiplier.
    pub factor: f64,
    /// Only for these queries (normalised); empty = every query.
    #[serde(default)]
    pub queries: Vec<String>,
}

/// Put a product at a fixed position for a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinRule {
    /// The query, compared after normalisation.
    pub query: String,
    /// The SKU to pin.
    pub product: String,
    /// 1-based position.
    pub position: usize,
}

/// At most `max` products sharing an attribute value within each window of results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiversityRule {
    /// Attribute to diversify on (`brand` by default).
    #[serde(default = "default_brand")]
    pub attribute: String,
    /// Most products per value in one window.
    pub max: usize,
    /// Window size (usually the page size).
    #[serde(default = "default_window")]
    pub window: usize,
}

fn default_brand() -> String {
    "brand".into()
}
fn default_window() -> usize {
    20
}

/// The rules file (`[search] rules = "rules.toml"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// Out-of-stock handling.
    pub out_of_stock: OutOfStock,
    /// Multiplier for out-of-stock products when demoted.
    pub out_of_stock_factor: f64,
    /// Score × (1 + margin_weight × margin rate), for products whose cost is known.
    pub margin_weight: f64,
    /// Boosts and burials.
    pub boost: Vec<BoostRule>,
    /// Pins.
    pub pin: Vec<PinRule>,
    /// Diversity.
    pub diversity: Option<DiversityRule>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            out_of_stock: OutOfStock::Demote,
            out_of_stock_factor: 0.5,
            margin_weight: 0.0,
            boost: Vec::new(),
            pin: Vec::new(),
            diversity: None,
        }
    }
}

/// Why a rules file was refused.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// TOML syntax or an unknown key.
    #[error("rules file: {0}")]
    Syntax(String),
    /// A rule that cannot be applied.
    #[error("rules file: {0}")]
    Invalid(String),
}

impl Rules {
    /// Parses and checks a rules file.
    pub fn parse(text: &str) -> Result<Self, RulesError> {
        let r: Rules = toml::from_str(text).map_err(|e| RulesError::Syntax(e.to_string()))?;
        r.validate()?;
        Ok(r)
    }

    fn validate(&self) -> Result<(), RulesError> {
        let bad = |m: String| Err(RulesError::Invalid(m));
        if !(0.0..=1.0).contains(&self.out_of_stock_factor) {
            return bad(format!(
                "out_of_stock_factor must be within 0..1, got {}",
                self.out_of_stock_factor
            ));
        }
        if !self.margin_weight.is_finite() || self.margin_weight < 0.0 {
            return bad("margin_weight must be ≥ 0".into());
        }
        for (i, b) in self.boost.iter().enumerate() {
            if !b.factor.is_finite() || b.factor < 0.0 {
                return bad(format!("boost[{i}].factor must be ≥ 0"));
            }
            match (&b.product, &b.attribute, &b.value) {
                (Some(_), None, None) | (None, Some(_), Some(_)) => {}
                _ => {
                    return bad(format!(
                        "boost[{i}] needs either `product` or `attribute` + `value`"
                    ))
                }
            }
        }
        for (i, p) in self.pin.iter().enumerate() {
            if p.position == 0 {
                return bad(format!("pin[{i}].position is 1-based"));
            }
        }
        if let Some(d) = &self.diversity {
            if d.max == 0 || d.window == 0 {
                return bad("diversity.max and diversity.window must be ≥ 1".into());
            }
        }
        Ok(())
    }

    /// Score multiplier for a product and the names of the rules that produced it.
    pub fn factor(&self, d: &SearchDoc, normalized_query: &str) -> (f64, Vec<String>) {
        let mut f = 1.0;
        let mut applied = Vec::new();
        if !d.available && self.out_of_stock == OutOfStock::Demote {
            f *= self.out_of_stock_factor;
            applied.push("out_of_stock_demoted".to_string());
        }
        if self.margin_weight > 0.0 {
            if let Some(m) = d.margin_rate {
                f *= 1.0 + self.margin_weight * m.clamp(-1.0, 1.0);
                applied.push(format!("margin({m:.2})"));
            }
        }
        for b in &self.boost {
            if !b.queries.is_empty()
                && !b
                    .queries
                    .iter()
                    .any(|q| normalize::phrase(q) == normalized_query)
            {
                continue;
            }
            let hit = match (&b.product, &b.attribute, &b.value) {
                (Some(p), _, _) => *p == d.id,
                (None, Some(a), Some(v)) => d.has_facet(
                    &normalize::phrase(a).replace(' ', "_"),
                    &normalize::phrase(v),
                ),
                _ => false,
            };
            if hit {
                f *= b.factor;
                let target = b.product.clone().unwrap_or_else(|| {
                    format!(
                        "{}={}",
                        b.attribute.as_deref().unwrap_or(""),
                        b.value.as_deref().unwrap_or("")
                    )
                });
                applied.push(format!(
                    "{}({target}×{})",
                    if b.factor >= 1.0 { "boost" } else { "bury" },
                    b.factor
                ));
            }
        }
        (f, applied)
    }

    /// Pins that apply to this query: (SKU, 0-based position).
    pub fn pins_for(&self, normalized_query: &str) -> Vec<(&str, usize)> {
        self.pin
            .iter()
            .filter(|p| normalize::phrase(&p.query) == normalized_query)
            .map(|p| (p.product.as_str(), p.position - 1))
            .collect()
    }
}

/// Reorders `items` so no window of `rule.window` holds more than `rule.max` with the same value; items
/// that do not fit are moved down, never dropped.
pub fn diversify<T>(
    items: Vec<T>,
    rule: &DiversityRule,
    value_of: impl Fn(&T) -> Option<String>,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    let mut values: Vec<Option<String>> = Vec::with_capacity(items.len());
    let mut pending: std::collections::VecDeque<T> = items.into();
    while !pending.is_empty() {
        let window_start = out.len() / rule.window * rule.window;
        let fits = |v: &Option<String>| match v {
            None => true,
            Some(v) => {
                values[window_start..]
                    .iter()
                    .filter(|x| x.as_deref() == Some(v))
                    .count()
                    < rule.max
            }
        };
        let pick = pending
            .iter()
            .position(|it| fits(&value_of(it)))
            .unwrap_or(0);
        if let Some(it) = pending.remove(pick) {
            values.push(value_of(&it));
            out.push(it);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_validate() {
        let r = Rules::parse(
            r#"
            out_of_stock = "hide"
            margin_weight = 0.5
            [[boost]]
            attribute = "brand"
            value = "Acme"
            factor = 1.5
            [[boost]]
            product = "SKU-1"
            factor = 0.2
            [[pin]]
            query = "Running Shoes"
            product = "SKU-9"
            position = 1
            [diversity]
            max = 2
            "#,
        )
        .unwrap();
        assert_eq!(r.out_of_stock, OutOfStock::Hide);
        assert_eq!(r.pins_for("running shoes"), vec![("SKU-9", 0)]);
        assert!(Rules::parse("[[boost]]\nfactor = 2.0")
            .unwrap_err()
            .to_string()
            .contains("boost[0]"));
        assert!(Rules::parse("[[pin]]\nquery='a'\nproduct='b'\nposition=0").is_err());
        assert!(Rules::parse("colour = 1")
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
    }

    #[test]
    fn diversity_moves_items_down_without_dropping() {
        let items = vec!["a1", "a2", "a3", "b1", "a4", "c1"];
        let rule = DiversityRule {
            attribute: "brand".into(),
            max: 2,
            window: 4,
        };
        let out = diversify(items, &rule, |s| Some(s[..1].to_string()));
        assert_eq!(out, ["a1", "a2", "b1", "c1", "a3", "a4"]);
    }
}
