//! SEO: keyword coverage, meta description length and keyword stuffing.

use super::voice::find_phrase;
use crate::report::{Finding, Severity};
use crate::text;

/// Most uses of one keyword before it counts as stuffing.
const MAX_USES: usize = 3;
/// Largest share of the copy's words one keyword may take.
const MAX_DENSITY: f64 = 0.06;

fn finding(code: &str, severity: Severity, text: &str, message: String) -> Finding {
    Finding {
        check: "seo".into(),
        code: code.into(),
        severity,
        span: None,
        text: text.into(),
        message,
    }
}

/// SEO findings and score (coverage share, minus penalties) for the whole copy.
pub fn check(
    all_text: &str,
    meta: &str,
    keywords: &[String],
    meta_max: usize,
) -> (Vec<Finding>, f64) {
    let mut out = Vec::new();
    let words = text::words(all_text).len().max(1);
    let mut covered = 0;
    for k in keywords {
        let uses = find_phrase(all_text, k).len();
        if uses == 0 {
            out.push(finding(
                "keyword_missing",
                Severity::Info,
                k,
                format!("keyword \"{k}\" does not appear"),
            ));
        } else {
            covered += 1;
        }
        let density = (uses * text::words(k).len()) as f64 / words as f64;
        if uses > MAX_USES || (uses > 1 && density > MAX_DENSITY) {
            out.push(finding(
                "keyword_stuffing",
                Severity::Warning,
                k,
                format!(
                    "keyword \"{k}\" used {uses} times ({:.0}% of words)",
                    density * 100.0
                ),
            ));
        }
    }
    let meta_len = meta.chars().count();
    if meta_len > meta_max {
        out.push(finding(
            "meta_too_long",
            Severity::Error,
            meta,
            format!("meta description has {meta_len} characters; at most {meta_max}"),
        ));
    }
    if meta_len == 0 {
        out.push(finding(
            "meta_missing",
            Severity::Error,
            "",
            "no meta description".into(),
        ));
    }
    let coverage = if keywords.is_empty() {
        1.0
    } else {
        covered as f64 / keywords.len() as f64
    };
    let penalty = out
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .count() as f64
        * 0.25;
    (out, (0.5 + 0.5 * coverage - penalty).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_meta_and_stuffing() {
        let kw = vec!["cropped jeans".to_string(), "pink".to_string()];
        let (f, s) = check(
            "Pink cropped jeans for summer.",
            "Pink cropped jeans.",
            &kw,
            160,
        );
        assert!(f.is_empty() && s == 1.0);
        let stuffed = "pink pink pink pink jeans";
        let (f, _) = check(stuffed, &"x".repeat(200), &kw, 160);
        let codes: Vec<&str> = f.iter().map(|f| f.code.as_str()).collect();
        assert!(codes.contains(&"keyword_stuffing") && codes.contains(&"meta_too_long"));
    }
}
