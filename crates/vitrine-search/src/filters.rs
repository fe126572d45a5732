//! Constraints a result must satisfy, from the request's explicit filters and from the parsed query. The
//! same [`Filters`] drives the text index (as a query clause) and the vector index (as a predicate during
//! graph search), so both retrieve only admissible products and nothing is lost to post-filtering.

use crate::doc::SearchDoc;
use crate::normalize::contains_phrase;
use crate::query::{Exclusion, ParsedQuery};
use std::collections::BTreeMap;

/// Admissibility rules for one search.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// Lowest price (inclusive).
    pub price_min: Option<f64>,
    /// Highest price (inclusive).
    pub price_max: Option<f64>,
    /// Only sellable products.
    pub in_stock: bool,
    /// Attribute name → accepted normalised values (any of them).
    pub attributes: BTreeMap<String, Vec<String>>,
    /// Attributes typed by the shopper rather than picked from facets: a product whose title names the
    /// value also passes (catalog attributes are often incomplete; titles rarely lie).
    pub lenient: BTreeMap<String, bool>,
    /// Excluded values and phrases.
    pub exclusions: Vec<Exclusion>,
    /// Category path prefix (normalised segments).
    pub category_prefix: Vec<String>,
}

impl Filters {
    /// Adds what the query parser understood to the explicit filters.
    pub fn add_parsed(&mut self, q: &ParsedQuery) {
        if let Some(p) = q.price {
            if let Some(min) = p.min {
                self.price_min = Some(self.price_min.map_or(min, |m| m.max(min)));
            }
            if let Some(max) = p.max {
                self.price_max = Some(self.price_max.map_or(max, |m| m.min(max)));
            }
        }
        self.in_stock |= q.in_stock;
        for a in &q.attributes {
            // An explicit facet filter on the same attribute wins over the words of the query.
            if self.attributes.contains_key(&a.name) && !self.lenient.contains_key(&a.name) {
                continue;
            }
            let values = self.attributes.entry(a.name.clone()).or_default();
            if !values.contains(&a.value) {
                values.push(a.value.clone());
            }
            self.lenient.insert(a.name.clone(), true);
        }
        for e in &q.exclusions {
            if !self.exclusions.contains(e) {
                self.exclusions.push(e.clone());
            }
        }
    }

    /// Whether nothing constrains the result.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether a product is admissible. Archived products never are.
    pub fn accepts(&self, d: &SearchDoc) -> bool {
        if !d.active {
            return false;
        }
        if self.price_min.is_some_and(|m| d.price < m)
            || self.price_max.is_some_and(|m| d.price > m)
        {
            return false;
        }
        if self.in_stock && !d.available {
            return false;
        }
        for (name, values) in &self.attributes {
            let lenient = self.lenient.get(name).copied().unwrap_or(false);
            let ok = values
                .iter()
                .any(|v| d.has_facet(name, v) || (lenient && contains_phrase(d.title_padded(), v)));
            if !ok {
                return false;
            }
        }
        for e in &self.exclusions {
            let hit = match &e.name {
                Some(name) => {
                    d.has_facet(name, &e.value) || contains_phrase(d.title_padded(), &e.value)
                }
                None => contains_phrase(&d.haystack, &e.value),
            };
            if hit {
                return false;
            }
        }
        if !self.category_prefix.is_empty() {
            let segs = &d.category_normalized;
            if segs.len() < self.category_prefix.len()
                || segs[..self.category_prefix.len()] != self.category_prefix[..]
            {
                return false;
            }
        }
        true
    }
}

impl SearchDoc {
    /// The padded normalised title (the first part of the haystack).
    pub fn title_padded(&self) -> &str {
        let title_len = self.title_len;
        &self.haystack[..title_len]
    }
}
