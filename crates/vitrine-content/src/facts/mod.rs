//! The fact checker: finds the claims a piece of copy makes (colours, materials, numbers with units,
//! capabilities, certifications, gender, warranty, compatibility) and checks each against the product's own
//! data. A claim the data does not support is a finding; one the data contradicts is a worse finding.
//!
//! Both sides go through the same extractor, so "Grey" in the data supports "gray" in the copy, "three
//! pockets" supports "3 pockets", and "non-padded" in the data contradicts "padded" in the copy.

mod extract;
pub mod numbers;

pub use extract::{extract_claims, extract_claims_with, Claim};

use crate::lexicon::{ClaimKind, MATERIAL_IMPLIES};
use crate::report::{Finding, Severity};
use crate::text;
use numbers::NumberMention;
use std::collections::BTreeSet;
use vitrine_core::{AttributeValue, Product};

/// What the product's data says, in the form claims are checked against.
#[derive(Debug, Clone, Default)]
pub struct ProductFacts {
    colours: BTreeSet<String>,
    materials: BTreeSet<String>,
    capabilities: BTreeSet<String>,
    negated: BTreeSet<String>,
    certifications: BTreeSet<String>,
    genders: BTreeSet<String>,
    product_types: BTreeSet<String>,
    warranty: bool,
    numbers: Vec<NumberMention>,
    words: BTreeSet<String>,
    joined: String,
}

/// The checker's verdict on one claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The data says so.
    Supported,
    /// The data does not say so.
    Unsupported,
    /// The data says otherwise.
    Contradicted,
}

/// The source text of a product that claims are checked against: title, brand, category, attributes,
/// description.
pub fn product_text(p: &Product) -> String {
    let mut s = String::new();
    s.push_str(&p.title);
    s.push_str(". ");
    if let Some(b) = &p.brand {
        s.push_str(b);
        s.push_str(". ");
    }
    for c in &p.category {
        s.push_str(c);
        s.push_str(". ");
    }
    for (k, v) in &p.attributes {
        let value = match v {
            AttributeValue::Text(t) => t.clone(),
            AttributeValue::Number { value, unit } => {
                format!("{value} {}", unit.as_deref().unwrap_or(""))
            }
            AttributeValue::Bool(true) => k.clone(),
            AttributeValue::Bool(false) => format!("not {k}"),
            AttributeValue::List(l) => l.join(", "),
        };
        s.push_str(&format!("{k}: {value}. "));
    }
    s.push_str(&p.description);
    s
}

/// Capability names compared by stem, so "machine wash" matches "machine washable" and "quick dry" matches
/// "quick drying".
fn stem(c: &str) -> String {
    for suffix in ["able", "ing", "ed"] {
        if let Some(s) = c.strip_suffix(suffix) {
            if s.len() >= 4 {
                return s.to_string();
            }
        }
    }
    c.to_string()
}

impl ProductFacts {
    /// Builds the facts of a product (its text plus price and sale price as money amounts).
    pub fn of_product(p: &Product) -> Self {
        let mut text = product_text(p);
        text.push_str(&format!(". Rs {}", p.price));
        if let Some(sale) = p.sale_price {
            text.push_str(&format!(". Rs {sale}"));
        }
        Self::from_text(&text)
    }

    /// Builds facts from free text (the evaluation and tests use this directly).
    pub fn from_text(text: &str) -> Self {
        let mut f = Self::default();
        let ws = text::words(text);
        for w in &ws {
            f.words.insert(w.norm.clone());
            f.words.insert(text::singular(&w.norm).to_string());
            f.joined.push_str(&w.norm);
        }
        for c in extract_claims(text) {
            match c.kind {
                ClaimKind::Colour => f.colours.extend(c.canonical.iter().cloned()),
                ClaimKind::Material => {
                    for m in &c.canonical {
                        f.materials.insert(m.clone());
                        for (from, to) in MATERIAL_IMPLIES {
                            if from == m {
                                f.materials.insert(to.to_string());
                            }
                        }
                    }
                }
                ClaimKind::Capability if c.negated => {
                    f.negated.extend(c.canonical.iter().map(|x| stem(x)))
                }
                ClaimKind::Capability => f.capabilities.extend(c.canonical.iter().map(|x| stem(x))),
                ClaimKind::Certification => f.certifications.extend(c.canonical.iter().cloned()),
                ClaimKind::Gender => f.genders.extend(c.canonical.iter().cloned()),
                ClaimKind::Warranty => f.warranty = true,
                ClaimKind::ProductType => f.product_types.extend(c.canonical.iter().cloned()),
                ClaimKind::Number | ClaimKind::Compatibility => {}
            }
        }
        f.numbers = numbers::mentions(text, &ws);
        f
    }

    fn mentions_phrase(&self, phrase: &str) -> bool {
        let joined: String = text::words(phrase).into_iter().map(|w| w.norm).collect();
        !joined.is_empty() && self.joined.contains(&joined)
    }

    /// The verdict on one claim, with the reason shown to reviewers.
    pub fn judge(&self, claim: &Claim) -> (Verdict, String) {
        use Verdict::*;
        let any_in = |set: &BTreeSet<String>| claim.canonical.iter().any(|c| set.contains(c));
        let listed = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(", ");
        match claim.kind {
            ClaimKind::Colour => {
                if any_in(&self.colours)
                    || self.colours.contains("multi")
                        && claim.canonical.len() == 1
                        && claim.canonical[0] == "multi"
                {
                    (Supported, String::new())
                } else if self.colours.is_empty() {
                    (Unsupported, "the product data names no colour".into())
                } else {
                    (
                        Contradicted,
                        format!("the product is {}", listed(&self.colours)),
                    )
                }
            }
            ClaimKind::Material => {
                if any_in(&self.materials) || self.mentions_phrase(&claim.text) {
                    (Supported, String::new())
                } else if self.materials.is_empty() {
                    (Unsupported, "the product data names no material".into())
                } else {
                    (
                        Contradicted,
                        format!("the product is made of {}", listed(&self.materials)),
                    )
                }
            }
            ClaimKind::Capability => {
                let stems: Vec<String> = claim.canonical.iter().map(|c| stem(c)).collect();
                let claimed = stems.iter().any(|s| self.capabilities.contains(s));
                let denied = stems.iter().any(|s| self.negated.contains(s));
                match (claim.negated, claimed, denied) {
                    // Both stated ("non-padded back", "padded straps"): the data supports either claim.
                    (_, true, true) => (Supported, String::new()),
                    (false, true, false) => (Supported, String::new()),
                    (false, false, true) => {
                        (Contradicted, "the product data says it is not".into())
                    }
                    (false, false, false) if self.mentions_phrase(&claim.text) => {
                        (Supported, String::new())
                    }
                    (false, false, false) => {
                        (Unsupported, "the product data does not mention it".into())
                    }
                    (true, true, false) => (Contradicted, "the product data says it is".into()),
                    (true, false, _) => (Supported, String::new()),
                }
            }
            ClaimKind::Certification => {
                if any_in(&self.certifications) || self.mentions_phrase(&claim.text) {
                    (Supported, String::new())
                } else {
                    (
                        Unsupported,
                        "the product data names no such certification".into(),
                    )
                }
            }
            ClaimKind::Gender => {
                let g = claim.canonical.first().map(String::as_str).unwrap_or("");
                let has = |x: &str| self.genders.contains(x);
                let ok = has(g)
                    || (has("unisex") && matches!(g, "men" | "women"))
                    || (g == "unisex" && has("men") && has("women"))
                    || (g == "kids" && (has("boys") || has("girls")))
                    || (matches!(g, "boys" | "girls") && has("kids"));
                if ok {
                    (Supported, String::new())
                } else if self.genders.is_empty() {
                    (Unsupported, "the product data names no audience".into())
                } else {
                    (
                        Contradicted,
                        format!("the product is for {}", listed(&self.genders)),
                    )
                }
            }
            ClaimKind::ProductType => {
                let words_known = claim.canonical.iter().all(|w| self.words.contains(w));
                if any_in(&self.product_types) || words_known {
                    (Supported, String::new())
                } else if self.product_types.is_empty() {
                    (Unsupported, "the product data does not call it that".into())
                } else {
                    (
                        Contradicted,
                        format!("the product is a {}", listed(&self.product_types)),
                    )
                }
            }
            ClaimKind::Warranty => {
                if self.warranty {
                    (Supported, String::new())
                } else {
                    (Unsupported, "the product data mentions no warranty".into())
                }
            }
            ClaimKind::Number => {
                let Some(n) = &claim.number else {
                    return (Supported, String::new());
                };
                if self.numbers.iter().any(|f| numbers::same_quantity(n, f)) {
                    (Supported, String::new())
                } else if n.unit.is_some()
                    && self
                        .numbers
                        .iter()
                        .any(|f| f.unit.map(|u| u.dimension) == n.unit.map(|u| u.dimension))
                {
                    (
                        Contradicted,
                        "the product data gives a different amount".into(),
                    )
                } else {
                    (
                        Unsupported,
                        "the product data does not give this number".into(),
                    )
                }
            }
            ClaimKind::Compatibility => {
                let missing: Vec<&String> = claim
                    .canonical
                    .iter()
                    .filter(|w| !self.words.contains(*w))
                    .collect();
                if missing.is_empty() {
                    (Supported, String::new())
                } else {
                    (
                        Unsupported,
                        "the product data does not state this compatibility".into(),
                    )
                }
            }
        }
    }

    /// Checks every claim of `copy`; returns the findings (unsupported and contradicted claims) and the
    /// number of claims checked.
    pub fn check(&self, copy: &str) -> FactCheck {
        let known = |w: &str| self.words.contains(w) || crate::lexicon::unit(w).is_some();
        let claims = extract_claims_with(copy, &known);
        let mut findings = Vec::new();
        for c in &claims {
            let (verdict, reason) = self.judge(c);
            if verdict != Verdict::Supported {
                let severity = if verdict == Verdict::Contradicted {
                    Severity::Error
                } else {
                    Severity::Warning
                };
                findings.push(Finding {
                    check: "facts".into(),
                    code: format!("{:?}_{:?}", c.kind, verdict).to_lowercase(),
                    severity,
                    span: Some(c.span.clone()),
                    text: c.text.clone(),
                    message: format!("{:?} claim \"{}\": {reason}", c.kind, c.text).to_lowercase(),
                });
            }
        }
        FactCheck {
            claims: claims.len(),
            findings,
        }
    }
}

/// The fact check of one text.
#[derive(Debug, Clone)]
pub struct FactCheck {
    /// Claims found.
    pub claims: usize,
    /// Unsupported (warning) and contradicted (error) claims.
    pub findings: Vec<Finding>,
}

impl FactCheck {
    /// 1.0 when every claim is supported; each unsupported claim costs 0.25, each contradiction 0.5.
    pub fn score(&self) -> f64 {
        let penalty: f64 = self
            .findings
            .iter()
            .map(|f| {
                if f.severity == Severity::Error {
                    0.5
                } else {
                    0.25
                }
            })
            .sum();
        (1.0 - penalty).max(0.0)
    }
}

#[cfg(test)]
mod tests;
