//! Numbers in text: digits ("2.5", "1,000", "2.5cm"), number words ("three"), currency symbols, with the
//! unit after them or, for counts, the words around them ("three zip pockets", "Warranty: 5 years").

use crate::lexicon::{self, Unit};
use crate::text::{singular, Word};
use std::ops::Range;

/// Words that never tell what a number counts.
const STOPWORDS: &[&str] = &[
    "a",
    "an",
    "the",
    "of",
    "with",
    "and",
    "or",
    "for",
    "in",
    "on",
    "to",
    "has",
    "have",
    "is",
    "are",
    "its",
    "it",
    "this",
    "that",
    "at",
    "by",
    "from",
    "as",
    "be",
    "x",
    "up",
    "upto",
    "about",
    "approx",
    "approximately",
    "only",
    "each",
    "per",
    "all",
    "any",
    "your",
    "our",
    "you",
    "we",
];

/// One number found in text.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberMention {
    /// Its value.
    pub value: f64,
    /// Its unit, when one follows (or a currency symbol precedes).
    pub unit: Option<Unit>,
    /// Content words right after it (up to 3, same clause) and right before it (up to 2), singular.
    pub context: Vec<String>,
    /// Byte span of the number (and its unit).
    pub span: Range<usize>,
}

fn parse_digits(s: &str) -> Option<(f64, &str)> {
    let end = s
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || *c == '.' || *c == ','))
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    if end == 0 || !s.as_bytes()[0].is_ascii_digit() {
        return None;
    }
    let value: f64 = s[..end].replace(',', "").parse().ok()?;
    Some((value, &s[end..]))
}

fn is_ordinal(suffix: &str) -> bool {
    matches!(suffix, "st" | "nd" | "rd" | "th")
}

fn content(word: &str) -> bool {
    !STOPWORDS.contains(&word) && lexicon::unit(word).is_none()
}

/// Every number mention in `words` (from [`crate::text::words`] over `text`).
pub fn mentions(text: &str, words: &[Word]) -> Vec<NumberMention> {
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let (value, suffix) = match parse_digits(&w.norm) {
            Some((v, suffix)) => (v, suffix.to_string()),
            None => match lexicon::number_word(&w.norm) {
                // "one of", "one-piece"-style idioms are not counts.
                Some(v)
                    if !words
                        .get(i + 1)
                        .is_some_and(|n| matches!(n.norm.as_str(), "of" | "another" | "more")) =>
                {
                    (v, String::new())
                }
                _ => continue,
            },
        };
        if is_ordinal(&suffix) {
            continue;
        }
        let mut end = w.span.end;
        let mut next = i + 1;
        let mut unit = if suffix.is_empty() {
            None
        } else {
            lexicon::unit(&suffix)
        };
        if unit.is_none() && suffix.is_empty() {
            if let Some(n) = words.get(i + 1).filter(|n| !n.boundary_before) {
                if let Some(u) = lexicon::unit(&n.norm) {
                    unit = Some(u);
                    end = n.span.end;
                    next = i + 2;
                }
            }
        }
        if unit.is_none() {
            let before = &text[..w.span.start];
            let symbol = before.trim_end().ends_with(['₹', '$', '€']);
            let code = i > 0 && matches!(words[i - 1].norm.as_str(), "rs" | "inr" | "usd" | "eur");
            if symbol || code {
                unit = lexicon::unit("rs");
            }
        }
        if text[w.span.end..].starts_with('%') {
            unit = lexicon::unit("%");
            end = w.span.end + 1;
        }
        let mut context: Vec<String> = Vec::new();
        // "18k", "5x": an unknown suffix tells what is counted.
        if !suffix.is_empty() && unit.is_none() {
            context.push(suffix.clone());
        }
        for n in words.iter().skip(next).take(4) {
            if n.boundary_before {
                break;
            }
            if content(&n.norm) && parse_digits(&n.norm).is_none() {
                context.push(singular(&n.norm).to_string());
            }
            if context.len() >= 3 {
                break;
            }
        }
        let mut before = 0;
        for p in words[..i].iter().rev().take(3) {
            if content(&p.norm) && parse_digits(&p.norm).is_none() {
                context.push(singular(&p.norm).to_string());
                before += 1;
            }
            if before >= 2 || p.boundary_before {
                break;
            }
        }
        out.push(NumberMention {
            value,
            unit,
            context,
            span: w.span.start..end,
        });
    }
    out
}

/// Whether two mentions state the same quantity: equal values in the same dimension (after unit
/// conversion, 1% tolerance), or, for bare counts, equal values counting a shared word.
pub fn same_quantity(claim: &NumberMention, fact: &NumberMention) -> bool {
    match (claim.unit, fact.unit) {
        (Some(a), Some(b)) => {
            a.dimension == b.dimension && {
                let x = claim.value * a.factor;
                let y = fact.value * b.factor;
                (x - y).abs() <= 0.01 * x.abs().max(y.abs()).max(1e-9)
            }
        }
        (Some(_), None) => false,
        (None, _) => {
            (claim.value - fact.value).abs() < 1e-9
                && (claim.context.is_empty()
                    || claim.context.iter().any(|c| fact.context.contains(c)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::words;

    fn m(t: &str) -> Vec<NumberMention> {
        mentions(t, &words(t))
    }

    #[test]
    fn units_counts_and_currency_are_read() {
        let ms = m("Warranty: 5 years, three zip pockets, 2.5cm heel, ₹899, 100% cotton");
        assert_eq!(ms.len(), 5);
        assert_eq!(ms[0].unit.map(|u| u.dimension), Some("time"));
        assert!(ms[1].context.contains(&"pocket".to_string()));
        assert_eq!(ms[2].value, 2.5);
        assert_eq!(ms[2].unit.map(|u| u.dimension), Some("length"));
        assert_eq!(ms[3].unit.map(|u| u.dimension), Some("money"));
        assert_eq!(ms[4].unit.map(|u| u.dimension), Some("percent"));
    }

    #[test]
    fn same_quantity_converts_units_and_needs_the_same_thing_counted() {
        let a = &m("1 inch")[0];
        let b = &m("2.54 cm")[0];
        assert!(same_quantity(a, b));
        let years = &m("5 years")[0];
        let months = &m("5 months")[0];
        assert!(!same_quantity(months, years));
        let pockets = &m("three pockets")[0];
        let straps = &m("3 straps")[0];
        assert!(!same_quantity(pockets, straps));
        assert!(same_quantity(pockets, &m("3 zip pockets")[0]));
    }

    #[test]
    fn idioms_and_ordinals_are_not_numbers() {
        assert!(m("one of our favourites, the 4th edition").is_empty());
    }
}
