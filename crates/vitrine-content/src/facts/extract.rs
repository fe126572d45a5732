//! Claim extraction: lexicon phrases (longest first), capability patterns ("-proof", "-resistant",
//! "anti-…", "non-…", "…-free"), numbers and "compatible with …" phrases, each with its span.

use super::numbers::{self, NumberMention};
use crate::lexicon::{ClaimKind, Lexicon};
use crate::text::{self, Word};
use std::ops::Range;

/// One claim in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// What kind of fact it states.
    pub kind: ClaimKind,
    /// Byte span in the text.
    pub span: Range<usize>,
    /// The text of the span.
    pub text: String,
    /// Canonical values (colour families, material names, capability stems, compatibility words).
    pub canonical: Vec<String>,
    /// Stated as absent ("not waterproof", "non-padded", "without lining").
    pub negated: bool,
    /// For numbers: value, unit and what it counts.
    pub number: Option<NumberMention>,
}

const NEGATIONS: &[&str] = &["no", "not", "non", "without", "never", "nor"];
/// "-free" words that are marketing, not product facts.
const FLUFF_FREE: &[&str] = &[
    "hassle", "stress", "care", "worry", "tension", "fuss", "tangle", "risk",
];
/// Second words that make a capability out of any first word ("rust resistant", "splash proof").
const CAPABILITY_SUFFIXES: &[&str] = &[
    "proof",
    "resistant",
    "repellent",
    "wicking",
    "free",
    "retardant",
];

fn negated_before(words: &[Word], at: usize) -> bool {
    let mut k = at;
    for _ in 0..2 {
        if k == 0 || words[k].boundary_before {
            return false;
        }
        k -= 1;
        if NEGATIONS.contains(&words[k].norm.as_str()) {
            return true;
        }
    }
    false
}

fn claim(
    text: &str,
    ws: &[Word],
    from: usize,
    to: usize,
    kind: ClaimKind,
    canonical: Vec<String>,
) -> Claim {
    let span = ws[from].span.start..ws[to - 1].span.end;
    Claim {
        kind,
        text: text[span.clone()].to_string(),
        span,
        canonical,
        negated: from > 0 && negated_before(ws, from),
        number: None,
    }
}

/// Every claim in `text`, in order of appearance.
pub fn extract_claims(text: &str) -> Vec<Claim> {
    claims_in(text, text::words(text))
}

/// Every claim in `text`, with glued words split by a vocabulary (see [`text::words_with_vocabulary`]).
pub fn extract_claims_with(text: &str, known: &dyn Fn(&str) -> bool) -> Vec<Claim> {
    claims_in(text, text::words_with_vocabulary(text, known))
}

fn claims_in(text: &str, ws: Vec<Word>) -> Vec<Claim> {
    let norms: Vec<&str> = ws.iter().map(|w| w.norm.as_str()).collect();
    let lexicon = Lexicon::get();
    let mut out = Vec::new();
    let mut i = 0;
    while i < ws.len() {
        let matches = lexicon.matches_at(&norms, i);
        // "net weight", "net quantity" are not the fabric; "down" is rarely the filling.
        let skip_word = matches!(
            norms[i],
            "net" | "down" | "felt" | "stone" | "ash" | "sand" | "skin"
        ) && matches.first().is_some_and(|m| m.words.len() == 1);
        if !matches.is_empty() && !skip_word {
            let len = matches[0].words.len();
            // A phrase glued across a sentence join ("…blackOne…") is still one phrase only if unbroken.
            let unbroken = (i + 1..i + len).all(|k| !ws[k].boundary_before);
            if unbroken {
                for m in &matches {
                    out.push(claim(text, &ws, i, i + len, m.kind, m.canonical.clone()));
                }
                i += len;
                continue;
            }
        }
        let w = norms[i];
        let next = norms
            .get(i + 1)
            .copied()
            .filter(|_| !ws.get(i + 1).is_some_and(|n| n.boundary_before));
        // "splash-proof", "rust resistant", "bpa-free", "anti-pilling", "non-stick".
        if let Some(n) = next {
            let pattern = (CAPABILITY_SUFFIXES.contains(&n)
                && w.chars().all(char::is_alphabetic)
                && !(n == "free" && FLUFF_FREE.contains(&w)))
                || (matches!(w, "anti") && n.chars().all(char::is_alphabetic));
            if pattern {
                out.push(claim(
                    text,
                    &ws,
                    i,
                    i + 2,
                    ClaimKind::Capability,
                    vec![format!("{w}{n}")],
                ));
                i += 2;
                continue;
            }
            if w == "compatible" && n == "with" {
                let mut end = i + 2;
                while end < ws.len() && end < i + 7 && !ws[end].boundary_before {
                    end += 1;
                }
                if end > i + 2 {
                    let canonical = ws[i + 2..end]
                        .iter()
                        .map(|x| text::singular(&x.norm).to_string())
                        .filter(|x| {
                            !matches!(
                                x.as_str(),
                                "a" | "an" | "the" | "and" | "or" | "all" | "most"
                            )
                        })
                        .collect();
                    out.push(claim(
                        text,
                        &ws,
                        i,
                        end,
                        ClaimKind::Compatibility,
                        canonical,
                    ));
                    i = end;
                    continue;
                }
            }
        }
        if w.len() > 5 && w.ends_with("proof") {
            out.push(claim(
                text,
                &ws,
                i,
                i + 1,
                ClaimKind::Capability,
                vec![w.to_string()],
            ));
        }
        i += 1;
    }
    for n in numbers::mentions(text, &ws) {
        out.push(Claim {
            kind: ClaimKind::Number,
            text: text[n.span.clone()].to_string(),
            span: n.span.clone(),
            canonical: Vec::new(),
            negated: false,
            number: Some(n),
        });
    }
    out.sort_by_key(|c| c.span.start);
    out
}
