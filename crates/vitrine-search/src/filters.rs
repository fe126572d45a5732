//! Constraints a result must satisfy, from the request's explicit filters and from the parsed query. The
//! same [`Filters`] drives the text index (as a query clause) and the vector index (as a predicate during
//! graph search), so both retrieve only admissible products and nothing is lost to post-filtering.

use crate::doc::{facet_code, SearchDoc};
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

    /// Whether a product is admissible. Archived products never are. To check many products, use
    /// [`Self::prepare`] once instead.
    pub fn accepts(&self, d: &SearchDoc) -> bool {
        self.prepare().accepts(d)
    }

    /// The filters made ready to check many products: facet codes hashed once, lenient flags looked up
    /// once. Why: a semantic search checks up to thousands of candidates against the same filters.
    pub fn prepare(&self) -> PreparedFilters<'_> {
        PreparedFilters {
            filters: self,
            attributes: self
                .attributes
                .iter()
                .map(|(name, values)| {
                    let lenient = self.lenient.get(name).copied().unwrap_or(false);
                    let values = values
                        .iter()
                        .map(|v| (facet_code(name, v), v.as_str()))
                        .collect();
                    (lenient, values)
                })
                .collect(),
            exclusions: self
                .exclusions
                .iter()
                .map(|e| {
                    let code = e.name.as_deref().map(|name| facet_code(name, &e.value));
                    (code, e.value.as_str())
                })
                .collect(),
        }
    }
}

/// Facet value to look for: its [`facet_code`] and its normalised value (for lenient title matches).
type FacetProbe<'a> = (u64, &'a str);

/// [`Filters`] ready to check many products (see [`Filters::prepare`]).
pub struct PreparedFilters<'a> {
    filters: &'a Filters,
    /// Per attribute: lenient (a title naming a value passes), and the accepted values.
    attributes: Vec<(bool, Vec<FacetProbe<'a>>)>,
    /// Per exclusion: the named facet's code (if a facet is named), and the excluded value.
    exclusions: Vec<(Option<u64>, &'a str)>,
}

impl PreparedFilters<'_> {
    /// Whether a product is admissible. Archived products never are.
    pub fn accepts(&self, d: &SearchDoc) -> bool {
        let f = self.filters;
        if !d.active {
            return false;
        }
        if f.price_min.is_some_and(|m| d.price < m) || f.price_max.is_some_and(|m| d.price > m) {
            return false;
        }
        if f.in_stock && !d.available {
            return false;
        }
        for (lenient, values) in &self.attributes {
            let ok = values.iter().any(|&(code, value)| {
                d.has_facet_code(code) || (*lenient && contains_phrase(d.title_padded(), value))
            });
            if !ok {
                return false;
            }
        }
        for &(code, value) in &self.exclusions {
            let hit = match code {
                Some(code) => d.has_facet_code(code) || contains_phrase(d.title_padded(), value),
                None => contains_phrase(&d.haystack, value),
            };
            if hit {
                return false;
            }
        }
        if !f.category_prefix.is_empty() {
            let segs = &d.category_normalized;
            if segs.len() < f.category_prefix.len()
                || segs[..f.category_prefix.len()] != f.category_prefix[..]
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

#[cfg(test)]
mod tests {
    use super::*;
    use vitrine_core::ProductInput;

    fn doc(title: &str, colour: &str, price: &str) -> SearchDoc {
        let input: ProductInput = serde_json::from_value(serde_json::json!({
            "id": "P1", "title": title, "price": price, "currency": "USD",
            "inventory": {"quantity": 1}, "attributes": {"colour": colour}, "brand": "Acme"
        }))
        .expect("valid product");
        SearchDoc::from_product(&input.validate(chrono::Utc::now()).expect("valid product"))
    }

    fn colour(values: &[&str], lenient: bool) -> Filters {
        let mut f = Filters::default();
        f.attributes.insert(
            "colour".into(),
            values.iter().map(|v| v.to_string()).collect(),
        );
        if lenient {
            f.lenient.insert("colour".into(), true);
        }
        f
    }

    #[test]
    fn facet_values_match_by_code_and_only_the_named_facet() {
        let d = doc("Trail shoe", "Navy Blue", "50");
        assert!(colour(&["navy blue"], false).accepts(&d));
        assert!(colour(&["red", "navy blue"], false).accepts(&d));
        assert!(!colour(&["red"], false).accepts(&d));
        // The same value under another name is a different facet.
        let mut brand = Filters::default();
        brand
            .attributes
            .insert("brand".into(), vec!["navy blue".into()]);
        assert!(!brand.accepts(&d));
    }

    #[test]
    fn lenient_values_also_pass_on_the_title_and_exclusions_reject() {
        let d = doc("Red trail shoe", "Navy Blue", "50");
        assert!(!colour(&["red"], false).accepts(&d));
        assert!(colour(&["red"], true).accepts(&d));
        let mut f = Filters::default();
        f.exclusions.push(Exclusion {
            name: Some("colour".into()),
            value: "navy blue".into(),
        });
        assert!(!f.accepts(&d));
        f.exclusions[0].value = "green".into();
        assert!(f.accepts(&d));
        f.exclusions.push(Exclusion {
            name: None,
            value: "trail".into(),
        });
        assert!(!f.accepts(&d));
    }

    #[test]
    fn one_prepared_check_agrees_with_the_single_use_check_on_price() {
        let f = Filters {
            price_min: Some(20.0),
            price_max: Some(60.0),
            ..Filters::default()
        };
        let check = f.prepare();
        for (price, want) in [
            ("19.99", false),
            ("20", true),
            ("60", true),
            ("60.01", false),
        ] {
            let d = doc("Trail shoe", "Navy Blue", price);
            assert_eq!(check.accepts(&d), want, "price {price}");
            assert_eq!(f.accepts(&d), want, "price {price}");
        }
    }
}
