//! Synonyms applied at query time (so changing them needs no reindex): a query word also retrieves its
//! alternatives, at a lower weight than the word itself.

use crate::normalize;
use std::collections::HashMap;

/// The synonyms shipped with Vitrine, used when the config names no file.
pub const DEFAULT_SYNONYMS: &str = include_str!("../data/synonyms.txt");

/// Phrase → alternatives.
#[derive(Debug, Clone, Default)]
pub struct Synonyms {
    map: HashMap<String, Vec<String>>,
    longest: usize,
}

/// A line of a synonyms file that could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("synonyms line {line}: {reason}")]
pub struct SynonymError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

impl Synonyms {
    /// Parses the file format described in `data/synonyms.txt`.
    pub fn parse(text: &str) -> Result<Self, SynonymError> {
        let mut s = Self::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason: &str| SynonymError {
                line: i + 1,
                reason: reason.to_string(),
            };
            let (sources, targets): (Vec<String>, Vec<String>) = match line.split_once("=>") {
                Some((l, r)) => (split(l), split(r)),
                None => {
                    let all = split(line);
                    (all.clone(), all)
                }
            };
            if sources.is_empty()
                || targets.is_empty()
                || (targets.len() < 2 && !line.contains("=>"))
            {
                return Err(err("expected `a, b` or `a => b`"));
            }
            for src in &sources {
                let alts = s.map.entry(src.clone()).or_default();
                for t in &targets {
                    if t != src && !alts.contains(t) {
                        alts.push(t.clone());
                    }
                }
                s.longest = s.longest.max(src.split(' ').count());
            }
        }
        Ok(s)
    }

    /// The shipped defaults.
    pub fn defaults() -> Self {
        Self::parse(DEFAULT_SYNONYMS).unwrap_or_default()
    }

    /// Alternatives for the phrases found in `words`: (start, length, alternatives), longest match first.
    pub fn expansions(&self, words: &[&str]) -> Vec<(usize, usize, Vec<String>)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let mut step = 1;
            for n in (1..=self.longest.min(words.len() - i)).rev() {
                let key = words[i..i + n].join(" ");
                if let Some(alts) = self.map.get(&key) {
                    out.push((i, n, alts.clone()));
                    step = n;
                    break;
                }
            }
            i += step;
        }
        out
    }

    /// Number of phrases with alternatives.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

fn split(s: &str) -> Vec<String> {
    s.split(',')
        .map(normalize::phrase)
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalences_and_one_way_rules() {
        let s = Synonyms::parse("sofa, couch\nac => air conditioner\n# comment\n").unwrap();
        assert_eq!(
            s.expansions(&["red", "sofa"]),
            vec![(1, 1, vec!["couch".to_string()])]
        );
        assert_eq!(s.expansions(&["couch"])[0].2, ["sofa"]);
        assert_eq!(s.expansions(&["ac", "unit"])[0].2, ["air conditioner"]);
        assert!(s.expansions(&["air", "conditioner"]).is_empty());
    }

    #[test]
    fn bad_lines_name_their_number() {
        let e = Synonyms::parse("sofa, couch\nlonely\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(Synonyms::defaults().len() > 20);
    }
}
