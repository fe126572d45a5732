//! Text normalisation shared by indexing, query understanding and filters, so a value written in the
//! catalog and the same value typed by a shopper meet in the same form.

/// Lower-cased alphanumeric tokens; possessives (`men's`) lose their `'s`, so "men's shoes" and
/// "mens shoes" both reach the gender value "men".
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase().filter(|l| l.is_alphanumeric()));
        } else if (c == '\'' || c == '’') && !current.is_empty() {
            // "men's" → "men"; "o'neill" keeps both halves as one word.
            let next = chars.peek().copied();
            if matches!(next, Some('s') | Some('S')) {
                chars.next();
                let after = chars.peek().copied();
                if after.is_some_and(|a| a.is_alphanumeric()) {
                    current.push('s');
                }
            }
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The canonical form of a phrase: its tokens joined by single spaces.
pub fn phrase(text: &str) -> String {
    tokens(text).join(" ")
}

/// A padded form (" a b c ") in which whole-phrase containment is a plain substring test.
pub fn padded(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push(' ');
    s.push_str(&phrase(text));
    s.push(' ');
    s
}

/// Whether `haystack_padded` (from [`padded`]) contains the normalised `needle` as whole words.
pub fn contains_phrase(haystack_padded: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    // No allocation: this runs per candidate product and constraint during filtered graph search.
    // Overlapping occurrences are all tried ("a a" in " xa a a " matches at the second one).
    let bytes = haystack_padded.as_bytes();
    let step = needle.chars().next().map_or(1, char::len_utf8);
    let mut from = 0;
    while let Some(i) = haystack_padded.get(from..).and_then(|h| h.find(needle)) {
        let at = from + i;
        if at > 0 && bytes[at - 1] == b' ' && bytes.get(at + needle.len()) == Some(&b' ') {
            return true;
        }
        from = at + step;
    }
    false
}

/// Stable 64-bit key of a SKU: the identity shared by the text index, the vector index and the doc table,
/// stable across restarts without a separate id map (FNV-1a; collisions are checked at insert).
pub fn doc_key(sku: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sku.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // usearch reserves u64::MAX as "no key".
    h & 0x7fff_ffff_ffff_ffff
}

/// Hash of a text, used to skip re-embedding products whose searchable text did not change.
pub fn text_hash(text: &str) -> u64 {
    doc_key(text)
}

/// The numbers of a size written as one word ("9x12" → ["9", "12"], "2x4x8" → three), or `None` for
/// any other word. Shoppers glue sizes together; titles write "9 ft. x 12 ft.", so the text index holds
/// the numbers as words of their own and never the glued form.
pub fn size_parts(word: &str) -> Option<Vec<&str>> {
    let parts: Vec<&str> = word.split('x').collect();
    let numeric = |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
    (parts.len() >= 2 && parts.iter().all(numeric)).then_some(parts)
}

/// Units of measure ("lb", "inches", "gallons"): the number before one is not a price, and the
/// speller never "corrects" one into a title word (titles write "in.", shoppers "inches").
pub fn is_measure_unit(word: &str) -> bool {
    let w = word.trim().trim_matches(|c: char| !c.is_alphanumeric());
    matches!(
        w,
        "lb" | "lbs"
            | "kg"
            | "g"
            | "oz"
            | "in"
            | "inch"
            | "inches"
            | "ft"
            | "feet"
            | "foot"
            | "cm"
            | "mm"
            | "m"
            | "gal"
            | "gallon"
            | "gallons"
            | "qt"
            | "l"
            | "ml"
            | "w"
            | "watt"
            | "watts"
            | "v"
            | "volt"
            | "volts"
            | "amp"
            | "amps"
            | "a"
            | "btu"
            | "sq"
            | "pcs"
            | "pieces"
            | "pack"
            | "piece"
            | "yards"
            | "yd"
            | "hp"
            | "gb"
            | "tb"
            | "mph"
            | "psi"
            | "x"
            | "degree"
            | "degrees"
            | "years"
            | "year"
            | "minutes"
            | "hours"
            | "people"
            | "person"
            | "seater"
            | "seats"
            | "cup"
            | "cups"
    ) || word.trim_start().starts_with('"')
        || word.trim_start().starts_with('\'')
}

/// Words that carry no meaning for retrieval in a shopping query.
pub fn is_stop_word(token: &str) -> bool {
    matches!(
        token,
        "a" | "an"
            | "the"
            | "for"
            | "with"
            | "of"
            | "and"
            | "or"
            | "in"
            | "on"
            | "to"
            | "by"
            | "at"
            | "is"
            | "are"
            | "i"
            | "me"
            | "my"
            | "want"
            | "need"
            | "looking"
            | "some"
            | "any"
            | "that"
            | "this"
            | "it"
            | "from"
            | "be"
            | "please"
            | "show"
            | "find"
    )
}

/// How many typing errors a query word may be read through (`None`: the word must match exactly).
/// Short words and words with digits are too often codes, sizes or abbreviations; long words carry
/// enough letters for two. Shared by the speller and the text index's fuzzy fallback so both forgive
/// the same words.
pub fn typo_edits(word: &str) -> Option<usize> {
    let letters = word.chars().count();
    if letters < 5 || word.chars().any(|c| c.is_ascii_digit()) {
        None
    } else if letters >= 9 {
        Some(2)
    } else {
        Some(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn possessives_and_punctuation() {
        assert_eq!(
            tokens("Men's Navy-Blue T-Shirt!"),
            ["men", "navy", "blue", "t", "shirt"]
        );
        assert_eq!(tokens("O'Neill"), ["oneill"]);
        assert_eq!(tokens("it’s"), ["it"]);
        assert_eq!(phrase("  Navy   BLUE "), "navy blue");
    }

    #[test]
    fn whole_word_containment() {
        let h = padded("Roadster Men Navy Blue Shirt");
        assert!(contains_phrase(&h, "navy blue"));
        assert!(!contains_phrase(&h, "avy blue"));
        assert!(!contains_phrase(&h, ""));
        assert!(
            contains_phrase(" xa a a ", "a a"),
            "an overlapping later occurrence counts"
        );
        assert!(contains_phrase(" café crème ", "crème"));
        assert!(!contains_phrase(" cafécrème ", "crème"));
    }

    #[test]
    fn glued_sizes_split_into_their_numbers() {
        assert_eq!(size_parts("9x12"), Some(vec!["9", "12"]));
        assert_eq!(size_parts("2x4x8"), Some(vec!["2", "4", "8"]));
        for not_a_size in ["x12", "9x", "xx", "12", "wm624", "9xl", "4x4truck"] {
            assert_eq!(size_parts(not_a_size), None, "{not_a_size}");
        }
    }

    proptest! {
        #[test]
        fn size_parts_are_the_numbers_of_the_word(s in "[0-9x]{0,12}") {
            if let Some(parts) = size_parts(&s) {
                prop_assert!(parts.len() >= 2);
                prop_assert_eq!(parts.join("x"), s.clone());
                prop_assert!(parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit())));
            }
        }

        #[test]
        fn tokens_never_panic_and_are_lowercase_alnum(s in "\\PC{0,200}") {
            for t in tokens(&s) {
                prop_assert!(!t.is_empty());
                prop_assert!(t.chars().all(|c| c.is_alphanumeric()));
            }
        }
    }
}
