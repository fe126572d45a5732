//! Words with their byte spans, and the normalisation every check shares.
//!
//! Product data arrives in rough shape: Myntra descriptions glue sentences together ("…TSA lockOne handle…",
//! "6 monthsWarranty"), copy uses hyphens and case freely. Checks compare *words*, so both sides go through
//! the same tokenizer; spans always point into the original text so findings can be highlighted.

use std::ops::Range;

/// One word (letters/digits, with inner `'`, `.` or `,` between digits) and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Lower-cased text.
    pub norm: String,
    /// Byte range in the source text.
    pub span: Range<usize>,
    /// Whether a sentence or clause boundary (`.`, `;`, `:`, `!`, `?`, newline, bullet, or a glued
    /// lower→Upper join) comes right before this word.
    pub boundary_before: bool,
}

/// Splits `text` into words. A glued join like `lockOne` is split into `lock` + `One`, with a boundary.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    let mut boundary = true;
    while i < chars.len() {
        let (start, c) = chars[i];
        if !c.is_alphanumeric() {
            if matches!(c, '.' | ';' | ':' | '!' | '?' | '\n' | '•' | '|') {
                boundary = true;
            }
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < chars.len() {
            let (_, cj) = chars[j];
            let prev = chars[j - 1].1;
            if cj.is_alphanumeric() {
                // Glued sentences: a lower-case letter followed by an upper-case letter starting a word of 2+
                // letters ("lockOne", "monthsWarranty"), but not "iPhone"-style single lower-case prefixes.
                if prev.is_lowercase() && cj.is_uppercase() && j - i > 1 {
                    let next_lower = chars.get(j + 1).is_some_and(|(_, n)| n.is_lowercase());
                    if next_lower {
                        break;
                    }
                }
                j += 1;
                continue;
            }
            // Keep 1.5, 1,000 and don't together.
            let inner = matches!(cj, '.' | ',' | '\'' | '’')
                && j + 1 < chars.len()
                && chars[j + 1].1.is_alphanumeric()
                && ((prev.is_ascii_digit() && chars[j + 1].1.is_ascii_digit() && cj != '\'')
                    || (cj == '\'' || cj == '’') && prev.is_alphabetic());
            if inner {
                j += 2;
                continue;
            }
            break;
        }
        let end = chars.get(j).map(|(b, _)| *b).unwrap_or(text.len());
        let raw = &text[start..end];
        let glued = !out.is_empty()
            && start > 0
            && text[..start]
                .chars()
                .last()
                .is_some_and(|p| p.is_lowercase())
            && c.is_uppercase();
        out.push(Word {
            norm: raw.to_lowercase().replace('’', "'"),
            span: start..end,
            boundary_before: boundary || glued,
        });
        boundary = false;
        i = j;
    }
    out
}

/// Like [`words`], then splits a word the vocabulary does not know into two words it does
/// ("monthwarranty" → "month" + "warranty", "detailnon" → "detail" + "non"). All-caps copy hides the
/// lower→Upper joins [`words`] relies on; the product's own vocabulary recovers them.
pub fn words_with_vocabulary(text: &str, known: &dyn Fn(&str) -> bool) -> Vec<Word> {
    let mut out = Vec::new();
    for w in words(text) {
        let n = &w.norm;
        let splittable = n.len() >= 5 && n.chars().all(|c| c.is_ascii_alphabetic()) && !known(n);
        let split = splittable
            .then(|| {
                (2..n.len() - 1)
                    .rev()
                    .find(|&k| known(&n[..k]) && known(&n[k..]))
            })
            .flatten();
        match split {
            Some(k) => {
                out.push(Word {
                    norm: n[..k].to_string(),
                    span: w.span.start..w.span.start + k,
                    boundary_before: w.boundary_before,
                });
                out.push(Word {
                    norm: n[k..].to_string(),
                    span: w.span.start + k..w.span.end,
                    boundary_before: true,
                });
            }
            None => out.push(w),
        }
    }
    out
}

/// Text with glued sentences separated, hyphens and punctuation turned into spaces, lower-cased: the form
/// in which phrases are searched for.
pub fn normalized(text: &str) -> String {
    let ws = words(text);
    let mut s = String::with_capacity(text.len());
    for w in ws {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&w.norm);
    }
    s
}

/// Crude English singular, enough to match "pockets" with "pocket" and "straps" with "strap".
pub fn singular(word: &str) -> &str {
    if word.len() > 4 && word.ends_with("ies") {
        return &word[..word.len() - 3];
    }
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") {
        return &word[..word.len() - 1];
    }
    word
}

/// Sentences of `text` as byte ranges (on `.`, `!`, `?`, newlines and glued joins).
pub fn sentences(text: &str) -> Vec<Range<usize>> {
    let ws = words(text);
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut last_end = 0;
    for w in &ws {
        if w.boundary_before {
            if let Some(s) = start {
                out.push(s..last_end);
            }
            start = Some(w.span.start);
        }
        last_end = w.span.end;
    }
    if let Some(s) = start {
        out.push(s..last_end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(t: &str) -> Vec<String> {
        words(t).into_iter().map(|w| w.norm).collect()
    }

    #[test]
    fn glued_sentences_are_split_but_brand_case_is_kept() {
        assert_eq!(
            norms("TSA lockOne handle, 6 monthsWarranty"),
            ["tsa", "lock", "one", "handle", "6", "months", "warranty"]
        );
        assert_eq!(norms("iPhone 12"), ["iphone", "12"]);
        let ws = words("lockOne");
        assert!(ws[1].boundary_before);
    }

    #[test]
    fn numbers_and_contractions_stay_whole() {
        assert_eq!(
            norms("1,000 mAh and 2.5cm, don't"),
            ["1,000", "mah", "and", "2.5cm", "don't"]
        );
        assert_eq!(norms("water-resistant"), ["water", "resistant"]);
    }

    #[test]
    fn spans_point_into_the_source() {
        let t = "Navy blue—cotton";
        for w in words(t) {
            assert_eq!(t[w.span.clone()].to_lowercase(), w.norm);
        }
    }

    #[test]
    fn sentences_follow_punctuation_and_glue() {
        let t = "Blue top. Has pocketsMachine wash";
        let s: Vec<&str> = sentences(t).into_iter().map(|r| &t[r]).collect();
        assert_eq!(s, ["Blue top", "Has pockets", "Machine wash"]);
    }

    proptest::proptest! {
        #[test]
        fn words_never_panic_and_spans_are_char_boundaries(t in "\\PC{0,200}") {
            for w in words(&t) {
                proptest::prop_assert!(t.is_char_boundary(w.span.start) && t.is_char_boundary(w.span.end));
            }
        }
    }
}
