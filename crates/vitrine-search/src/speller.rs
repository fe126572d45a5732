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
//! letters, the text index's fuzzy rule). Shorter words are too often codes or abbreviations, and
//! units of measure ("inches") are words shoppers use and titles abbreviate. A word no edit can fix
//! may be two words run together ("woodscrew" → "wood screw"), if some title uses both.
//!
//! The rest of the query decides between close words. A title word is only a correction if some
//! title uses it together with another word of the query: "cushions for wecker furniture" reads
//! "wicker" (patio cushions) rather than the more common "decker" (drills), and "fine sheer
//! curtain 63 inchs" reads nothing rather than "winches". Without such evidence the word is left as
//! typed, and the text index's fuzzy match still gets its chance. A query of one word has no
//! context: the closest, most used word wins, unless the sentence encoder knows the typed word
//! whole ("bushes", "filing"), which makes it ordinary language rather than a typo.

use crate::doc::SearchDoc;
use crate::normalize::{self, is_measure_unit, is_stop_word};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::sync::Arc;
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
    /// Word → ordinals of the active products whose title uses it, ascending: its count, and which
    /// other words it shares a title with.
    postings: FxHashMap<String, Vec<u32>>,
    /// Words that corrections may produce (long enough), by id.
    words: Vec<String>,
    /// (hash of a delete variant, word id), sorted by hash.
    deletes: Vec<(u64, u32)>,
    /// Ordinary language the sentence encoder knows as whole words ([`vitrine_models::Embedder::
    /// language_words`]). Such a word missing from the titles is not a typo ("filing cabinet",
    /// "bushes"): it is only changed where titles back the change.
    language: Arc<FxHashSet<String>>,
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

/// The word, its plural and its singular as a crude suffix rule would write them: enough to tell
/// whether two words share a title, where a wrong form only finds nothing.
fn number_forms(word: &str) -> Vec<String> {
    let mut forms = vec![word.to_string(), format!("{word}s")];
    if let Some(stem) = word.strip_suffix('s') {
        forms.push(stem.to_string());
    }
    if let Some(stem) = word.strip_suffix("es") {
        forms.push(stem.to_string());
    }
    forms
}

fn correctable(word: &str) -> bool {
    word.chars().all(|c| c.is_alphabetic())
}

impl Speller {
    /// Indexes the title words of the active products; `language` is the encoder's whole words.
    pub fn build<'a>(
        docs: impl Iterator<Item = &'a SearchDoc>,
        language: Arc<FxHashSet<String>>,
    ) -> Self {
        let mut postings: FxHashMap<String, Vec<u32>> = FxHashMap::default();
        for (ordinal, d) in docs.filter(|d| d.active).enumerate() {
            let mut seen = normalize::tokens(&d.title);
            seen.sort_unstable();
            seen.dedup();
            for w in seen {
                postings.entry(w).or_default().push(ordinal as u32);
            }
        }
        let mut words: Vec<String> = postings
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
            postings,
            words,
            deletes: index,
            language,
        }
    }

    /// Products whose title uses `word` (0 for unknown words).
    pub fn count(&self, word: &str) -> u32 {
        self.postings.get(word).map_or(0, |p| p.len() as u32)
    }

    /// Whether some title uses both words, each as written or in its other number ("rings" meets a
    /// title's "ring").
    fn share_a_title(&self, a: &str, b: &str) -> bool {
        let postings = |w: &str| -> Vec<&Vec<u32>> {
            number_forms(w)
                .iter()
                .filter_map(|f| self.postings.get(f.as_str()))
                .collect()
        };
        let (a, b) = (postings(a), postings(b));
        a.iter().any(|pa| {
            b.iter().any(|pb| {
                let (short, long) = if pa.len() <= pb.len() {
                    (pa, pb)
                } else {
                    (pb, pa)
                };
                short.iter().any(|x| long.binary_search(x).is_ok())
            })
        })
    }

    /// How many of the `context` words share a title with `word`.
    fn support(&self, word: &str, context: &[&str]) -> usize {
        context
            .iter()
            .filter(|c| self.share_a_title(word, c))
            .count()
    }

    /// Dictionary words within the allowed edits of `word`, as (distance, word id).
    fn candidates(&self, word: &str, edits: usize) -> Vec<(usize, u32)> {
        let mut variants = Vec::new();
        deletes(word, edits, &mut variants);
        let mut found = Vec::new();
        for v in &variants {
            let h = normalize::text_hash(v);
            let start = self.deletes.partition_point(|(k, _)| *k < h);
            for &(_, id) in self.deletes[start..].iter().take_while(|(k, _)| *k == h) {
                let d = osa_distance(word, &self.words[id as usize]);
                if d > 0 && d <= edits {
                    found.push((d, id));
                }
            }
        }
        found.sort_unstable();
        found.dedup();
        found
    }

    /// The word the shopper most likely meant by `word` in a query of one word, or `None` when it is
    /// known, too short, or nothing close enough exists: the closest dictionary word, the most used
    /// among equally close.
    pub fn correct_word(&self, word: &str) -> Option<String> {
        self.correct_in_context(word, &[])
    }

    /// The word the shopper most likely meant by `word`, next to the query's other known words
    /// `context`: the candidate sharing a title with the most context words (at least one), then the
    /// closest, then the most used; or two words run together whose halves share a title. With no
    /// context, the closest and most used, unless `word` is ordinary language.
    pub fn correct_in_context(&self, word: &str, context: &[&str]) -> Option<String> {
        let edits = normalize::typo_edits(word)?;
        if !correctable(word) || is_stop_word(word) || is_measure_unit(word) || self.count(word) > 0
        {
            return None;
        }
        let found = self.candidates(word, edits);
        let closest = found.first().map(|(d, _)| *d);
        // "curtains" for "curtain" is no misspelling: the text index stems it, the encoder knows
        // plurals, and a shopper told "curtains → curtain" would wonder why.
        if found
            .iter()
            .any(|&(d, id)| Some(d) == closest && is_inflection(word, &self.words[id as usize]))
        {
            return None;
        }
        let best = found
            .iter()
            .map(|&(d, id)| {
                let w = &self.words[id as usize];
                let support = self.support(w, context);
                (
                    support,
                    std::cmp::Reverse(d),
                    self.count(w),
                    std::cmp::Reverse(id),
                )
            })
            .max();
        // With other words to go by, a candidate no title backs is a guess: the word stays as typed,
        // for the text index's fuzzy match and the encoder. Alone, a misspelling gets the closest,
        // most used word, but an ordinary word the encoder knows is no misspelling.
        let best = match best {
            Some(b) if b.0 > 0 || (context.is_empty() && !self.language.contains(word)) => Some(b),
            _ => None,
        };
        if best.is_none() && self.language.contains(word) {
            return None;
        }
        let word_of = |id: u32| self.words[id as usize].clone();
        match best {
            Some((_, std::cmp::Reverse(1), _, std::cmp::Reverse(id))) => Some(word_of(id)),
            best => self
                .split(word)
                .or(best.map(|(.., std::cmp::Reverse(id))| word_of(id))),
        }
    }

    /// Two known words run together that some title uses together, the split whose rarer half is
    /// most used ("washerparts", but not "networking" → "network ing").
    fn split(&self, word: &str) -> Option<String> {
        let chars: Vec<char> = word.chars().collect();
        (MIN_SPLIT_PART..=chars.len().saturating_sub(MIN_SPLIT_PART))
            .filter_map(|i| {
                let a: String = chars[..i].iter().collect();
                let b: String = chars[i..].iter().collect();
                let c = self.count(&a).min(self.count(&b));
                (c > 0 && self.share_a_title(&a, &b)).then(|| (c, format!("{a} {b}")))
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
        // The query's words the catalog knows: what the other words are read next to. Numbers and
        // very short words ("ge", "x") say nothing about which word was meant.
        let known: Vec<String> = normalize::tokens(text)
            .into_iter()
            .filter(|w| {
                w.chars().count() >= 3
                    && w.chars().all(char::is_alphabetic)
                    && !is_stop_word(w)
                    && self.count(w) > 0
            })
            .collect();
        let mut out = String::with_capacity(text.len());
        for (i, chunk) in text.split(' ').enumerate() {
            if i > 0 {
                out.push(' ');
            }
            let core = chunk.trim_matches(|c: char| !c.is_alphanumeric());
            let tokens = normalize::tokens(core);
            let fixed = match tokens.as_slice() {
                [t] if t.chars().count() == core.chars().count() => {
                    let context: Vec<&str> = known
                        .iter()
                        .map(String::as_str)
                        .filter(|w| w != t)
                        .collect();
                    self.correct_in_context(t, &context)
                }
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
        speller_knowing(titles, &[])
    }

    /// A speller whose encoder knows `language` as whole words.
    fn speller_knowing(titles: &[&str], language: &[&str]) -> Speller {
        let docs: Vec<SearchDoc> = titles
            .iter()
            .enumerate()
            .map(|(i, t)| crate::test_support::doc(&format!("p{i}"), t))
            .collect();
        let language = language.iter().map(|w| w.to_string()).collect();
        Speller::build(docs.iter(), Arc::new(language))
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
        let (text, fixes) = s.correct("dewlat cordles drill, 20v");
        assert_eq!(text, "dewalt cordless drill, 20v");
        assert_eq!(fixes.len(), 2);
        assert_eq!(fixes[0].from, "dewlat");
        assert_eq!(fixes[0].to, "dewalt");
        assert_eq!(
            s.correct("refridgerator").0,
            "refrigerator",
            "one word: no context needed"
        );
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
    fn the_rest_of_the_query_decides_between_close_words() {
        let s = speller(&[
            "Black and Decker drill",
            "Black and Decker sander",
            "Black and Decker saw",
            "All-Weather Wicker Patio Sofa with Cushions",
            "Solar Charge Controller",
            "Sprinkler Head",
            "Rust-Oleum Stops Rust Spray Paint",
            "Washer Replacement Parts",
            "Network Cable",
            "Ing Adapter",
        ]);
        // "decker" is more used, but only "wicker" shares a title with "cushions".
        assert_eq!(s.correct("cushions for wecker").0, "cushions for wicker");
        assert_eq!(s.correct("wecker").0, "decker", "alone, the most used wins");
        // No title backs "controller" beside "sprinkler": left for the fuzzy match; alone it is
        // corrected.
        assert_eq!(s.correct("sprinkler conroller").1, vec![]);
        assert_eq!(s.correct("conroller").0, "controller");
        // Units are words shoppers use, however close to a title word ("winches").
        assert_eq!(s.correct("sheer curtain 63 inches").1, vec![]);
        // A split's halves must share a title: "washer" and "parts" do, "network" and "ing" do not.
        assert_eq!(
            s.correct_word("washerparts").as_deref(),
            Some("washer parts")
        );
        assert_eq!(s.correct_word("rustoleum").as_deref(), Some("rust oleum"));
        assert_eq!(s.correct_word("networking"), None);
    }

    #[test]
    fn ordinary_words_change_only_where_titles_back_it() {
        let s = speller_knowing(
            &[
                "Paint Brushes Set",
                "Hedge Shears",
                "Wood Piling",
                "Steel Filling Cabinet",
                "Electric Winch 2000 lb.",
            ],
            &["bushes", "filing", "sheers"],
        );
        // "bushes" is a word the encoder knows; "brushes" never shares a title with "hedge".
        assert_eq!(s.correct("hedge bushes").1, vec![]);
        assert_eq!(
            s.correct("bushes").1,
            vec![],
            "and alone there is no evidence"
        );
        // "filling" does share a title with "cabinet", so the known word still gives way.
        assert_eq!(s.correct("filing cabinet").0, "filling cabinet");
        // Alone, a misspelling is still corrected, an ordinary word not.
        assert_eq!(s.correct("brushs").0, "brushes");
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
