//! Readability: the Flesch–Kincaid grade level, with a syllable counter good enough for English copy.

use crate::text;

/// Syllables of one lower-case word: vowel groups, minus a silent final `e`, at least one.
pub fn syllables(word: &str) -> usize {
    let w: Vec<char> = word.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    if w.is_empty() {
        return 0;
    }
    let vowel = |c: char| matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
    let mut count = 0;
    let mut prev = false;
    for &c in &w {
        let v = vowel(c);
        if v && !prev {
            count += 1;
        }
        prev = v;
    }
    let n = w.len();
    let silent_e =
        n > 2 && w[n - 1] == 'e' && !vowel(w[n - 2]) && (w[n - 2] != 'l' || vowel(w[n - 3]));
    if silent_e {
        count -= 1;
    }
    count.max(1)
}

/// Flesch–Kincaid grade of `text` (0 for empty text).
pub fn grade(text: &str) -> f64 {
    let ws: Vec<_> = text::words(text)
        .into_iter()
        .filter(|w| w.norm.chars().any(char::is_alphabetic))
        .collect();
    if ws.is_empty() {
        return 0.0;
    }
    let sentences = ws.iter().filter(|w| w.boundary_before).count().max(1);
    let syl: usize = ws.iter().map(|w| syllables(&w.norm)).sum();
    let words = ws.len() as f64;
    0.39 * words / sentences as f64 + 11.8 * syl as f64 / words - 15.59
}

/// Score 1 within the tolerance of the target, falling linearly to 0 at three tolerances away.
pub fn score(grade: f64, target: f64, tolerance: f64) -> f64 {
    let off = (grade - target).abs() - tolerance;
    if off <= 0.0 {
        1.0
    } else {
        (1.0 - off / (2.0 * tolerance.max(0.5))).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllables_and_grades_are_plausible() {
        assert_eq!(syllables("cotton"), 2);
        assert_eq!(syllables("table"), 2);
        assert_eq!(syllables("comfortable"), 4);
        assert_eq!(syllables("the"), 1);
        let easy = grade("The cat sat on the mat. It was warm.");
        let hard = grade("Meticulously engineered polyurethane construction guarantees extraordinary durability and considerable versatility throughout demanding professional applications.");
        assert!(easy < 3.0, "{easy}");
        assert!(hard > 15.0, "{hard}");
    }
}
