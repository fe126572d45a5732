//! Exact decimals from real-world JSON: prices arrive as `"19.99"` or `19.99`, and both must become the exact
//! decimal 19.99, never a binary float.

use rust_decimal::Decimal;
use serde::{de, Deserializer};
use std::str::FromStr;

/// Parses a decimal from text, rejecting exponents and junk with a reason a merchant understands.
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("must be a decimal number, got an empty string".into());
    }
    Decimal::from_str(t).map_err(|_| format!("must be a decimal number like 19.99, got {t:?}"))
}

struct DecimalVisitor;

impl de::Visitor<'_> for DecimalVisitor {
    type Value = Decimal;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a decimal number or a string holding one")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
        parse_decimal(v).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
        Ok(Decimal::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
        if !v.is_finite() {
            return Err(E::custom("must be a finite number"));
        }
        // Rust prints the shortest text that reads back as the same f64, so 19.99 becomes "19.99" exactly.
        parse_decimal(&v.to_string()).map_err(E::custom)
    }
}

/// Serde adapter for a required exact decimal (`#[serde(deserialize_with = ...)]`).
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_any(DecimalVisitor)
}

/// Serde adapter for an optional exact decimal; `null` and absence both mean "none".
pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    struct OptVisitor;
    impl<'de> de::Visitor<'de> for OptVisitor {
        type Value = Option<Decimal>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a decimal number, a string holding one, or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(DecimalVisitor).map(Some)
        }
    }
    d.deserialize_option(OptVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct P {
        #[serde(deserialize_with = "deserialize")]
        p: Decimal,
    }

    #[test]
    fn number_and_string_give_the_same_exact_value() {
        let a: P = serde_json::from_str(r#"{"p": 19.99}"#).unwrap();
        let b: P = serde_json::from_str(r#"{"p": "19.99"}"#).unwrap();
        assert_eq!(a.p, b.p);
        assert_eq!(a.p.to_string(), "19.99");
        let c: P = serde_json::from_str(r#"{"p": 0.1}"#).unwrap();
        assert_eq!(c.p.to_string(), "0.1");
    }

    #[test]
    fn junk_is_rejected_with_a_reason() {
        let e = serde_json::from_str::<P>(r#"{"p": "12,5 EUR"}"#)
            .err()
            .unwrap();
        assert!(e.to_string().contains("decimal number"), "{e}");
    }

    proptest::proptest! {
        #[test]
        fn any_two_decimal_string_roundtrips(units in 0u64..10_000_000, cents in 0u32..100) {
            let text = format!("{units}.{cents:02}");
            let d = parse_decimal(&text).unwrap();
            proptest::prop_assert_eq!(d.to_string(), text);
        }

        #[test]
        fn parser_never_panics(s in ".*") {
            let _ = parse_decimal(&s);
        }
    }
}
