//! Autocomplete's words and two-word phrases from product titles.
//!
//! Why: the catalog's attribute values (brands, categories, colours) are only part of what shoppers
//! type. A store that sells smartwatches must complete "sma" before anyone has searched for one, and
//! the product type rarely has an attribute of its own. Titles name it, so the words and adjacent
//! word pairs that at least [`MIN_PRODUCTS`] active titles use become completions, counted by the
//! products that use them. A word found in a single title (a model number, a typo) is not suggested.

use crate::doc::SearchDoc;
use crate::normalize::{self, is_stop_word};
use rustc_hash::FxHashMap;

/// Titles that must use a term before it is suggested.
pub const MIN_PRODUCTS: u32 = 2;

/// Title terms sorted by text, with the number of active products whose title uses each.
#[derive(Debug, Default)]
pub struct TitleTerms {
    terms: Vec<(String, u32)>,
}

/// Whether a title word can be suggested or be part of a suggested phrase: not a stop word, not a
/// bare number, not a single letter (the "t" of "T-shirt").
fn suggestible(word: &str) -> bool {
    word.chars().nth(1).is_some()
        && !is_stop_word(word)
        && !word.chars().all(|c| c.is_ascii_digit())
}

impl TitleTerms {
    /// Counts the words and adjacent word pairs of the active products' titles. Words are numbered
    /// as they are met, so a pair is counted as two numbers; only the terms kept become strings.
    pub fn build<'a>(docs: impl Iterator<Item = &'a SearchDoc>) -> Self {
        let mut ids: FxHashMap<String, u32> = FxHashMap::default();
        let mut words: Vec<(String, u32)> = Vec::new();
        let mut pairs: FxHashMap<u64, u32> = FxHashMap::default();
        let (mut title_words, mut title_pairs) = (Vec::new(), Vec::new());
        for d in docs.filter(|d| d.active) {
            title_words.clear();
            for w in normalize::tokens(&d.title) {
                let id = if !suggestible(&w) {
                    None
                } else if let Some(&id) = ids.get(&w) {
                    Some(id)
                } else {
                    let id = words.len() as u32;
                    ids.insert(w.clone(), id);
                    words.push((w, 0));
                    Some(id)
                };
                title_words.push(id);
            }
            title_pairs.clear();
            title_pairs.extend(title_words.windows(2).filter_map(|p| match p {
                [Some(a), Some(b)] => Some(u64::from(*a) << 32 | u64::from(*b)),
                _ => None,
            }));
            title_pairs.sort_unstable();
            title_pairs.dedup();
            for &pair in &title_pairs {
                *pairs.entry(pair).or_default() += 1;
            }
            let mut once: Vec<u32> = title_words.iter().flatten().copied().collect();
            once.sort_unstable();
            once.dedup();
            for id in once {
                words[id as usize].1 += 1;
            }
        }
        let pair_text = |pair: u64| {
            let (a, b) = ((pair >> 32) as usize, (pair & 0xffff_ffff) as usize);
            format!("{} {}", words[a].0, words[b].0)
        };
        let mut terms: Vec<(String, u32)> = pairs
            .iter()
            .filter(|(_, n)| **n >= MIN_PRODUCTS)
            .map(|(&pair, &n)| (pair_text(pair), n))
            .collect();
        terms.extend(words.into_iter().filter(|(_, n)| *n >= MIN_PRODUCTS));
        terms.sort_unstable();
        Self { terms }
    }

    /// Terms that `typed` (a normalised phrase) completes word by word, most used first.
    pub fn completions(&self, typed: &str) -> Vec<(&str, u32)> {
        let first = typed.split(' ').next().unwrap_or_default();
        if first.is_empty() {
            return Vec::new();
        }
        // Every term starting with the first typed word sits in one sorted run.
        let start = self.terms.partition_point(|(t, _)| t.as_str() < first);
        let mut out: Vec<(&str, u32)> = self.terms[start..]
            .iter()
            .take_while(|(t, _)| t.starts_with(first))
            .filter(|(t, _)| crate::suggest::completes(t, typed))
            .map(|(t, n)| (t.as_str(), *n))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        out
    }

    /// Number of distinct terms kept.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Whether no title term is kept (an empty catalog).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::doc;

    fn terms() -> TitleTerms {
        let docs = [
            doc("1", "Voltix Black Silicone Smartwatch"),
            doc("2", "Arcwave Olive Steel Smartwatch"),
            doc("3", "Northwind Men's Navy Linen Shirt"),
            doc("4", "Urban Thread Men's White Linen Shirt"),
            doc("5", "Linen Shirt for Kids, 2 pack"),
            doc("7", "Linen T-Shirt"),
            doc("8", "Linen T-Shirt Dress"),
            doc("6", "Smart Plug XJ-200"),
        ];
        TitleTerms::build(docs.iter())
    }

    #[test]
    fn completes_words_and_phrases_that_several_titles_use() {
        let t = terms();
        assert_eq!(t.completions("sma"), [("smartwatch", 2)]);
        assert_eq!(
            t.completions("lin"),
            [("linen", 5), ("linen shirt", 3)],
            "most used first, then by text"
        );
        assert_eq!(t.completions("linen sh"), [("linen shirt", 3)]);
        assert_eq!(t.completions("t"), [], "not a single letter");
        assert_eq!(t.completions("linen t"), [], "nor a phrase with one");
        assert_eq!(
            t.completions("men"),
            [("men", 2)],
            "not its one-title phrases"
        );
        assert!(t.completions("").is_empty());
    }

    #[test]
    fn single_titles_stop_words_and_numbers_are_not_suggested() {
        let t = terms();
        assert!(t.completions("xj").is_empty(), "one title's model number");
        assert!(t.completions("smart p").is_empty(), "one title's phrase");
        assert!(
            t.completions("shirt f").is_empty(),
            "a phrase ending in a stop word"
        );
        assert!(t.completions("2").is_empty());
        assert_eq!(t.completions("shirt"), [("shirt", 5)]);
        let one = [doc("1", "Steel Smartwatch")];
        assert!(TitleTerms::build(one.iter()).is_empty());
    }
}
