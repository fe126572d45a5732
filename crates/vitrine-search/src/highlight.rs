//! Highlighted titles (`highlight=true`): the words of a result's title that match what was searched,
//! marked for display.
//!
//! Why in the engine and not in the shop's front end: a match is decided as the text index decides
//! it (English stems, so "shirts" marks "Shirt"), after the speller's corrections, which a front end
//! cannot reproduce. The output is ready-to-insert HTML: the title is escaped and only the engine's
//! own `<mark>` tags are markup, so a title containing markup cannot inject any.

use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};

/// The text index's word analysis (tantivy's `en_stem`: split, drop words over 40 bytes,
/// lower-case, English stem).
fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The stems of what was searched, to mark in titles.
#[derive(Debug, Default, Clone)]
pub struct Highlighter {
    stems: Vec<String>,
}

impl Highlighter {
    /// Stems of `searched`: the query's relevance words (after corrections) and the values of its
    /// understood constraints ("navy" in "navy shirt under $40").
    pub fn new<'a>(searched: impl IntoIterator<Item = &'a str>) -> Self {
        let mut analyzer = analyzer();
        let mut stems = Vec::new();
        for text in searched {
            let mut tokens = analyzer.token_stream(text);
            while tokens.advance() {
                stems.push(tokens.token().text.clone());
            }
        }
        stems.sort_unstable();
        stems.dedup();
        Self { stems }
    }

    /// `title` as HTML: escaped, with each word whose stem was searched wrapped in `<mark>`.
    pub fn mark(&self, title: &str) -> String {
        let mut out = String::with_capacity(title.len() + 16);
        let mut at = 0;
        let mut analyzer = analyzer();
        let mut tokens = analyzer.token_stream(title);
        while tokens.advance() {
            let t = tokens.token();
            if self.stems.binary_search(&t.text).is_err() {
                continue;
            }
            let (from, to) = (t.offset_from, t.offset_to);
            if from < at || to > title.len() {
                continue;
            }
            escape_into(&title[at..from], &mut out);
            out.push_str("<mark>");
            escape_into(&title[from..to], &mut out);
            out.push_str("</mark>");
            at = to;
        }
        escape_into(&title[at..], &mut out);
        out
    }
}

/// Appends `text` with the five HTML-significant characters escaped.
fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_whole_words_by_stem() {
        let h = Highlighter::new(["linen shirts", "navy"]);
        assert_eq!(
            h.mark("Men's Navy Linen Shirt"),
            "Men&#39;s <mark>Navy</mark> <mark>Linen</mark> <mark>Shirt</mark>"
        );
        assert_eq!(
            Highlighter::new(["men"]).mark("Women's Shorts"),
            "Women&#39;s Shorts",
            "a word inside another is no match"
        );
    }

    #[test]
    fn a_title_cannot_inject_markup() {
        let h = Highlighter::new(["script"]);
        assert_eq!(
            h.mark("<script>alert(1)</script> & co"),
            "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; &amp; co"
        );
        assert_eq!(
            Highlighter::default().mark("Café \"Crème\""),
            "Café &quot;Crème&quot;"
        );
    }

    proptest::proptest! {
        /// Whatever the title, removing the marks and unescaping gives the title back.
        #[test]
        fn marks_only_add_markup(title in "\\PC{0,60}", query in "[a-z ]{0,20}") {
            let marked = Highlighter::new([query.as_str()]).mark(&title);
            let plain = marked
                .replace("<mark>", "")
                .replace("</mark>", "")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
            proptest::prop_assert_eq!(plain, title);
        }
    }
}
