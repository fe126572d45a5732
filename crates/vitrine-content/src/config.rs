//! Content configuration: the brand voice and how copy is generated, validated and published.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Allowed range of a length, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Range {
    /// Fewest.
    pub min: usize,
    /// Most.
    pub max: usize,
}

/// Length ranges per section: words for prose, characters for title and meta, items for bullets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lengths {
    /// Title, characters.
    pub title_chars: Range,
    /// Opening paragraph, words.
    pub opening_words: Range,
    /// Feature bullets, items.
    pub bullets: Range,
    /// Closing section, words.
    pub closing_words: Range,
    /// Meta description, characters (search engines cut at ~160).
    pub meta_chars: Range,
}

impl Default for Lengths {
    fn default() -> Self {
        Self {
            title_chars: Range { min: 15, max: 90 },
            opening_words: Range { min: 15, max: 90 },
            bullets: Range { min: 2, max: 8 },
            closing_words: Range { min: 5, max: 60 },
            meta_chars: Range { min: 50, max: 160 },
        }
    }
}

/// How the brand speaks. Every field has a default, so `[content.voice]` may be partial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrandVoice {
    /// Tone words given to the model ("warm, confident, plain").
    pub tone: String,
    /// Target Flesch–Kincaid grade.
    pub reading_grade: f64,
    /// Allowed distance from the target grade before the score drops.
    pub reading_grade_tolerance: f64,
    /// Words and phrases that must never appear (also masked while decoding).
    pub banned: Vec<String>,
    /// Preferred terminology: a term that must be replaced → its replacement ("tee shirt" → "T-shirt").
    pub substitutions: BTreeMap<String, String>,
    /// Terms that should appear in the copy.
    pub required_terms: Vec<String>,
    /// `second` (you/your), `third`, or `any`.
    pub person: String,
    /// Superlatives ("best", "ultimate") are findings unless allowed.
    pub allow_superlatives: bool,
    /// Most exclamation marks per 100 words.
    pub max_exclamations_per_100_words: f64,
    /// Section lengths.
    pub lengths: Lengths,
    /// Locale of the copy (`en-IN`, `en-US` …), given to the model.
    pub locale: String,
}

impl Default for BrandVoice {
    fn default() -> Self {
        Self {
            tone: "warm, confident and plain-spoken".into(),
            reading_grade: 8.0,
            reading_grade_tolerance: 3.0,
            banned: [
                "world-class",
                "revolutionary",
                "miracle",
                "cheap",
                "best in the world",
                "guaranteed results",
                "fashionista",
            ]
            .map(String::from)
            .to_vec(),
            substitutions: BTreeMap::from([("tshirt".to_string(), "T-shirt".to_string())]),
            required_terms: Vec::new(),
            person: "any".into(),
            allow_superlatives: false,
            max_exclamations_per_100_words: 1.0,
            lengths: Lengths::default(),
            locale: "en-IN".into(),
        }
    }
}

/// The `[content]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContentConfig {
    /// Brand voice.
    pub voice: BrandVoice,
    /// Candidates generated per product (best-of-N by validation score).
    pub candidates: usize,
    /// Extra rounds, with the findings fed back, when every candidate has errors.
    pub regenerations: usize,
    /// Auto-publish when the confidence reaches this and the product is long-tail.
    pub auto_publish_confidence: f64,
    /// A product is long-tail when it had at most this many views in the impact window.
    pub long_tail_max_views: u64,
    /// Days of events the review queue's impact and the long-tail test look at.
    pub impact_window_days: i64,
    /// Version of the prompt template; stored with every version.
    pub template_version: String,
    /// Most new tokens per candidate.
    pub max_tokens: usize,
    /// Sampling temperature.
    pub temperature: f64,
    /// Base seed; candidate `i` uses `seed + i`.
    pub seed: u64,
    /// SEO keywords used when a job gives none and the search log has none.
    pub default_keywords: Vec<String>,
    /// Webhook called on every state change (`None`: off).
    pub webhook_url: Option<String>,
    /// Delivery attempts before a webhook event is given up (with exponential backoff).
    pub webhook_attempts: u32,
}

impl Default for ContentConfig {
    fn default() -> Self {
        Self {
            voice: BrandVoice::default(),
            candidates: 3,
            regenerations: 1,
            auto_publish_confidence: 0.85,
            long_tail_max_views: 20,
            impact_window_days: 30,
            template_version: "copy-v1".into(),
            max_tokens: 110,
            temperature: 0.7,
            seed: 42,
            default_keywords: Vec::new(),
            webhook_url: None,
            webhook_attempts: 6,
        }
    }
}

impl ContentConfig {
    /// Rejects settings that cannot work, naming the field.
    pub fn check(&self) -> Result<(), String> {
        if self.candidates == 0 || self.candidates > 16 {
            return Err("content.candidates must be 1 to 16".into());
        }
        if !(0.0..=1.0).contains(&self.auto_publish_confidence) {
            return Err("content.auto_publish_confidence must be 0 to 1".into());
        }
        let l = &self.voice.lengths;
        for (name, r) in [
            ("title_chars", l.title_chars),
            ("opening_words", l.opening_words),
            ("bullets", l.bullets),
            ("closing_words", l.closing_words),
            ("meta_chars", l.meta_chars),
        ] {
            if r.min > r.max {
                return Err(format!("content.voice.lengths.{name}: min is above max"));
            }
        }
        if !["second", "third", "any"].contains(&self.voice.person.as_str()) {
            return Err("content.voice.person must be second, third or any".into());
        }
        if self.voice.banned.iter().any(|b| b.trim().is_empty()) {
            return Err("content.voice.banned entries must not be empty".into());
        }
        Ok(())
    }
}
