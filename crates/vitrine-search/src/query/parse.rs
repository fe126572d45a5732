//! The query parser. It works on words, not characters, so "under armour" is a brand and "not" inside
//! "knot" is nothing; the catalog vocabulary decides which words are constraints.

use super::{parse_price, AttributeConstraint, Exclusion, ParsedQuery, PriceConstraint, SortOrder};
use crate::normalize::{is_stop_word, tokens};
use crate::vocab::{Vocabulary, MAX_PHRASE_WORDS};

/// Characters of a query that are interpreted; the rest of a very long query is ignored.
pub const MAX_QUERY_CHARS: usize = 512;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    /// Punctuation or a removed expression: ends a negation's scope.
    Break,
}

fn tokenize(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    for piece in text.split_inclusive([',', ';', '.', '|', '(', ')', '/', '!', '?']) {
        let ends_with_break = piece
            .chars()
            .last()
            .is_some_and(|c| ",;.|()/!?".contains(c));
        out.extend(tokens(piece).into_iter().map(Tok::Word));
        if ends_with_break {
            out.push(Tok::Break);
        }
    }
    out
}

const NEGATIONS: &[&str] = &[
    "without",
    "no",
    "not",
    "except",
    "excluding",
    "minus",
    "non",
];
const CHEAP: &[&str] = &["cheap", "affordable", "budget", "inexpensive", "economical"];

/// Multi-word operators: (words, sort, in_stock).
const OPERATORS: &[(&[&str], Option<SortOrder>, bool)] = &[
    (&["cheapest"], Some(SortOrder::PriceAsc), false),
    (&["lowest", "price"], Some(SortOrder::PriceAsc), false),
    (&["least", "expensive"], Some(SortOrder::PriceAsc), false),
    (&["most", "expensive"], Some(SortOrder::PriceDesc), false),
    (&["priciest"], Some(SortOrder::PriceDesc), false),
    (&["highest", "price"], Some(SortOrder::PriceDesc), false),
    (&["newest"], Some(SortOrder::Newest), false),
    (&["latest"], Some(SortOrder::Newest), false),
    (&["new", "arrivals"], Some(SortOrder::Newest), false),
    (&["best", "rated"], Some(SortOrder::Rating), false),
    (&["top", "rated"], Some(SortOrder::Rating), false),
    (&["highest", "rated"], Some(SortOrder::Rating), false),
    (&["in", "stock"], None, true),
    (&["available", "now"], None, true),
    (&["ready", "to", "ship"], None, true),
    (&["available"], None, true),
];

fn words_at(toks: &[Tok], i: usize, n: usize) -> Option<Vec<&str>> {
    let mut out = Vec::with_capacity(n);
    for t in toks.get(i..i + n)? {
        match t {
            Tok::Word(w) => out.push(w.as_str()),
            Tok::Break => return None,
        }
    }
    Some(out)
}

/// Parses `query` against the catalog's vocabulary.
pub fn parse_query(query: &str, vocab: &Vocabulary) -> ParsedQuery {
    let original: String = query.trim().chars().take(MAX_QUERY_CHARS).collect();
    let mut lower = original.to_lowercase();
    let mut parsed = ParsedQuery {
        original: original.clone(),
        ..Default::default()
    };

    if let Some(m) = parse_price(&lower) {
        parsed.price = Some(PriceConstraint {
            min: m.min,
            max: m.max,
        });
        if lower.is_char_boundary(m.span.0) && lower.is_char_boundary(m.span.1) {
            lower.replace_range(m.span.0..m.span.1, " , ");
        }
    }

    let toks = tokenize(&lower);
    let mut keep = vec![true; toks.len()];
    let first_word = toks.iter().position(|t| matches!(t, Tok::Word(_)));

    // Sort and stock operators, longest first.
    let mut i = 0;
    while i < toks.len() {
        let mut consumed = 0;
        for (words, sort, stock) in OPERATORS {
            if words_at(&toks, i, words.len()).is_some_and(|w| w == *words) {
                if sort.is_some() {
                    parsed.sort = *sort;
                }
                parsed.in_stock |= *stock;
                consumed = words.len();
                break;
            }
        }
        if consumed == 0 {
            if let Some(Tok::Word(w)) = toks.get(i) {
                if CHEAP.contains(&w.as_str()) {
                    parsed.cheap = true;
                    consumed = 1;
                }
            }
        }
        for k in keep.iter_mut().skip(i).take(consumed) {
            *k = false;
        }
        i += consumed.max(1);
    }

    // Negations: the following words up to punctuation, another negation or three words.
    let mut i = 0;
    while i < toks.len() {
        let Tok::Word(w) = &toks[i] else {
            i += 1;
            continue;
        };
        let leading = Some(i) == first_word && w != "without" && w != "non";
        if !keep[i] || !NEGATIONS.contains(&w.as_str()) || leading {
            i += 1;
            continue;
        }
        let mut scope = Vec::new();
        let mut j = i + 1;
        while j < toks.len() && scope.len() < 3 {
            match &toks[j] {
                Tok::Word(x) if keep[j] && !NEGATIONS.contains(&x.as_str()) => {
                    if is_stop_word(x) && !scope.is_empty() {
                        break;
                    }
                    if !is_stop_word(x) {
                        scope.push((j, x.clone()));
                    }
                }
                _ => break,
            }
            j += 1;
        }
        if scope.is_empty() {
            i += 1;
            continue;
        }
        // The longest catalog value at the start of the scope, else the literal words.
        let mut taken = None;
        for n in (1..=scope.len().min(MAX_PHRASE_WORDS)).rev() {
            let phrase: Vec<&str> = scope[..n].iter().map(|(_, w)| w.as_str()).collect();
            let phrase = phrase.join(" ");
            if let Some(e) = vocab.lookup(&phrase).and_then(|e| e.first()) {
                taken = Some((
                    n,
                    Exclusion {
                        name: Some(e.name.clone()),
                        value: e.value.clone(),
                    },
                ));
                break;
            }
        }
        if taken.is_none() && w == "non" {
            // "non-stick", "non-slip": a feature, not an exclusion, unless it names a catalog value.
            i += 1;
            continue;
        }
        let (n, exclusion) = taken.unwrap_or_else(|| {
            let n = scope.len().min(2);
            let value = scope[..n]
                .iter()
                .map(|(_, w)| w.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            (n, Exclusion { name: None, value })
        });
        parsed.exclusions.push(exclusion);
        keep[i] = false;
        let last = scope[n - 1].0;
        for k in keep.iter_mut().take(last + 1).skip(i) {
            *k = false;
        }
        i = last + 1;
    }

    // Attribute values from the catalog vocabulary, longest phrase first.
    let mut i = 0;
    while i < toks.len() {
        if !keep[i] {
            i += 1;
            continue;
        }
        let mut matched = 0;
        for n in (1..=MAX_PHRASE_WORDS).rev() {
            let Some(words) = words_at(&toks, i, n) else {
                continue;
            };
            if (i..i + n).any(|k| !keep[k]) || (n == 1 && is_stop_word(words[0])) {
                continue;
            }
            let phrase = words.join(" ");
            let numeric = phrase.chars().all(|c| c.is_ascii_digit() || c == ' ');
            let after_size = i > 0 && toks[i - 1] == Tok::Word("size".into());
            let entries = if n == 1 {
                vocab
                    .lookup(&phrase)
                    .or_else(|| singular(&phrase).and_then(|s| vocab.lookup(&s)))
            } else {
                vocab.lookup(&phrase)
            };
            let Some(entries) = entries else { continue };
            let entry = if numeric {
                if !after_size {
                    continue;
                }
                entries.iter().find(|e| e.name == "size")
            } else {
                entries.first()
            };
            let Some(e) = entry else { continue };
            if !parsed
                .attributes
                .iter()
                .any(|a| a.name == e.name && a.value == e.value)
            {
                parsed.attributes.push(AttributeConstraint {
                    name: e.name.clone(),
                    value: e.value.clone(),
                    display: e.display.clone(),
                    matched: phrase.clone(),
                });
            }
            if numeric {
                // "size 10": neither word helps text relevance.
                keep[i - 1] = false;
                for k in keep.iter_mut().skip(i).take(n) {
                    *k = false;
                }
            }
            matched = n;
            break;
        }
        i += matched.max(1);
    }

    parsed.text = toks
        .iter()
        .zip(&keep)
        .filter_map(|(t, k)| match t {
            Tok::Word(w) if *k && !is_stop_word(w) => Some(w.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ");
    parsed
}

/// "shirts" → "shirt", "dresses" → "dress", so plural queries meet singular catalog values.
fn singular(word: &str) -> Option<String> {
    if word.len() > 4 && word.ends_with("sses") {
        Some(word[..word.len() - 2].to_string())
    } else if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        Some(word[..word.len() - 1].to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::SearchDoc;
    use serde_json::json;

    fn catalog() -> Vocabulary {
        let rows = [
            (
                "1",
                "Roadster Men Navy Blue Linen Shirt",
                "Roadster",
                "men",
                "navy blue",
                "linen",
                "shirt",
            ),
            (
                "2",
                "HRX Women Black Running Shoes",
                "HRX",
                "women",
                "black",
                "mesh",
                "shoes",
            ),
            (
                "3",
                "Puma Men White Sneakers",
                "Puma",
                "men",
                "white",
                "leather",
                "shoes",
            ),
            (
                "4",
                "Under Armour Men Grey Hoodie",
                "Under Armour",
                "men",
                "grey",
                "cotton",
                "hoodie",
            ),
        ];
        let docs: Vec<SearchDoc> = rows
            .iter()
            .map(|(id, title, brand, gender, colour, material, cat)| {
                let p: vitrine_core::ProductInput = serde_json::from_value(json!({
                    "id": id, "title": title, "brand": brand, "price": "10", "currency": "USD",
                    "category": [cat],
                    "attributes": {"gender": gender, "colour": colour, "material": material, "size": ["10", "M"]}
                }))
                .unwrap();
                SearchDoc::from_product(&p.validate(chrono::Utc::now()).unwrap())
            })
            .collect();
        Vocabulary::build(docs.iter())
    }

    #[test]
    fn the_issue_examples() {
        let v = catalog();
        let q = parse_query("waterproof hiking boots for men under $120", &v);
        assert_eq!(
            q.price,
            Some(PriceConstraint {
                min: None,
                max: Some(120.0)
            })
        );
        assert_eq!(q.attributes.len(), 1);
        assert_eq!(
            (
                q.attributes[0].name.as_str(),
                q.attributes[0].value.as_str()
            ),
            ("gender", "men")
        );
        assert_eq!(q.text, "waterproof hiking boots men");

        let q = parse_query("navy linen shirt, not slim fit", &v);
        assert_eq!(
            q.exclusions,
            vec![Exclusion {
                name: None,
                value: "slim fit".into()
            }]
        );
        let names: Vec<_> = q.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["material", "category"]);
        assert_eq!(q.text, "navy linen shirt");
    }

    #[test]
    fn attributes_negation_sort_stock() {
        let v = catalog();
        let q = parse_query("men's navy blue running shoes size 10", &v);
        let got: Vec<_> = q
            .attributes
            .iter()
            .map(|a| (a.name.as_str(), a.value.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("gender", "men"),
                ("colour", "navy blue"),
                ("category", "shoes"),
                ("size", "10")
            ]
        );
        assert_eq!(q.text, "men navy blue running shoes");

        let q = parse_query("cheapest sneakers without leather in stock", &v);
        assert_eq!(q.sort, Some(SortOrder::PriceAsc));
        assert!(q.in_stock);
        assert_eq!(
            q.exclusions,
            vec![Exclusion {
                name: Some("material".into()),
                value: "leather".into()
            }]
        );

        let q = parse_query("non-leather shoes", &v);
        assert_eq!(q.exclusions[0].value, "leather");
        let q = parse_query("non-stick pan", &v);
        assert!(q.exclusions.is_empty());
        assert_eq!(q.text, "non stick pan");
        let q = parse_query("no mow grass seed", &v);
        assert!(
            q.exclusions.is_empty(),
            "a leading 'no' is part of the product name"
        );

        let q = parse_query("under armour hoodie", &v);
        assert_eq!(q.price, None);
        assert_eq!(q.attributes[0].name, "brand");
        let q = parse_query("cheap womens gray hoodie", &v);
        assert!(q.cheap);
        let got: Vec<_> = q.attributes.iter().map(|a| a.value.as_str()).collect();
        assert_eq!(got, ["women", "grey", "hoodie"]);
    }

    #[test]
    fn hostile_input() {
        let v = catalog();
        for q in [
            "",
            "   ",
            "\"unbalanced",
            "title:foo AND (bar",
            "the of and",
            "no",
            "not not not",
            "$-$",
        ] {
            let _ = parse_query(q, &v);
        }
        let long = "shoe ".repeat(2_000);
        assert!(parse_query(&long, &v).original.chars().count() <= MAX_QUERY_CHARS);
        assert_eq!(parse_query("the of and", &v).text, "");
    }
}
