//! Runs every check on a copy and folds the results into one report with an overall confidence.

use crate::checks::{injection, readability, seo, voice};
use crate::config::BrandVoice;
use crate::copy::ProductCopy;
use crate::facts::ProductFacts;
use crate::report::{Finding, LocatedFinding, Severity, ValidationReport};
use std::collections::BTreeMap;
use vitrine_core::Product;

/// Weights of the checks in the overall confidence.
const WEIGHTS: &[(&str, f64)] = &[
    ("facts", 0.45),
    ("voice", 0.2),
    ("readability", 0.1),
    ("seo", 0.15),
    ("injection", 0.1),
];
/// Highest confidence of copy written from a title alone (always below the auto-publish threshold).
const THIN_INPUT_CAP: f64 = 0.6;
/// Highest confidence a copy with any error-level finding can have.
const CAP_WITH_ERRORS: f64 = 0.5;

/// Validates `copy` of `product` against its data, the brand voice and the SEO keywords. Instructions found
/// in the product data itself are reported under the `input` section.
pub fn validate(
    product: &Product,
    copy: &ProductCopy,
    voice_cfg: &BrandVoice,
    keywords: &[String],
) -> ValidationReport {
    let facts = ProductFacts::of_product(product);
    let mut findings: Vec<LocatedFinding> = Vec::new();
    let mut claims = 0;
    let locate = |section: &str, f: Finding| LocatedFinding {
        section: section.to_string(),
        finding: f,
    };
    let input_text = crate::facts::product_text(product);
    for f in injection::findings(&input_text) {
        findings.push(locate("input", f));
    }
    let thin = product.description.trim().is_empty() && product.attributes.is_empty();
    if thin {
        findings.push(locate("input", Finding {
            check: "facts".into(),
            code: "thin_input".into(),
            severity: Severity::Warning,
            span: None,
            text: String::new(),
            message: "the product has no description and no attributes: minimal copy, a person must review it".into(),
        }));
    }
    for (section, text) in copy.sections() {
        // The title suggestion restates the product's own title; the bullets are its own clauses. Both are
        // still checked: a tidy-up must not change a fact either.
        let check = facts.check(&text);
        claims += check.claims;
        for f in check.findings {
            findings.push(locate(section, f));
        }
        for f in voice::check_text(&text, voice_cfg) {
            findings.push(locate(section, f));
        }
        for f in injection::findings(&text) {
            findings.push(locate(section, f));
        }
    }
    let l = &voice_cfg.lengths;
    let words = |t: &str| t.split_whitespace().count();
    let length_checks = [
        (
            "title",
            voice::length(
                "title",
                copy.title.chars().count(),
                l.title_chars,
                "characters",
            ),
        ),
        (
            "opening",
            voice::length("opening", words(&copy.opening), l.opening_words, "words"),
        ),
        (
            "bullets",
            voice::length("bullets", copy.bullets.len(), l.bullets, "bullets"),
        ),
        (
            "closing",
            voice::length("closing", words(&copy.closing), l.closing_words, "words"),
        ),
        (
            "meta_description",
            voice::length(
                "meta description",
                copy.meta_description.chars().count(),
                l.meta_chars,
                "characters",
            ),
        ),
    ];
    for (section, f) in length_checks {
        if let Some(f) = f {
            findings.push(locate(section, f));
        }
    }
    let all = copy.full_text();
    for f in voice::missing_terms(&all, voice_cfg) {
        findings.push(locate("copy", f));
    }
    let (seo_findings, seo_score) =
        seo::check(&all, &copy.meta_description, keywords, l.meta_chars.max);
    for f in seo_findings {
        findings.push(locate("copy", f));
    }
    let prose = format!("{} {}", copy.opening, copy.closing);
    let grade = readability::grade(&prose);
    let readability_score = readability::score(
        grade,
        voice_cfg.reading_grade,
        voice_cfg.reading_grade_tolerance,
    );
    if readability_score < 1.0 {
        findings.push(locate(
            "copy",
            Finding {
                check: "readability".into(),
                code: "reading_grade".into(),
                severity: Severity::Info,
                span: None,
                text: format!("{grade:.1}"),
                message: format!(
                    "Flesch–Kincaid grade {grade:.1}; target {:.0} ± {:.0}",
                    voice_cfg.reading_grade, voice_cfg.reading_grade_tolerance
                ),
            },
        ));
    }
    let of = |check: &str| {
        findings
            .iter()
            .filter(|f| f.finding.check == check)
            .map(|f| &f.finding)
            .collect::<Vec<_>>()
    };
    let fact_findings: Vec<Finding> = of("facts").into_iter().cloned().collect();
    let fact_score = crate::facts::FactCheck {
        claims,
        findings: fact_findings,
    }
    .score();
    let mut scores = BTreeMap::new();
    scores.insert("facts".to_string(), fact_score);
    scores.insert("voice".to_string(), voice::score(&of("voice")));
    scores.insert("readability".to_string(), readability_score);
    scores.insert("seo".to_string(), seo_score);
    scores.insert(
        "injection".to_string(),
        if of("injection").is_empty() { 1.0 } else { 0.0 },
    );
    let mut confidence: f64 = WEIGHTS
        .iter()
        .map(|(k, w)| w * scores.get(*k).copied().unwrap_or(0.0))
        .sum();
    if findings
        .iter()
        .any(|f| f.finding.severity == Severity::Error)
    {
        confidence = confidence.min(CAP_WITH_ERRORS);
    }
    if thin {
        confidence = confidence.min(THIN_INPUT_CAP);
    }
    if copy.opening.trim().is_empty() {
        confidence = confidence.min(0.3);
    }
    ValidationReport {
        scores,
        findings,
        claims_checked: claims,
        reading_grade: grade,
        confidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(title: &str, description: &str) -> Product {
        let input: vitrine_core::ProductInput = serde_json::from_value(serde_json::json!({
            "id": "p", "title": title, "description": description, "price": "10", "currency": "USD",
            "inventory": {"quantity": 1}
        }))
        .expect("product");
        input.validate(chrono::Utc::now()).expect("valid")
    }

    #[test]
    fn a_title_only_product_gets_minimal_copy_that_waits_for_a_person() {
        let p = product("Blue mug", "");
        let copy = crate::copy::assemble(
            &p,
            "A blue mug for your morning coffee.",
            &BrandVoice::default(),
        );
        let r = validate(&p, &copy, &BrandVoice::default(), &[]);
        assert!(r.findings.iter().any(|f| f.finding.code == "thin_input"));
        assert!(r.confidence <= THIN_INPUT_CAP);
    }

    #[test]
    fn a_50000_character_description_is_validated_without_trouble() {
        let long =
            "Blue cotton shirt with a spread collar, long sleeves and two pockets. ".repeat(720);
        assert!(long.len() >= 50_000);
        let p = product("Blue shirt", &long);
        let copy = crate::copy::assemble(
            &p,
            "A blue cotton shirt.\n\nMachine wash.",
            &BrandVoice::default(),
        );
        assert!(copy.bullets.len() <= BrandVoice::default().lengths.bullets.max);
        let messages = crate::prompt::messages(&p, &BrandVoice::default(), &[], &[]);
        assert!(
            messages[1].content.len() < 2_000,
            "the prompt carries a bounded slice of the description"
        );
        let r = validate(&p, &copy, &BrandVoice::default(), &[]);
        assert!(!r.has_fact_findings(), "{:?}", r.findings);
    }
}
