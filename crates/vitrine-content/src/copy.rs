//! The copy of one product, in sections, and how it is assembled.
//!
//! The language model writes the prose (opening and closing). Bullets are the product's own
//! specifications, one clause each, and the title and meta description are composed from the data and
//! the opening: a 135M-parameter model does not follow a multi-section format reliably, and specification
//! bullets are exactly where invented facts would hurt most. Every section is validated all the same.

use crate::checks::injection;
use crate::config::BrandVoice;
use crate::text;
use serde::{Deserialize, Serialize};
use vitrine_core::{AttributeValue, Product};

/// Product copy, section by section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductCopy {
    /// Title suggestion.
    pub title: String,
    /// Opening paragraph: benefits.
    pub opening: String,
    /// Feature bullets: specifications.
    pub bullets: Vec<String>,
    /// Closing section: use, compatibility, care.
    pub closing: String,
    /// Meta description (≤ 160 characters).
    pub meta_description: String,
}

impl ProductCopy {
    /// Sections as (name, text), bullets one per line: the unit findings point into.
    pub fn sections(&self) -> Vec<(&'static str, String)> {
        vec![
            ("title", self.title.clone()),
            ("opening", self.opening.clone()),
            ("bullets", self.bullets.join("\n")),
            ("closing", self.closing.clone()),
            ("meta_description", self.meta_description.clone()),
        ]
    }

    /// All sections as one text.
    pub fn full_text(&self) -> String {
        self.sections()
            .into_iter()
            .map(|(_, t)| t)
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

fn sentence_texts(t: &str) -> Vec<String> {
    text::sentences(t)
        .into_iter()
        .map(|r| t[r].trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// Cuts `s` to at most `max` characters at a word boundary.
pub fn cut_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    for w in s.split_whitespace() {
        if out.chars().count() + w.chars().count() + usize::from(!out.is_empty()) > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out.trim_end_matches([',', ';', ':', '-']).to_string()
}

/// Keeps whole sentences of `s` up to `max_words` words (at least one sentence).
fn cut_words(s: &str, max_words: usize) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut n = 0;
    for sentence in sentence_texts(s) {
        let w = sentence.split_whitespace().count();
        if !out.is_empty() && n + w > max_words {
            break;
        }
        n += w;
        out.push(sentence);
    }
    out.iter()
        .map(|s| format!("{s}."))
        .collect::<Vec<_>>()
        .join(" ")
        .replace("..", ".")
}

/// Splits the model's reply into the opening and closing paragraphs, dropping preambles such as
/// "Here's a description:".
pub fn split_prose(generated: &str) -> (String, String) {
    let paragraphs: Vec<String> = generated
        .split("\n\n")
        .flat_map(|p| p.split('\n'))
        .map(|p| p.trim().trim_start_matches(['-', '*', '#']).trim())
        .filter(|p| !p.is_empty())
        .filter(|p| {
            !(p.ends_with(':') || p.to_lowercase().starts_with("here"))
                || p.split_whitespace().count() > 12
        })
        .filter(|p| p.split_whitespace().count() >= 3)
        .map(|p| {
            p.trim_start_matches("Paragraph 1")
                .trim_start_matches("Paragraph 2")
                .trim_start_matches([':', ' ', ')'])
                .to_string()
        })
        .collect();
    match paragraphs.len() {
        0 => (String::new(), String::new()),
        1 => {
            let s = sentence_texts(&paragraphs[0]);
            if s.len() >= 3 {
                let last = s.len() - 1;
                (
                    s[..last]
                        .iter()
                        .map(|x| format!("{x}."))
                        .collect::<Vec<_>>()
                        .join(" "),
                    format!("{}.", s[last]),
                )
            } else {
                (paragraphs[0].clone(), String::new())
            }
        }
        _ => (paragraphs[0].clone(), paragraphs[1].clone()),
    }
}

/// Specification bullets from the product's (injection-stripped) description and attributes.
pub fn spec_bullets(product: &Product, max: usize) -> Vec<String> {
    let description = injection::strip(&product.description);
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        let s = s.trim().trim_end_matches(['.', ',']).to_string();
        let words = s.split_whitespace().count();
        if (2..=25).contains(&words)
            && !out.iter().any(|o| o.eq_ignore_ascii_case(&s))
            && out.len() < max
        {
            out.push(capitalise(&s));
        }
    };
    // "Warranty: 1 month" is one specification: a label ending in ':' stays with what follows it.
    let mut sentences: Vec<String> = Vec::new();
    let mut label: Option<String> = None;
    for r in text::sentences(&description) {
        let piece = description[r.clone()].trim().to_string();
        let piece = match label.take() {
            Some(l) => format!("{l}: {piece}"),
            None => piece,
        };
        if description[r.end..].trim_start().starts_with(':')
            && piece.split_whitespace().count() <= 4
        {
            label = Some(piece);
        } else {
            sentences.push(piece);
        }
    }
    sentences.extend(label);
    for sentence in sentences {
        for clause in sentence.split(", ") {
            let clause = clause.trim_start_matches("has ").trim_start_matches("and ");
            push(clause.to_string());
        }
    }
    for (k, v) in &product.attributes {
        if let AttributeValue::Text(t) = v {
            if !t.is_empty() && k != "gender" {
                push(format!("{}: {t}", capitalise(k)));
            }
        }
    }
    out
}

/// A title suggestion: the product's title with the brand in front, tidied and cut to length.
pub fn title_suggestion(product: &Product, max_chars: usize) -> String {
    let mut t = injection::strip(&product.title)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(b) = &product.brand {
        if !t.to_lowercase().contains(&b.to_lowercase()) {
            t = format!("{b} {t}");
        }
    }
    cut_chars(&t, max_chars)
}

/// Meta description: the opening's first sentence (the title first when that is short), cut to length.
pub fn meta_description(title: &str, opening: &str, max_chars: usize, min_chars: usize) -> String {
    let first = sentence_texts(opening)
        .into_iter()
        .next()
        .map(|s| format!("{s}."))
        .unwrap_or_default();
    let meta = if first.chars().count() < min_chars {
        format!("{title}. {first}")
    } else {
        first
    };
    cut_chars(meta.trim(), max_chars)
}

/// Assembles a full copy from the model's reply.
pub fn assemble(product: &Product, generated: &str, voice: &BrandVoice) -> ProductCopy {
    let (opening, closing) = split_prose(generated);
    let l = &voice.lengths;
    let opening = cut_words(&opening, l.opening_words.max);
    let closing = cut_words(&closing, l.closing_words.max);
    let title = title_suggestion(product, l.title_chars.max);
    let meta_description = meta_description(&title, &opening, l.meta_chars.max, l.meta_chars.min);
    ProductCopy {
        title,
        opening,
        bullets: spec_bullets(product, l.bullets.max),
        closing,
        meta_description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specification_labels_stay_with_their_values() {
        let input: vitrine_core::ProductInput = serde_json::from_value(serde_json::json!({
            "id": "p", "title": "Flats", "price": "10", "currency": "INR", "inventory": {"quantity": 1},
            "description": "Cushioned footbedTextured outsoleWarranty: 1 monthWarranty provided by brand"
        }))
        .expect("product");
        let p = input.validate(chrono::Utc::now()).expect("valid");
        let bullets = spec_bullets(&p, 8);
        assert!(
            bullets.contains(&"Warranty: 1 month".to_string()),
            "{bullets:?}"
        );
        assert!(!bullets.contains(&"1 month".to_string()));
    }
}
