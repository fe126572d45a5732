//! The validation report: findings that point at text, a score per check, and one overall confidence.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look; does not block publishing by itself.
    Info,
    /// Lowers confidence; a reviewer should check it.
    Warning,
    /// Must be fixed before publishing.
    Error,
}

/// One problem found in the copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// `facts`, `voice`, `readability`, `seo`, `injection`.
    pub check: String,
    /// Machine-readable kind, e.g. `colour_contradicted`, `banned_term`.
    pub code: String,
    /// How bad it is.
    pub severity: Severity,
    /// Byte span in the section's text, when the finding is about a piece of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span: Option<Range<usize>>,
    /// The text of the span (or the offending value).
    pub text: String,
    /// What is wrong, for the reviewer.
    pub message: String,
}

/// A finding located in one section of the copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocatedFinding {
    /// `title`, `opening`, `bullets`, `closing`, `meta_description`, or `input` (the product data).
    pub section: String,
    /// The finding (its span is within that section).
    #[serde(flatten)]
    pub finding: Finding,
}

/// Every check's result for one version of the copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationReport {
    /// Score per check, 0–1.
    pub scores: BTreeMap<String, f64>,
    /// All findings, in section order.
    pub findings: Vec<LocatedFinding>,
    /// Claims the fact checker examined.
    pub claims_checked: usize,
    /// Flesch–Kincaid grade of the body text.
    pub reading_grade: f64,
    /// Overall confidence, 0–1: what auto-publishing compares with its threshold.
    pub confidence: f64,
}

impl ValidationReport {
    /// Whether any fact finding was raised.
    pub fn has_fact_findings(&self) -> bool {
        self.findings.iter().any(|f| f.finding.check == "facts")
    }

    /// Whether any error-level finding was raised (blocks auto-publishing).
    pub fn has_errors(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.finding.severity == Severity::Error)
    }

    /// Findings as short lines, fed back to the model when every candidate failed.
    pub fn feedback_lines(&self, max: usize) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.finding.severity >= Severity::Warning)
            .take(max)
            .map(|f| format!("{}: {}", f.section, f.finding.message))
            .collect()
    }
}
