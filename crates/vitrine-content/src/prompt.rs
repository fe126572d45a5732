//! The prompt template (versioned in config as `template_version`). Product data is given as data, after
//! instruction-like sentences are stripped, and the model is asked for prose only.

use crate::checks::injection;
use crate::config::BrandVoice;
use crate::copy::cut_chars;
use vitrine_core::{AttributeValue, Product};
use vitrine_models::ChatMessage;

/// Characters of the description given to the model (the small model's context and speed are limited).
const DESCRIPTION_CHARS: usize = 420;

/// The product's facts as prompt lines.
pub fn facts_block(product: &Product) -> String {
    let mut lines = vec![format!("Product: {}", injection::strip(&product.title))];
    if let Some(b) = &product.brand {
        lines.push(format!("Brand: {b}"));
    }
    for (k, v) in &product.attributes {
        let value = match v {
            AttributeValue::Text(t) => t.clone(),
            AttributeValue::List(l) => l.join(", "),
            AttributeValue::Bool(b) => {
                if *b {
                    "yes".into()
                } else {
                    "no".into()
                }
            }
            AttributeValue::Number { value, unit } => {
                format!("{value} {}", unit.as_deref().unwrap_or(""))
                    .trim()
                    .to_string()
            }
        };
        if !value.is_empty() && k != "image_count" {
            lines.push(format!("{}: {value}", k));
        }
    }
    let description = injection::strip(&product.description);
    if !description.trim().is_empty() {
        lines.push(format!(
            "Details: {}",
            cut_chars(description.trim(), DESCRIPTION_CHARS)
        ));
    }
    lines.join("\n")
}

/// Chat messages for one product; `feedback` lists findings of an earlier failed round.
pub fn messages(
    product: &Product,
    voice: &BrandVoice,
    keywords: &[String],
    feedback: &[String],
) -> Vec<ChatMessage> {
    let system = format!(
        "You write short product descriptions for an online store ({}). Voice: {}. Use only the facts given; never add colours, materials, numbers or features that are not listed.",
        voice.locale, voice.tone
    );
    let mut user = facts_block(product);
    if !keywords.is_empty() {
        user.push_str(&format!("\nKeywords: {}", keywords.join(", ")));
    }
    user.push_str("\n\nWrite two short paragraphs. Paragraph 1 (two sentences): why a shopper will like it. Paragraph 2 (one sentence): how to wear, use or care for it.");
    if !feedback.is_empty() {
        user.push_str("\nAn earlier draft had these problems; avoid them:\n- ");
        user.push_str(&feedback.join("\n- "));
    }
    vec![
        ChatMessage::new("system", system),
        ChatMessage::new("user", user),
    ]
}
