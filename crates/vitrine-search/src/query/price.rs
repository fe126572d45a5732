//! Price expressions in shopper language: "under $50", "below 100", "between 20 and 40 dollars",
//! "$30-$60", "over 200", "around $80". Numbers followed by a non-money unit ("under 10 lbs") are left alone.

use regex::Regex;
use std::sync::LazyLock;

/// A price expression found in a query.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceMatch {
    /// Lowest price.
    pub min: Option<f64>,
    /// Highest price.
    pub max: Option<f64>,
    /// Byte range of the expression in the lower-cased query, to remove it from the relevance text.
    pub span: (usize, usize),
}

const NUM: &str = r"(\d{1,9}(?:[.,]\d{1,2})?)";
const CUR_BEFORE: &str = r"(?:\$|usd\s*|€|£|₹|rs\.?\s*|inr\s*)";
const CUR_AFTER: &str =
    r"(?:\s*(?:dollars?|bucks|usd|euros?|eur|pounds|gbp|rupees|rs\.?|inr|\$|€|₹))";

static BETWEEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"\b(?:between|from)\s+{CUR_BEFORE}?{NUM}{CUR_AFTER}?\s*(?:and|to|-|–)\s*{CUR_BEFORE}?{NUM}{CUR_AFTER}?"
    ))
    .expect("valid regex")
});
static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:{CUR_BEFORE}{NUM}{CUR_AFTER}?\s*(?:-|–|to)\s*{CUR_BEFORE}?{NUM}{CUR_AFTER}?)|(?:\b{NUM}\s*(?:-|–|to)\s*{NUM}{CUR_AFTER})"
    ))
    .expect("valid regex")
});
static UNDER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:\b(?:under|below|less\s+than|cheaper\s+than|at\s+most|max(?:imum)?|up\s*to|within|no\s+more\s+than)|<|<=)\s*{CUR_BEFORE}?{NUM}(?P<after>{CUR_AFTER})?(?P<unit>\s*[a-z\x22']+)?"
    ))
    .expect("valid regex")
});
static OVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?:\b(?:over|above|more\s+than|at\s+least|min(?:imum)?|starting\s+at)|>|>=)\s*{CUR_BEFORE}?{NUM}(?P<after>{CUR_AFTER})?(?P<unit>\s*[a-z\x22']+)?"
    ))
    .expect("valid regex")
});
static AROUND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"\b(?:around|about|approximately|approx\.?|roughly|~)\s*{CUR_BEFORE}{NUM}{CUR_AFTER}?|\b(?:around|about|approximately|roughly)\s+{NUM}{CUR_AFTER}"
    ))
    .expect("valid regex")
});

fn num(s: &str) -> Option<f64> {
    s.replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Finds the first price expression in `lower` (already lower-cased). Reversed ranges are put in order.
pub fn parse_price(lower: &str) -> Option<PriceMatch> {
    let ordered = |a: f64, b: f64| (a.min(b), a.max(b));
    if let Some(c) = BETWEEN.captures(lower) {
        let (a, b) = ordered(num(&c[1])?, num(&c[2])?);
        let m = c.get(0)?;
        return Some(PriceMatch {
            min: Some(a),
            max: Some(b),
            span: (m.start(), m.end()),
        });
    }
    if let Some(c) = RANGE.captures(lower) {
        let vals: Vec<f64> = c
            .iter()
            .skip(1)
            .flatten()
            .filter_map(|m| num(m.as_str()))
            .collect();
        if let [a, b] = vals[..] {
            let (a, b) = ordered(a, b);
            let m = c.get(0)?;
            return Some(PriceMatch {
                min: Some(a),
                max: Some(b),
                span: (m.start(), m.end()),
            });
        }
    }
    for (re, is_max) in [(&*UNDER, true), (&*OVER, false)] {
        for c in re.captures_iter(lower) {
            let m = c.get(0)?;
            let money_after = c.name("after").is_some();
            let unit = c.name("unit");
            if !money_after && unit.is_some_and(|u| crate::normalize::is_measure_unit(u.as_str())) {
                continue;
            }
            let v = num(&c[1])?;
            // Keep a following ordinary word ("under 50 shoes") in the relevance text.
            let end = if money_after {
                c.name("after").map(|a| a.end()).unwrap_or(m.end())
            } else {
                c.get(1).map(|g| g.end()).unwrap_or(m.end())
            };
            return Some(PriceMatch {
                min: (!is_max).then_some(v),
                max: is_max.then_some(v),
                span: (m.start(), end),
            });
        }
    }
    if let Some(c) = AROUND.captures(lower) {
        let v = c.iter().skip(1).flatten().find_map(|m| num(m.as_str()))?;
        let m = c.get(0)?;
        return Some(PriceMatch {
            min: Some((v * 0.8 * 100.0).round() / 100.0),
            max: Some((v * 1.2 * 100.0).round() / 100.0),
            span: (m.start(), m.end()),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(q: &str) -> Option<(Option<f64>, Option<f64>)> {
        parse_price(q).map(|m| (m.min, m.max))
    }

    #[test]
    fn shopper_price_phrases() {
        assert_eq!(
            p("waterproof hiking boots for men under $120"),
            Some((None, Some(120.0)))
        );
        assert_eq!(p("shoes below 100"), Some((None, Some(100.0))));
        assert_eq!(
            p("bags between 20 and 40 dollars"),
            Some((Some(20.0), Some(40.0)))
        );
        assert_eq!(p("lamp $30-$60"), Some((Some(30.0), Some(60.0))));
        assert_eq!(p("lamp $60 - 30"), Some((Some(30.0), Some(60.0))));
        assert_eq!(p("kurta under rs 999"), Some((None, Some(999.0))));
        assert_eq!(p("watch over 200"), Some((Some(200.0), None)));
        assert_eq!(p("jacket around $80"), Some((Some(64.0), Some(96.0))));
        assert_eq!(p("from 10 to 20 euros"), Some((Some(10.0), Some(20.0))));
    }

    #[test]
    fn non_prices_are_left_alone() {
        assert_eq!(p("dumbbells under 10 lbs"), None);
        assert_eq!(p("tent for 2-3 people"), None);
        assert_eq!(p("under armour shoes"), None);
        assert_eq!(p("2x4 lumber 8 ft"), None);
        assert_eq!(p("pipe under 2\" wide"), None);
    }

    #[test]
    fn span_covers_only_the_expression() {
        let q = "shoes under 50 red";
        let m = parse_price(q).unwrap();
        assert_eq!(&q[m.span.0..m.span.1], "under 50");
    }

    proptest! {
        #[test]
        fn never_panics_and_min_le_max(s in "\\PC{0,120}") {
            if let Some(m) = parse_price(&s.to_lowercase()) {
                if let (Some(a), Some(b)) = (m.min, m.max) { prop_assert!(a <= b); }
                prop_assert!(m.span.0 <= m.span.1);
            }
        }
    }
}
