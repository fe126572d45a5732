//! The numbers a product text states, as values: "1/2 in." is 0.5, "1-1/2" and "5 1/2" are mixed
//! numbers, "2x4x8" is three sizes, ".440" is 0.44.
//!
//! Why: a quarter of Home Depot queries carry a size or a model number, written every way a shopper
//! types it ("9x12", "1-1/2'", "3/8 drywall"), while titles write "9 ft. x 12 ft." or "1-1/2 in.".
//! Word matching splits "9x12" into one token and "3/8" into two, so the learned ranker compares the
//! values instead.

/// The numeric values in `text`, in order of appearance, with duplicates kept.
pub fn values(text: &str) -> Vec<f64> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_number = chars[i].is_ascii_digit()
            || (chars[i] == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit));
        // A number glued to letters on its left is part of a code ("wm624"), not a size; the "x" of
        // "9x12" is a separator.
        let by_x = i >= 2 && matches!(chars[i - 1], 'x' | 'X') && chars[i - 2].is_ascii_digit();
        let glued = i > 0 && chars[i - 1].is_alphabetic() && !by_x;
        if !starts_number {
            i += 1;
            continue;
        }
        let (value, end) = decimal(&chars, i);
        i = end;
        if glued {
            continue;
        }
        // "3/8": a fraction.
        if let Some((fraction, after)) = fraction_after(&chars, value, end) {
            out.push(fraction);
            i = after;
            continue;
        }
        // "5 1/2" or "1-1/2": a whole number and a fraction.
        if value.fract() == 0.0 && matches!(chars.get(end), Some(' ') | Some('-')) {
            let next = end + 1;
            if chars.get(next).is_some_and(char::is_ascii_digit) {
                let (numerator, after_numerator) = decimal(&chars, next);
                if let Some((fraction, after)) = fraction_after(&chars, numerator, after_numerator)
                {
                    if fraction < 1.0 {
                        out.push(value + fraction);
                        i = after;
                        continue;
                    }
                }
            }
        }
        out.push(value);
    }
    out
}

/// The decimal number starting at `start` and the index after it.
fn decimal(chars: &[char], start: usize) -> (f64, usize) {
    let mut end = start;
    let mut seen_point = false;
    while end < chars.len() {
        let c = chars[end];
        if c.is_ascii_digit() {
            end += 1;
        } else if c == '.' && !seen_point && chars.get(end + 1).is_some_and(char::is_ascii_digit) {
            seen_point = true;
            end += 1;
        } else {
            break;
        }
    }
    let digits: String = chars[start..end].iter().collect();
    (digits.parse::<f64>().unwrap_or(0.0), end)
}

/// `numerator/denominator` when a slash and a non-zero whole denominator follow `end`.
fn fraction_after(chars: &[char], numerator: f64, end: usize) -> Option<(f64, usize)> {
    if chars.get(end) != Some(&'/') || numerator.fract() != 0.0 {
        return None;
    }
    let start = end + 1;
    if !chars.get(start).is_some_and(char::is_ascii_digit) {
        return None;
    }
    let (denominator, after) = decimal(chars, start);
    (denominator >= 1.0 && denominator.fract() == 0.0).then(|| (numerator / denominator, after))
}

/// Share of the query's values that the title states (-1 when the query states none). Values within
/// a thousandth of each other are the same size.
pub fn share_matched(query: &[f64], title: &[f64]) -> f64 {
    if query.is_empty() {
        return -1.0;
    }
    let found = query
        .iter()
        .filter(|q| title.iter().any(|t| (*q - t).abs() < 1e-3))
        .count();
    found as f64 / query.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_as_shoppers_and_titles_write_them() {
        assert_eq!(values("1/2 in. x 10 ft. copper pipe"), vec![0.5, 10.0]);
        assert_eq!(values("3/8'x 5 1/2' stobe bolts"), vec![0.375, 5.5]);
        assert_eq!(values("1-1/2' double slip connector"), vec![1.5]);
        assert_eq!(values("area rugs 9x12"), vec![9.0, 12.0]);
        assert_eq!(values("2x4x8 stud"), vec![2.0, 4.0, 8.0]);
        assert_eq!(values(".440 metal screws"), vec![0.44]);
        assert_eq!(values("spot light 1.97"), vec![1.97]);
        assert_eq!(values("pfj wm624 base 9/16"), vec![0.5625]);
        assert!(values("no sizes here").is_empty());
    }

    #[test]
    fn a_fraction_is_not_read_into_a_count() {
        // "2 3/2" is not a mixed number (the fraction is not below one).
        assert_eq!(values("2 3/2"), vec![2.0, 1.5]);
        // A slash with no whole denominator is no fraction.
        assert_eq!(values("1/0 and 4/"), vec![1.0, 0.0, 4.0]);
    }

    #[test]
    fn share_of_query_sizes_in_the_title() {
        let title = values("1-1/2 in. x 10 ft. PVC pipe");
        assert_eq!(share_matched(&values("1 1/2 pvc"), &title), 1.0);
        assert_eq!(share_matched(&values("1 1/2 x 8 pvc"), &title), 0.5);
        assert_eq!(share_matched(&values("pvc pipe"), &title), -1.0);
    }

    proptest! {
        #[test]
        fn values_never_panic_and_are_finite(s in "\\PC{0,120}") {
            for v in values(&s) {
                prop_assert!(v.is_finite() && v >= 0.0);
            }
        }
    }
}
