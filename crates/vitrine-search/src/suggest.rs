//! Autocomplete from what shoppers searched (popularity), from the catalog's own values (brands,
//! categories, colours…) and from the words and phrases its titles share ([`TitleTerms`]), so a new
//! store suggests sensible things before it has any search history.

use crate::normalize;
use crate::title_terms::TitleTerms;
use crate::vocab::Vocabulary;
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// One completion.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Suggestion {
    /// The completed text.
    pub text: String,
    /// `query` (searched before), the attribute it names (`brand`, `colour`, …), or `title` (words
    /// or a phrase that several product titles use).
    pub source: String,
    /// Times searched, or products carrying the value or using the title term.
    pub count: u32,
}

/// Completions of `prefix` (normalised, whole-word aware: "nav bl" completes "navy blue shirt"):
/// popular queries first, then catalog values, then title terms, each most used first, no text twice.
pub fn suggest(
    prefix: &str,
    limit: usize,
    popular: &HashMap<String, u32>,
    vocab: &Vocabulary,
    titles: &TitleTerms,
) -> Vec<Suggestion> {
    let p = normalize::phrase(prefix);
    if p.is_empty() || limit == 0 {
        return Vec::new();
    }
    let mut out: Vec<Suggestion> = popular
        .iter()
        .filter(|(q, _)| completes(q, &p))
        .map(|(q, c)| Suggestion {
            text: q.clone(),
            source: "query".into(),
            count: *c,
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then(a.text.cmp(&b.text)));
    out.truncate(limit);
    let mut values: Vec<Suggestion> = vocab
        .entries()
        .filter(|e| completes(&e.value, &p))
        .filter(|e| !out.iter().any(|s| s.text == e.value))
        .map(|e| Suggestion {
            text: e.value.clone(),
            source: e.name.clone(),
            count: e.count,
        })
        .collect();
    values.sort_by(|a, b| b.count.cmp(&a.count).then(a.text.cmp(&b.text)));
    out.extend(values.into_iter().take(limit - out.len().min(limit)));
    if out.len() < limit {
        for (text, count) in titles.completions(&p) {
            if out.len() == limit {
                break;
            }
            if out.iter().all(|s| s.text != text) {
                out.push(Suggestion {
                    text: text.to_string(),
                    source: "title".into(),
                    count,
                });
            }
        }
    }
    out.truncate(limit);
    out
}

/// Whether each typed word is a prefix of the corresponding word of `candidate`.
pub(crate) fn completes(candidate: &str, typed: &str) -> bool {
    let mut cw = candidate.split(' ');
    typed
        .split(' ')
        .all(|t| cw.next().is_some_and(|c| c.starts_with(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_prefixes_and_popularity_first() {
        let mut popular = HashMap::new();
        popular.insert("navy blue shirt".to_string(), 5);
        popular.insert("navy chinos".to_string(), 9);
        popular.insert("red dress".to_string(), 50);
        let v = Vocabulary::default();
        let t = TitleTerms::default();
        let s = suggest("Nav", 5, &popular, &v, &t);
        assert_eq!(
            s.iter().map(|x| x.text.as_str()).collect::<Vec<_>>(),
            ["navy chinos", "navy blue shirt"]
        );
        let s = suggest("nav bl", 5, &popular, &v, &t);
        assert_eq!(s[0].text, "navy blue shirt");
        assert!(suggest("", 5, &popular, &v, &t).is_empty());
    }

    #[test]
    fn title_terms_follow_queries_and_values_without_repeating_them() {
        let docs = [
            crate::test_support::doc("1", "Navy Linen Shirt"),
            crate::test_support::doc("2", "Navy Linen Shorts"),
        ];
        let titles = TitleTerms::build(docs.iter());
        let mut popular = HashMap::new();
        popular.insert("navy linen".to_string(), 3);
        let s = suggest("nav", 5, &popular, &Vocabulary::default(), &titles);
        let got: Vec<(&str, &str)> = s
            .iter()
            .map(|x| (x.text.as_str(), x.source.as_str()))
            .collect();
        assert_eq!(got, [("navy linen", "query"), ("navy", "title")]);
        assert_eq!(
            suggest("nav", 1, &popular, &Vocabulary::default(), &titles).len(),
            1
        );
    }
}
