//! The catalog's own vocabulary of filterable values (colours, materials, brands, genders, categories…),
//! built from the products themselves so query understanding needs no hand-made word lists per store.

use crate::doc::SearchDoc;
use std::collections::HashMap;

/// Attributes with more distinct values than this are treated as free text, not as constraints.
const MAX_DISTINCT_VALUES: usize = 5_000;
/// Longest value, in words, that a query phrase is matched against.
pub const MAX_PHRASE_WORDS: usize = 5;

/// One way a phrase can be read as a constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct VocabEntry {
    /// Attribute name (`colour`, `brand`, `category`, …).
    pub name: String,
    /// Normalised value.
    pub value: String,
    /// The catalog's spelling.
    pub display: String,
    /// Products carrying it: more common readings win ties.
    pub count: u32,
}

/// Phrase → the constraints it can mean.
#[derive(Debug, Default, Clone)]
pub struct Vocabulary {
    phrases: HashMap<String, Vec<VocabEntry>>,
    names: std::collections::HashSet<String>,
}

/// Shopper spellings that mean a catalog value ("mens" → "men", "gray" ↔ "grey").
const ALIASES: &[(&str, &[&str])] = &[
    ("men", &["mens", "man", "male", "gents", "gentlemen"]),
    ("women", &["womens", "woman", "female", "ladies", "lady"]),
    ("boys", &["boy"]),
    ("girls", &["girl"]),
    ("grey", &["gray"]),
    ("gray", &["grey"]),
    ("unisex", &["gender neutral"]),
];

impl Vocabulary {
    /// Collects every facet value of the catalog.
    pub fn build<'a>(docs: impl Iterator<Item = &'a SearchDoc>) -> Self {
        let mut counts: HashMap<(String, String), (String, u32)> = HashMap::new();
        let mut distinct: HashMap<String, usize> = HashMap::new();
        for d in docs.filter(|d| d.active) {
            for f in &d.facets {
                let e = counts
                    .entry((f.name.clone(), f.value.clone()))
                    .or_insert_with(|| {
                        *distinct.entry(f.name.clone()).or_default() += 1;
                        (f.display.clone(), 0)
                    });
                e.1 += 1;
            }
        }
        let mut phrases: HashMap<String, Vec<VocabEntry>> = HashMap::new();
        for ((name, value), (display, count)) in counts {
            if distinct.get(&name).copied().unwrap_or(0) > MAX_DISTINCT_VALUES
                || value.split(' ').count() > MAX_PHRASE_WORDS
                || matches!(value.as_str(), "yes" | "no")
            {
                continue;
            }
            phrases.entry(value.clone()).or_default().push(VocabEntry {
                name,
                value,
                display,
                count,
            });
        }
        for entries in phrases.values_mut() {
            // Prefer descriptive attributes over brand/category on ties of meaning, then the common reading.
            entries.sort_by(|a, b| {
                rank(&a.name)
                    .cmp(&rank(&b.name))
                    .then(b.count.cmp(&a.count))
                    .then(a.name.cmp(&b.name))
            });
        }
        let names = distinct.into_keys().collect();
        Self { phrases, names }
    }

    /// The readings of a normalised phrase, best first, trying shopper aliases when the catalog has no
    /// such value.
    pub fn lookup(&self, phrase: &str) -> Option<&[VocabEntry]> {
        if let Some(e) = self.phrases.get(phrase) {
            return Some(e);
        }
        ALIASES
            .iter()
            .filter(|(_, spellings)| spellings.contains(&phrase))
            .find_map(|(canonical, _)| self.phrases.get(*canonical))
            .map(|v| v.as_slice())
    }

    /// Whether the catalog has any value for this attribute name.
    pub fn knows_attribute(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Every attribute name of the catalog, sorted (for error messages).
    pub fn attribute_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.names.iter().cloned().collect();
        v.sort();
        v
    }

    /// Number of distinct phrases, for stats.
    pub fn len(&self) -> usize {
        self.phrases.len()
    }

    /// Whether no product has any facet value.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// Every phrase with its best reading, for autocomplete.
    pub fn entries(&self) -> impl Iterator<Item = &VocabEntry> {
        self.phrases.values().filter_map(|v| v.first())
    }
}

/// Lower is preferred when one phrase names values of several attributes.
fn rank(name: &str) -> u8 {
    match name {
        "brand" => 2,
        "category" => 1,
        _ => 0,
    }
}
