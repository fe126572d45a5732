//! Banned phrases, enforced while decoding: a candidate token that would complete a banned phrase has its
//! logit masked and another token is sampled. Checking the decoded text (not token ids) catches every
//! tokenisation of the phrase ("waterproof", " Water"+"proof", …).

/// A compiled list of banned phrases.
#[derive(Debug, Clone, Default)]
pub struct BannedPhrases {
    phrases: Vec<String>,
    longest: usize,
}

impl BannedPhrases {
    /// Lower-cases and trims the phrases.
    pub fn new(phrases: &[String]) -> Self {
        let phrases: Vec<String> = phrases
            .iter()
            .map(|p| p.trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        let longest = phrases.iter().map(|p| p.chars().count()).max().unwrap_or(0);
        Self { phrases, longest }
    }

    /// Whether there is nothing to enforce.
    pub fn is_empty(&self) -> bool {
        self.phrases.is_empty()
    }

    /// Whether `text` contains a banned phrase starting at a word boundary that ends after `safe_prefix`
    /// characters (only the newly decoded tail needs checking).
    pub fn violated_by(&self, text: &str, safe_prefix_chars: usize) -> bool {
        if self.phrases.is_empty() {
            return false;
        }
        let lower: Vec<char> = text.to_lowercase().chars().collect();
        let start = safe_prefix_chars.saturating_sub(self.longest + 1);
        let window: String = lower[start.min(lower.len())..].iter().collect();
        for p in &self.phrases {
            let mut from = 0;
            while let Some(pos) = window[from..].find(p.as_str()) {
                let at = from + pos;
                let before = window[..at].chars().next_back();
                let boundary = before.is_none_or(|c| !c.is_alphanumeric());
                // Only occurrences that end in the new tail count; earlier text was already accepted.
                let end_chars = start + window[..at + p.len()].chars().count();
                if boundary && end_chars > safe_prefix_chars {
                    return true;
                }
                from = at + p.len().max(1);
                if from >= window.len() {
                    break;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_case_insensitively_at_word_starts_in_the_new_tail() {
        let b = BannedPhrases::new(&["cheap".into(), "best in class".into()]);
        assert!(b.violated_by("A really Cheap", 8));
        assert!(!b.violated_by("A really ", 5));
        assert!(
            !b.violated_by("Not so incheap", 10),
            "inside a word is not a match"
        );
        assert!(b.violated_by("It is Best in Class", 15));
        assert!(
            !b.violated_by("cheap old text, new tail", 20),
            "earlier text was already accepted"
        );
    }
}
