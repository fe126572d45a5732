//! Brand voice: banned terms, preferred terminology, required terms, superlatives, exclamation density,
//! grammatical person and section lengths.

use crate::config::BrandVoice;
use crate::report::{Finding, Severity};
use crate::text;
use std::ops::Range;

const SUPERLATIVES: &[&str] = &[
    "best",
    "greatest",
    "ultimate",
    "perfect",
    "finest",
    "unbeatable",
    "unmatched",
    "unrivalled",
    "unparalleled",
    "flawless",
    "incredible",
    "amazing",
    "breathtaking",
    "stunning",
    "exquisite",
    "number one",
    "world's",
    "ever",
];

/// Case-insensitive whole-word occurrences of `phrase` in `text`.
pub fn find_phrase(text: &str, phrase: &str) -> Vec<Range<usize>> {
    let ws = text::words(text);
    let target: Vec<String> = text::words(phrase).into_iter().map(|w| w.norm).collect();
    if target.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for i in 0..ws.len() {
        if i + target.len() <= ws.len() && target.iter().zip(&ws[i..]).all(|(t, w)| *t == w.norm) {
            out.push(ws[i].span.start..ws[i + target.len() - 1].span.end);
        }
    }
    out
}

fn finding(
    code: &str,
    severity: Severity,
    text: &str,
    span: Option<Range<usize>>,
    message: String,
) -> Finding {
    Finding {
        check: "voice".into(),
        code: code.into(),
        severity,
        span,
        text: text.to_string(),
        message,
    }
}

/// Findings in one section's text (lengths are checked by [`lengths`]).
pub fn check_text(text: &str, voice: &BrandVoice) -> Vec<Finding> {
    let mut out = Vec::new();
    for banned in &voice.banned {
        for span in find_phrase(text, banned) {
            let t = &text[span.clone()];
            out.push(finding(
                "banned_term",
                Severity::Error,
                t,
                Some(span),
                format!("\"{t}\" is banned by the brand voice"),
            ));
        }
    }
    for (wrong, right) in &voice.substitutions {
        for span in find_phrase(text, wrong) {
            let t = &text[span.clone()];
            out.push(finding(
                "terminology",
                Severity::Warning,
                t,
                Some(span),
                format!("write \"{right}\", not \"{t}\""),
            ));
        }
    }
    if !voice.allow_superlatives {
        for s in SUPERLATIVES {
            for span in find_phrase(text, s) {
                let t = &text[span.clone()];
                out.push(finding(
                    "superlative",
                    Severity::Info,
                    t,
                    Some(span),
                    format!("superlative \"{t}\" is off-voice"),
                ));
            }
        }
    }
    let ws = text::words(text);
    let bangs = text.matches('!').count() as f64;
    if !ws.is_empty() && bangs * 100.0 / ws.len() as f64 > voice.max_exclamations_per_100_words {
        out.push(finding(
            "exclamations",
            Severity::Warning,
            "!",
            None,
            format!("{bangs} exclamation marks in {} words", ws.len()),
        ));
    }
    // Product copy speaks for the store, never as one person ("I'm so glad …", "I love how …").
    for w in ws
        .iter()
        .filter(|w| matches!(w.norm.as_str(), "i" | "i'm" | "i've" | "me" | "my"))
    {
        let t = &text[w.span.clone()];
        out.push(finding(
            "first_person",
            Severity::Warning,
            t,
            Some(w.span.clone()),
            format!("\"{t}\": copy must not speak as one person"),
        ));
    }
    let person_words: &[&str] = match voice.person.as_str() {
        "third" => &["you", "your", "yours", "we", "our", "us"],
        "second" => &["we", "our", "us", "i", "my"],
        _ => &[],
    };
    for w in ws
        .iter()
        .filter(|w| person_words.contains(&w.norm.as_str()))
    {
        out.push(finding(
            "person",
            Severity::Info,
            &text[w.span.clone()],
            Some(w.span.clone()),
            format!(
                "\"{}\" breaks the {} person voice",
                &text[w.span.clone()],
                voice.person
            ),
        ));
    }
    out
}

/// Required terms missing from the whole copy.
pub fn missing_terms(all_text: &str, voice: &BrandVoice) -> Vec<Finding> {
    voice
        .required_terms
        .iter()
        .filter(|t| find_phrase(all_text, t).is_empty())
        .map(|t| {
            finding(
                "required_term_missing",
                Severity::Warning,
                t,
                None,
                format!("required term \"{t}\" is missing"),
            )
        })
        .collect()
}

/// A length finding when `value` is outside `range`.
pub fn length(
    section: &str,
    value: usize,
    range: crate::config::Range,
    unit: &str,
) -> Option<Finding> {
    (value < range.min || value > range.max).then(|| {
        finding(
            "length",
            Severity::Warning,
            &value.to_string(),
            None,
            format!(
                "{section} has {value} {unit}; the brand voice wants {} to {}",
                range.min, range.max
            ),
        )
    })
}

/// Score from findings: errors cost 0.5, warnings 0.15, infos 0.05.
pub fn score(findings: &[&Finding]) -> f64 {
    let penalty: f64 = findings
        .iter()
        .map(|f| match f.severity {
            Severity::Error => 0.5,
            Severity::Warning => 0.15,
            Severity::Info => 0.05,
        })
        .sum();
    (1.0 - penalty).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banned_terms_superlatives_and_person_are_found() {
        let voice = BrandVoice {
            person: "third".into(),
            ..BrandVoice::default()
        };
        let f = check_text("The best cheap shirt you will love!!", &voice);
        let codes: Vec<&str> = f.iter().map(|f| f.code.as_str()).collect();
        assert!(codes.contains(&"banned_term"));
        assert!(codes.contains(&"superlative"));
        assert!(codes.contains(&"exclamations"));
        assert!(codes.contains(&"person"));
        assert!(check_text("A soft cotton shirt for warm days.", &voice).is_empty());
    }
}
