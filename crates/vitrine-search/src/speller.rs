//! Spelling correction against the catalog's own title words.
//!
//! Shoppers misspell ("dewlat drill", "refridgerator"), and both retrievers suffer from it. The text
//! index can fall back to a fuzzy title match, but the sentence encoder turns an unknown word into
//! word pieces that mean little, and the ranker's title features see no match at all. Correcting the
//! query once, before either retriever runs, fixes all three, and the response can say what it read
//! ("refrigerator").
//!
//! The dictionary is the catalog's title words with the number of active products using each, so
//! a store's brands and jargon are words and no word list needs maintaining. Lookup is the symmetric
//! delete method (SymSpell): every dictionary word is indexed under the strings obtained by deleting
//! up to `d` of its letters; a query word meets the words within `d` edits through its own deletes,
//! and each meeting is verified with the true (optimal string alignment) distance.
//!
//! Only words the catalog does not know are corrected, and only from 5 letters (1 edit; 2 from 9
//! letters, the text index's fuzzy rule). Shorter words are too often codes or abbreviations. A word
//! no edit can fix may be two words run together ("woodscrew" → "wood screw").

use crate::doc::SearchDoc;
use crate::normalize::{self, is_stop_word};
use rustc_hash::FxHashMap;
use serde::Serialize;
use utoipa::ToSchema;

/// Shortest dictionary word that corrections may produce.
const MIN_WORD_LEN: usize = 4;
/// Shortest half of a split word.
const MIN_SPLIT_PART: usize = 3;

/// One word the engine read differently from how it was typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Correction {
    /// As typed (normalised).
    pub from: String,
    /// As searched.
    pub to: String,
}

/// The catalog's title words, indexed for correction.
#[derive(Debug, Default)]
pub struct Speller {
    /// Word → number of active products whose title uses it.
    counts: FxHashMap<String, u32>,
    /// Words that corrections may produce (long enough), by id.
    words: Vec<String>,
    /// (hash of a delete variant, word id), sorted by hash.
    deletes: Vec<(u64, u32)>,
}

/// Every string obtained from `word` by deleting at most `edits` characters (the word included).
fn deletes(word: &str, edits: usize, out: &mut Vec<String>) {
    out.push(word.to_string());
    let mut frontier = vec![word.to_string()];
    for _ in 0..edits {
        let mut next = Vec::new();
        for w in &frontier {
            let chars: Vec<char> = w.chars().collect();
            if chars.len() <= 1 {
                continue;
            }
            for i in 0..chars.len() {
                let d: String = chars[..i].iter().chain(&chars[i + 1..]).collect();
                next.push(d);
            }
        }
        next.sort_unstable();
        next.dedup();
        out.extend(next.iter().cloned());
        frontier = next;
    }
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions), the edit count
/// typing errors are measured in.
fn osa_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0usize; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Whether the typed word is the plural of the catalog's word (the reverse cannot be told from a
/// misspelling: "cordles" is not the singular of "cordless").
fn is_inflection(typed: &str, catalog: &str) -> bool {
    typed
        .strip_prefix(catalog)
        .is_some_and(|rest| rest == "s" || rest == "es")
}

fn correctable(word: &str) -> bool {
    word.chars().all(|c| c.is_alphabetic())
}

impl Speller {
    /// Indexes the title words of the active products.
    pub fn build<'a>(docs: impl Iterator<Item = &'a SearchDoc>) -> Self {
        let mut counts: FxHashMap<String, u32> = FxHashMap::default();
        for d in docs.filter(|d| d.active) {
            let mut seen = normalize::tokens(&d.title);
            seen.sort_unstable();
            seen.dedup();
            for w in seen {
                *counts.entry(w).or_default() += 1;
            }
        }
        let mut words: Vec<String> = counts
            .keys()
            .filter(|w| w.chars().count() >= MIN_WORD_LEN && correctable(w))
            .cloned()
            .collect();
        words.sort_unstable();
        let mut index = Vec::new();
        let mut variants = Vec::new();
        for (id, w) in words.iter().enumerate() {
            // A query word of 9+ letters may be 2 edits from a word of 7+.
            let edits = if w.chars().count() >= 7 { 2 } else { 1 };
            variants.clear();
            deletes(w, edits, &mut variants);
            index.extend(
                variants
                    .iter()
                    .map(|v| (normalize::text_hash(v), id as u32)),
            );
        }
        index.sort_unstable();
        index.dedup();
        Self {
            counts,
            words,
            deletes: index,
        }
    }

    /// Products whose title uses `word` (0 for unknown words).
    pub fn count(&self, word: &str) -> u32 {
        self.counts.get(word).copied().unwrap_or(0)
    }

    /// The word the shopper most likely meant by `word`, or `None` when it is known, too short, or
    /// nothing close enough exists: the closest dictionary word, the most used among equally close.
    pub fn correct_word(&self, word: &str) -> Option<String> {
        let edits = normalize::typo_edits(word)?;
        if !correctable(word) || is_stop_word(word) || self.count(word) > 0 {
            return None;
        }
        let mut variants = Vec::new();
        deletes(word, edits, &mut variants);
        let mut best: Option<(usize, u32, u32)> = None; // (distance, count, id)
        for v in &variants {
            let h = normalize::text_hash(v);
            let start = self.deletes.partition_point(|(k, _)| *k < h);
            for &(_, id) in self.deletes[start..].iter().take_while(|(k, _)| *k == h) {
                let candidate = &self.words[id as usize];
                let d = osa_distance(word, candidate);
                if d == 0 || d > edits {
                    continue;
                }
                let count = self.count(candidate);
                let better = match best {
                    None => true,
                    Some((bd, bc, bid)) => {
                        (d, std::cmp::Reverse(count), id) < (bd, std::cmp::Reverse(bc), bid)
                    }
                };
                if better {
                    best = Some((d, count, id));
                }
            }
        }
        if best.is_some_and(|(_, _, id)| is_inflection(word, &self.words[id as usize])) {
            // "curtains" for "curtain" is no misspelling: the text index stems it, the encoder
            // knows plurals, and a shopper told "curtains → curtain" would wonder why.
            return None;
        }
        match best {
            Some((1, _, id)) => Some(self.words[id as usize].clone()),
            found => self
                .split(word)
                .or(found.map(|(_, _, id)| self.words[id as usize].clone())),
        }
    }

    /// Two known words run together, the split whose rarer half is most used.
    fn split(&self, word: &str) -> Option<String> {
        let chars: Vec<char> = word.chars().collect();
        (MIN_SPLIT_PART..=chars.len().saturating_sub(MIN_SPLIT_PART))
            .filter_map(|i| {
                let a: String = chars[..i].iter().collect();
                let b: String = chars[i..].iter().collect();
                let c = self.count(&a).min(self.count(&b));
                (c > 0).then(|| (c, format!("{a} {b}")))
            })
            .max_by_key(|(c, _)| *c)
            .map(|(_, s)| s)
    }

    /// `text` with every correctable word replaced (punctuation and the other words kept as typed),
    /// and what was replaced.
    pub fn correct(&self, text: &str) -> (String, Vec<Correction>) {
        let mut corrections = Vec::new();
        if self.words.is_empty() {
            return (text.to_string(), corrections);
        }
        let mut out = String::with_capacity(text.len());
        for (i, chunk) in text.split(' ').enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let core = chunk.trim_matches(|c: char| !c.is_alphanumeric());
            let tokens = normalize::tokens(core);
            let fixed = match tokens.as_slice() {
                [t] if t.chars().count() == core.chars().count() => self.correct_word(t),
                _ => None,
            };
            match fixed {
                Some(to) => {
                    let start = chunk.find(core).unwrap_or(0);
                    out.push_str(&chunk[..start]);
                    out.push_str(&to);
                    out.push_str(&chunk[start + core.len()..]);
                    corrections.push(Correction {
                        from: tokens[0].clone(),
                        to,
                    });
                }
                None => out.push_str(chunk),
            }
        }
        (out, corrections)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn speller(titles: &[&str]) -> Speller {
        let docs: Vec<SearchDoc> = titles
            .iter()
            .enumerate()
            .map(|(i, t)| crate::test_support::doc(&format!("p{i}"), t))
            .collect();
        Speller::build(docs.iter())
    }

    #[test]
    fn distances_count_typing_errors() {
        assert_eq!(osa_distance("drill", "drill"), 0);
        assert_eq!(osa_distance("dirll", "drill"), 1);
        assert_eq!(osa_distance("dril", "drill"), 1);
        assert_eq!(osa_distance("refridgerator", "refrigerator"), 1);
        assert_eq!(osa_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn corrects_unknown_words_to_the_closest_most_used_title_word() {
        let s = speller(&[
            "DeWalt cordless drill",
            "DeWalt impact driver",
            "Samsung refrigerator, stainless",
            "Wood screw assortment",
            "Drywall screw",
        ]);
        let (text, fixes) = s.correct("dewlat cordles drill, refridgerator");
        assert_eq!(text, "dewalt cordless drill, refrigerator");
        assert_eq!(fixes.len(), 3);
        assert_eq!(fixes[0].from, "dewlat");
        assert_eq!(fixes[0].to, "dewalt");
        // Known and short words are left alone; run-together words are split.
        assert_eq!(s.correct("drill bit").1, vec![]);
        assert_eq!(
            s.correct_word("drills"),
            None,
            "a plural is not a misspelling"
        );
        assert_eq!(s.correct_word("woodscrew").as_deref(), Some("wood screw"));
        assert_eq!(s.correct_word("qwertyuiop"), None);
    }

    #[test]
    fn two_edits_only_for_long_words() {
        let s = speller(&["Samsung refrigerator", "Outdoor lantern"]);
        assert_eq!(
            s.correct_word("refrigeratr").as_deref(),
            Some("refrigerator")
        );
        assert_eq!(s.correct_word("lantrn").as_deref(), Some("lantern"));
        assert_eq!(s.correct_word("lntrn"), None, "2 edits in a short word");
    }

    proptest! {
        #[test]
        fn correction_never_panics_and_keeps_the_word_count(q in "\\PC{0,60}") {
            let s = speller(&["Samsung refrigerator", "Wood screw", "Cordless drill"]);
            let (text, fixes) = s.correct(&q);
            prop_assert!(fixes.len() <= q.split(' ').count());
            prop_assert!(text.split(' ').count() >= q.split(' ').count());
        }
    }
}
