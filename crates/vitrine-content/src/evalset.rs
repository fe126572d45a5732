//! The fact checker's own measurement, on real product descriptions.
//!
//! For each sampled product the *copy* is its real description, changed in one way:
//! - **alterations** (must be flagged): a colour replaced by one of another colour family, a material
//!   replaced by one the product is not made of, a number changed (value, or unit within its dimension), a
//!   capability the product lacks added ("waterproof", "UV protection" …) in one of several phrasings;
//! - **faithful rewrites** (must not be flagged): sentences reordered, turned into bullets, case changed,
//!   punctuation changed, a colour replaced by a synonym ("grey" → "gray", "navy blue" → "navy").
//!
//! The product data the checker sees is the product's title, brand, gender, colour and original
//! description. Everything is drawn from one seeded RNG, so a run is reproducible.

use crate::facts::{extract_claims, ProductFacts};
use crate::lexicon::{ClaimKind, Lexicon};
use crate::text;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::Range;

/// One catalog row the set is built from.
#[derive(Debug, Clone)]
pub struct SourceProduct {
    /// SKU.
    pub id: String,
    /// The product's data as the checker sees it (title, brand, attributes, original description).
    pub data: String,
    /// The original description: what gets altered or rewritten.
    pub description: String,
}

/// One evaluation case.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// Product.
    pub product_id: String,
    /// `wrong_colour`, `reorder`, …
    pub kind: String,
    /// Whether the checker should flag it.
    pub altered: bool,
    /// The copy checked.
    pub copy: String,
    /// Where the alteration is, in `copy`.
    pub span: Option<Range<usize>>,
}

/// Alterations capabilities are drawn from (each used only where the product data lacks it).
const ADDED_CAPABILITIES: &[&str] = &[
    "waterproof",
    "water-resistant",
    "wrinkle-free",
    "UV protection",
    "anti-bacterial",
    "quick-dry",
    "stain-resistant",
    "fire-resistant",
    "breathable",
    "hypoallergenic",
    "rechargeable",
    "shockproof",
    "scratch-resistant",
    "odour-resistant",
    "machine washable",
    "moisture-wicking",
    "reversible",
    "windproof",
    "insulated",
    "anti-slip",
    "BPA-free",
    "dermatologically tested",
    "ISO certified",
];

/// True colour synonyms (same colour, another name) for the faithful rewrites.
const COLOUR_SYNONYMS: &[(&str, &str)] = &[
    ("grey", "gray"),
    ("gray", "grey"),
    ("navy blue", "navy"),
    ("navy", "navy blue"),
    ("off white", "ivory"),
    ("off-white", "cream"),
    ("maroon", "burgundy"),
    ("burgundy", "maroon"),
    ("olive", "olive green"),
    ("golden", "gold"),
    ("gold-toned", "golden"),
    ("violet", "purple"),
    ("purple", "violet"),
    ("fuchsia", "magenta"),
    ("magenta", "fuchsia"),
    ("multicoloured", "multicolored"),
    ("beige", "cream"),
    ("khaki", "olive"),
    ("charcoal", "dark grey"),
    ("black", "jet black"),
    ("silver-toned", "silver"),
    ("mustard", "mustard yellow"),
    ("teal", "teal blue"),
];

fn match_case(original: &str, replacement: &str) -> String {
    if original.chars().all(|c| !c.is_lowercase()) && original.chars().any(char::is_uppercase) {
        replacement.to_uppercase()
    } else if original.chars().next().is_some_and(char::is_uppercase) {
        let mut c = replacement.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    } else {
        replacement.to_string()
    }
}

fn replace(text: &str, span: Range<usize>, with: &str) -> (String, Range<usize>) {
    let with = match_case(&text[span.clone()], with);
    let out = format!("{}{}{}", &text[..span.start], with, &text[span.end..]);
    let end = span.start + with.len();
    (out, span.start..end)
}

fn wrong_colour(p: &SourceProduct, rng: &mut ChaCha8Rng) -> Option<(String, Range<usize>)> {
    let data = extract_claims(&p.data);
    let families: Vec<&String> = data
        .iter()
        .filter(|c| c.kind == ClaimKind::Colour)
        .flat_map(|c| &c.canonical)
        .collect();
    let in_copy: Vec<_> = extract_claims(&p.description)
        .into_iter()
        .filter(|c| c.kind == ClaimKind::Colour)
        .collect();
    let target = in_copy.choose(rng)?;
    let options: Vec<&str> = Lexicon::colour_phrases()
        .filter(|(_, fam)| {
            fam.split('|')
                .all(|f| !families.iter().any(|g| g.as_str() == f))
        })
        .map(|(p, _)| p)
        .filter(|p| !matches!(*p, "multi" | "transparent" | "skin" | "sand" | "ash"))
        .collect();
    let with = options.choose(rng)?;
    Some(replace(&p.description, target.span.clone(), with))
}

fn wrong_material(p: &SourceProduct, rng: &mut ChaCha8Rng) -> Option<(String, Range<usize>)> {
    let facts = ProductFacts::from_text(&p.data);
    let in_copy: Vec<_> = extract_claims(&p.description)
        .into_iter()
        .filter(|c| c.kind == ClaimKind::Material)
        .collect();
    let target = in_copy.choose(rng)?;
    let options: Vec<&str> = Lexicon::material_phrases()
        .map(|(p, _)| p)
        .filter(|m| {
            let probe = extract_claims(m);
            probe.iter().all(|c| {
                c.kind != ClaimKind::Material
                    || facts.judge(c).0 != crate::facts::Verdict::Supported
            }) && !matches!(*m, "down" | "felt" | "stone" | "pu" | "eva" | "abs")
        })
        .collect();
    let with = options.choose(rng)?;
    Some(replace(&p.description, target.span.clone(), with))
}

fn changed_number(p: &SourceProduct, rng: &mut ChaCha8Rng) -> Option<(String, Range<usize>)> {
    let ws = text::words(&p.description);
    let mentions = crate::facts::numbers::mentions(&p.description, &ws);
    let m = mentions.choose(rng)?;
    let number_word = ws.iter().find(|w| w.span.start == m.span.start)?;
    let is_digits = number_word.norm.starts_with(|c: char| c.is_ascii_digit());
    let number_end = if is_digits {
        number_word.span.start
            + number_word
                .norm
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
                .unwrap_or(number_word.norm.len())
    } else {
        number_word.span.end
    };
    let unit_word = &p.description[number_end.min(m.span.end)..m.span.end]
        .trim()
        .to_lowercase();
    let swap_unit = m.unit.is_some() && !unit_word.is_empty() && rng.gen_bool(0.5);
    if swap_unit {
        let dim = m.unit?.dimension;
        let alternatives: &[&str] = match dim {
            "time" => &["days", "weeks", "months", "years"],
            "length" => &["mm", "cm", "inches", "metres"],
            "mass" => &["g", "kg", "lbs"],
            "volume" => &["ml", "litres"],
            "percent" | "money" => &[],
            _ => &[],
        };
        let here = crate::lexicon::unit(unit_word);
        let choices: Vec<&&str> = alternatives
            .iter()
            .filter(|a| crate::lexicon::unit(a) != here)
            .collect();
        if let Some(with) = choices.choose(rng) {
            let start = number_end.min(m.span.end);
            let lead = p.description[start..m.span.end].len()
                - p.description[start..m.span.end].trim_start().len();
            return Some(replace(&p.description, start + lead..m.span.end, with));
        }
    }
    let new_value = if m.value >= 10.0 && rng.gen_bool(0.5) {
        m.value * 2.0
    } else {
        m.value + rng.gen_range(1..=3) as f64
    };
    let with = if is_digits {
        if new_value.fract() == 0.0 {
            format!("{}", new_value as i64)
        } else {
            format!("{new_value}")
        }
    } else {
        const WORDS: &[&str] = &[
            "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        ];
        WORDS
            .get(new_value as usize)
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("{}", new_value as i64))
    };
    Some(replace(
        &p.description,
        number_word.span.start..number_end,
        &with,
    ))
}

fn added_capability(p: &SourceProduct, rng: &mut ChaCha8Rng) -> Option<(String, Range<usize>)> {
    let facts = ProductFacts::from_text(&p.data);
    let options: Vec<&str> = ADDED_CAPABILITIES
        .iter()
        .copied()
        .filter(|cap| facts.check(cap).findings.len() == extract_claims(cap).len())
        .collect();
    let cap = *options.choose(rng)?;
    let d = p.description.trim_end();
    match rng.gen_range(0..3) {
        0 => {
            let start = d.len() + 2;
            let s = format!("{d}. It is {cap}.");
            Some((s, start + 6..start + 6 + cap.len()))
        }
        1 => {
            let s = format!("{}, {cap}", d.trim_end_matches('.'));
            let (start, end) = (s.len() - cap.len(), s.len());
            Some((s, start..end))
        }
        _ => {
            let s = format!(
                "{} {}",
                match_case(&d[..d.chars().next()?.len_utf8()], cap),
                {
                    let mut first = d.chars();
                    let c = first.next()?;
                    c.to_lowercase().collect::<String>() + first.as_str()
                }
            );
            Some((s, 0..cap.len()))
        }
    }
}

fn sentences(d: &str) -> Vec<String> {
    text::sentences(d)
        .into_iter()
        .map(|r| d[r].trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn faithful(kind: &str, p: &SourceProduct, rng: &mut ChaCha8Rng) -> Option<String> {
    let d = &p.description;
    Some(match kind {
        "reorder" => {
            let mut s = sentences(d);
            if s.len() < 2 {
                let mut parts: Vec<String> = d.split(", ").map(str::to_string).collect();
                if parts.len() < 2 {
                    return None;
                }
                parts.shuffle(rng);
                return Some(parts.join(", "));
            }
            s.shuffle(rng);
            s.join(". ") + "."
        }
        "bullets" => sentences(d)
            .iter()
            .flat_map(|s| s.split(", ").map(str::to_string).collect::<Vec<_>>())
            .map(|s| format!("- {s}"))
            .collect::<Vec<_>>()
            .join("\n"),
        "case" => match rng.gen_range(0..3) {
            0 => d.to_uppercase(),
            1 => d.to_lowercase(),
            _ => d
                .split(' ')
                .map(|w| match_case("X", w))
                .collect::<Vec<_>>()
                .join(" "),
        },
        "punctuation" => {
            let s = match rng.gen_range(0..3) {
                0 => d.replace(", ", "; "),
                1 => d.replace(", ", " — ").replace('.', ""),
                _ => d.replace(", ", " , ").replace(" and ", ", and ") + "!",
            };
            if s == *d {
                return None;
            }
            s
        }
        "colour_synonym" => {
            let lower = d.to_lowercase();
            let (from, to) = COLOUR_SYNONYMS
                .iter()
                .filter(|(f, _)| {
                    lower.match_indices(f).any(|(i, _)| {
                        let before = lower[..i]
                            .chars()
                            .last()
                            .is_none_or(|c| !c.is_alphanumeric());
                        let after = lower[i + f.len()..]
                            .chars()
                            .next()
                            .is_none_or(|c| !c.is_alphanumeric());
                        before && after
                    })
                })
                .collect::<Vec<_>>()
                .choose(rng)
                .copied()?;
            let (i, _) = lower.match_indices(from).find(|(i, _)| {
                lower[..*i]
                    .chars()
                    .last()
                    .is_none_or(|c| !c.is_alphanumeric())
                    && lower[i + from.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !c.is_alphanumeric())
            })?;
            replace(d, i..i + from.len(), to).0
        }
        _ => return None,
    })
}

/// Alteration kinds, in report order.
pub const ALTERATIONS: &[&str] = &[
    "wrong_colour",
    "wrong_material",
    "changed_number",
    "added_capability",
];
/// Faithful rewrite kinds, in report order.
pub const REWRITES: &[&str] = &[
    "reorder",
    "bullets",
    "case",
    "punctuation",
    "colour_synonym",
];

/// Builds every applicable case for each product (one RNG stream per product, so adding kinds does not
/// reshuffle the others).
pub fn build_cases(products: &[SourceProduct], seed: u64) -> Vec<Case> {
    let mut out = Vec::new();
    for (n, p) in products.iter().enumerate() {
        let mut rng =
            ChaCha8Rng::seed_from_u64(seed ^ (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for kind in ALTERATIONS {
            let made = match *kind {
                "wrong_colour" => wrong_colour(p, &mut rng),
                "wrong_material" => wrong_material(p, &mut rng),
                "changed_number" => changed_number(p, &mut rng),
                _ => added_capability(p, &mut rng),
            };
            if let Some((copy, span)) = made {
                out.push(Case {
                    product_id: p.id.clone(),
                    kind: kind.to_string(),
                    altered: true,
                    copy,
                    span: Some(span),
                });
            }
        }
        for kind in REWRITES {
            if let Some(copy) = faithful(kind, p, &mut rng) {
                out.push(Case {
                    product_id: p.id.clone(),
                    kind: kind.to_string(),
                    altered: false,
                    copy,
                    span: None,
                });
            }
        }
    }
    out
}

/// Flag counts per case kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindResult {
    /// Cases of this kind.
    pub cases: usize,
    /// Cases with at least one fact finding.
    pub flagged: usize,
    /// Altered cases with a finding overlapping the altered span.
    pub flagged_at_alteration: usize,
}

/// The checker's measured figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Products sampled.
    pub products: usize,
    /// Per kind.
    pub kinds: BTreeMap<String, KindResult>,
    /// Share of alterations flagged (goal ≥ 0.95).
    pub altered_flag_rate: f64,
    /// Share of faithful rewrites flagged (goal ≤ 0.05).
    pub faithful_flag_rate: f64,
    /// Examples of misses and false flags, for tuning the method (not the numbers).
    pub examples: Vec<(String, String, String)>,
}

/// Runs the checker on every case.
pub fn evaluate(products: &[SourceProduct], cases: &[Case]) -> Summary {
    let by_id: BTreeMap<&str, &SourceProduct> =
        products.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut s = Summary {
        products: products.len(),
        ..Summary::default()
    };
    let (mut alt, mut alt_flag, mut faith, mut faith_flag) = (0, 0, 0, 0);
    for c in cases {
        let Some(p) = by_id.get(c.product_id.as_str()) else {
            continue;
        };
        let check = ProductFacts::from_text(&p.data).check(&c.copy);
        let flagged = !check.findings.is_empty();
        let r = s.kinds.entry(c.kind.clone()).or_default();
        r.cases += 1;
        r.flagged += usize::from(flagged);
        if let Some(span) = &c.span {
            let at = check.findings.iter().any(|f| {
                f.span
                    .as_ref()
                    .is_some_and(|x| x.start < span.end && span.start < x.end)
            });
            r.flagged_at_alteration += usize::from(at);
        }
        if c.altered {
            alt += 1;
            alt_flag += usize::from(flagged);
        } else {
            faith += 1;
            faith_flag += usize::from(flagged);
        }
        if (c.altered != flagged) && s.examples.len() < 40 {
            let why = check
                .findings
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            s.examples
                .push((c.kind.clone(), c.copy.chars().take(300).collect(), why));
        }
    }
    s.altered_flag_rate = alt_flag as f64 / alt.max(1) as f64;
    s.faithful_flag_rate = faith_flag as f64 / faith.max(1) as f64;
    s
}

/// Reads the Myntra catalog CSV and draws `n` products (seeded) with a description of at least 40
/// characters.
pub fn load_myntra(
    path: &std::path::Path,
    n: usize,
    seed: u64,
) -> Result<Vec<SourceProduct>, csv::Error> {
    let mut reader = csv::Reader::from_path(path)?;
    let headers: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (id, name, brand, gender, colour, desc) = (
        col("ProductID"),
        col("ProductName"),
        col("ProductBrand"),
        col("Gender"),
        col("PrimaryColor"),
        col("Description"),
    );
    let mut all = Vec::new();
    for rec in reader.records() {
        let rec = rec?;
        let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("").trim().to_string();
        let description = get(desc);
        if description.chars().count() < 40 {
            continue;
        }
        let data = format!(
            "{}. {}. colour: {}. gender: {}. {}",
            get(name),
            get(brand),
            get(colour),
            get(gender),
            description
        );
        all.push(SourceProduct {
            id: get(id),
            data,
            description,
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    all.shuffle(&mut rng);
    all.truncate(n);
    Ok(all)
}
