//! Vectors of single catalog words, for the learned ranker's *soft word match*.
//!
//! The overlap features of [`crate::ltr`] only see a query word in a title when its letters are
//! there ("cabinet" in "Cabinets"). A shopper's "fridge" is not in "French Door Refrigerator", and the
//! whole-text cosine cannot say *which* query word a title fails to cover. Each plain title word is
//! embedded once by the engine's own encoder; a query word's soft match with a title is then its best
//! cosine with one of the title's words. Only catalog words get vectors, so answering a query never
//! runs the model for this: a query word outside the catalog (a misspelling the speller left alone)
//! simply has no soft match.

use crate::adapter::dot;
use crate::normalize::is_stop_word;
use rustc_hash::FxHashMap;
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

/// Normalised vectors by word.
pub type WordTable = FxHashMap<Box<str>, Box<[f32]>>;

/// The engine's word vectors; filled from the catalog's titles, never emptied (a word of a removed
/// product costs memory, not correctness).
#[derive(Default)]
pub struct WordVectors {
    table: RwLock<WordTable>,
    /// Whether the whole catalog has been read once since start (after that, only changes are).
    caught_up: AtomicBool,
    /// What the file lacks: words inserted since the last save are appended to it
    /// ([`Self::save_if_changed`]), so a catch-up that adds a few words writes a few records.
    unsaved: Mutex<Unsaved>,
    /// Where the table is kept between runs, and the name of the encoder whose vectors it holds.
    file: Option<(PathBuf, String)>,
}

/// The difference between the table and its file.
#[derive(Default)]
struct Unsaved {
    /// Words inserted since the last save, in order.
    words: Vec<Box<str>>,
    /// The file cannot take appends: absent, another encoder's or format, cut short by a crash
    /// mid-append, or written with another dimension. The next save rewrites it whole.
    rewrite: bool,
    /// The vector dimension in the file's header.
    file_dim: usize,
}

/// First bytes of a word-vector file of this format.
const MAGIC: &[u8; 8] = b"VTRWORD2";

/// Whether a word gets a vector: three or more letters, no digits (sizes and model codes are
/// compared by [`crate::quantities`] and exact match; their embeddings mean little), not a stop word.
pub fn is_embeddable(word: &str) -> bool {
    word.chars().count() >= 3 && word.chars().all(char::is_alphabetic) && !is_stop_word(word)
}

impl WordVectors {
    /// The word vectors saved at `path` by the encoder named `model`, so a restart matches words
    /// softly at once instead of after re-embedding them all. A file from another encoder, or one
    /// that cannot be read, is ignored (the vectors are derived data and are embedded again).
    pub fn open(path: PathBuf, model: &str) -> Self {
        let (table, unsaved) = match std::fs::read(&path) {
            Ok(bytes) => match decode(&bytes, model) {
                Some(read) => {
                    if !read.complete {
                        tracing::warn!(path = %path.display(), "word vectors: an interrupted save is dropped; the complete words are kept");
                    }
                    let unsaved = Unsaved {
                        words: Vec::new(),
                        rewrite: !read.complete,
                        file_dim: read.dim,
                    };
                    (read.table, unsaved)
                }
                None => {
                    tracing::warn!(path = %path.display(), "word vectors ignored: another encoder's or unreadable; they are embedded again");
                    (WordTable::default(), Unsaved::rewrite())
                }
            },
            Err(_) => (WordTable::default(), Unsaved::rewrite()),
        };
        Self {
            table: RwLock::new(table),
            caught_up: AtomicBool::new(false),
            unsaved: Mutex::new(unsaved),
            file: Some((path, model.to_string())),
        }
    }

    /// Rewrites the whole table to its file (atomically: a crash leaves the old file or the new one).
    pub fn save(&self) -> std::io::Result<()> {
        let Ok(mut unsaved) = self.unsaved.lock() else {
            return Ok(());
        };
        self.rewrite(&mut unsaved)
    }

    fn rewrite(&self, unsaved: &mut Unsaved) -> std::io::Result<()> {
        let Some((path, model)) = &self.file else {
            return Ok(());
        };
        let (bytes, dim) = match self.table.read() {
            Ok(t) => encode(&t, model),
            Err(_) => return Ok(()),
        };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, path)?;
        *unsaved = Unsaved {
            words: Vec::new(),
            rewrite: false,
            file_dim: dim,
        };
        Ok(())
    }

    /// Saves the words inserted since the last save, if any; returns whether it wrote. They are
    /// appended to the file; it is rewritten whole only when it cannot take appends (see
    /// [`Unsaved::rewrite`]). A failed write leaves them unsaved, and the next call rewrites the file.
    pub fn save_if_changed(&self) -> std::io::Result<bool> {
        let Some((path, _)) = &self.file else {
            return Ok(false);
        };
        let Ok(mut unsaved) = self.unsaved.lock() else {
            return Ok(false);
        };
        if unsaved.words.is_empty() {
            return Ok(false);
        }
        let records = match self.table.read() {
            Ok(table) => {
                let mut out = Vec::new();
                let mut other_dim = false;
                for word in &unsaved.words {
                    match table.get(word) {
                        Some(v) if v.len() == unsaved.file_dim => put_record(&mut out, word, v),
                        Some(_) => other_dim = true,
                        None => {}
                    }
                }
                unsaved.rewrite |= other_dim;
                out
            }
            Err(_) => return Ok(false),
        };
        let written = if unsaved.rewrite {
            self.rewrite(&mut unsaved)
        } else {
            append(path, &records).inspect_err(|_| unsaved.rewrite = true)
        };
        written?;
        unsaved.words.clear();
        Ok(true)
    }

    /// How many words have vectors.
    pub fn len(&self) -> usize {
        self.table.read().map_or(0, |t| t.len())
    }

    /// Whether no word has a vector yet (before the first catch-up, or without an encoder).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The embeddable words of `words` that have no vector yet, each once.
    pub fn missing<'a>(&self, words: impl Iterator<Item = &'a str>) -> Vec<String> {
        let Ok(table) = self.table.read() else {
            return Vec::new();
        };
        let mut seen = rustc_hash::FxHashSet::default();
        words
            .filter(|w| is_embeddable(w) && !table.contains_key(*w) && seen.insert(*w))
            .map(str::to_string)
            .collect()
    }

    /// Stores vectors (as the encoder returned them: L2-normalised) for `words`, in order.
    pub fn insert(&self, words: Vec<String>, vectors: Vec<Vec<f32>>) {
        let mut inserted = Vec::with_capacity(words.len());
        if let Ok(mut table) = self.table.write() {
            for (w, v) in words.into_iter().zip(vectors) {
                let w = w.into_boxed_str();
                inserted.push(w.clone());
                table.insert(w, v.into_boxed_slice());
            }
        }
        // Noted after the table lock is released (a save takes these locks in the other order),
        // and only once the vectors are in the table, where the save reads them.
        if let Ok(mut unsaved) = self.unsaved.lock() {
            unsaved.words.extend(inserted);
        }
    }

    /// Notes that every title word of the catalog has been read once.
    pub fn mark_caught_up(&self) {
        self.caught_up.store(true, Ordering::Release);
    }

    /// Whether [`Self::mark_caught_up`] was called.
    pub fn is_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Acquire)
    }

    /// Runs `f` over the table under one read lock (a query reads many words).
    pub fn with_table<R>(&self, f: impl FnOnce(&WordTable) -> R) -> Option<R> {
        self.table.read().ok().map(|t| f(&t))
    }
}

impl Unsaved {
    /// A file that must be written whole before it can take appends.
    fn rewrite() -> Self {
        Self {
            rewrite: true,
            ..Self::default()
        }
    }
}

/// The file format: [`MAGIC`], the encoder's name, the dimension, then records to the end of the
/// file, each a word and its vector (little-endian lengths and floats). New words are appended as
/// records; a later record of the same word wins.
fn encode(table: &WordTable, model: &str) -> (Vec<u8>, usize) {
    let dim = table.values().next().map_or(0, |v| v.len());
    let mut out = Vec::with_capacity(32 + table.len() * (16 + 4 * dim));
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(model.len() as u32).to_le_bytes());
    out.extend_from_slice(model.as_bytes());
    out.extend_from_slice(&(dim as u32).to_le_bytes());
    for (word, vector) in table.iter().filter(|(_, v)| v.len() == dim) {
        put_record(&mut out, word, vector);
    }
    (out, dim)
}

/// One word's record (a word too long for its length prefix is left out: it is not a title word).
fn put_record(out: &mut Vec<u8>, word: &str, vector: &[f32]) {
    let Ok(len) = u16::try_from(word.len()) else {
        return;
    };
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(word.as_bytes());
    for x in vector {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// Appends records to the file.
fn append(path: &std::path::Path, records: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path)?;
    file.write_all(records)
}

/// What [`decode`] read.
struct Decoded {
    table: WordTable,
    dim: usize,
    /// False when the last record is cut short (a crash during an append); the records before it
    /// are kept.
    complete: bool,
}

/// Reads [`encode`]'s format; `None` if it is not that format or not `model`'s.
fn decode(bytes: &[u8], model: &str) -> Option<Decoded> {
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Option<&[u8]> {
        let part = bytes.get(*at..at.checked_add(n)?)?;
        *at += n;
        Some(part)
    };
    if take(&mut at, MAGIC.len())? != MAGIC {
        return None;
    }
    let u32_at = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let model_len = u32_at(take(&mut at, 4)?);
    if take(&mut at, model_len)? != model.as_bytes() {
        return None;
    }
    let dim = u32_at(take(&mut at, 4)?);
    let mut table = WordTable::default();
    let record = |at: &mut usize| -> Option<(Box<str>, Box<[f32]>)> {
        let len = take(at, 2)?;
        let len = u16::from_le_bytes([len[0], len[1]]) as usize;
        let word = std::str::from_utf8(take(at, len)?).ok()?;
        let vector: Box<[f32]> = take(at, dim.checked_mul(4)?)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Some((word.into(), vector))
    };
    while at < bytes.len() {
        match record(&mut at) {
            Some((word, vector)) => {
                table.insert(word, vector);
            }
            None => break,
        }
    }
    Some(Decoded {
        table,
        dim,
        complete: at == bytes.len(),
    })
}

/// The soft match of each query word with a title: 1 where `hits` says the word's letters are in the
/// title, otherwise its best cosine (at least 0) with an embeddable title word, 0 without a vector.
pub fn soft_matches(
    table: &WordTable,
    query: &[String],
    hits: &[bool],
    title: &[&str],
) -> Vec<f64> {
    let mut title_vectors: Option<Vec<&[f32]>> = None;
    query
        .iter()
        .zip(hits)
        .map(|(word, hit)| {
            if *hit {
                return 1.0;
            }
            let Some(q) = table.get(word.as_str()) else {
                return 0.0;
            };
            let vectors = title_vectors.get_or_insert_with(|| {
                title
                    .iter()
                    .filter(|w| is_embeddable(w))
                    .filter_map(|w| table.get(*w).map(|v| &v[..]))
                    .collect()
            });
            vectors
                .iter()
                .map(|t| dot(q, t))
                .fold(0.0f32, f32::max)
                .into()
        })
        .collect()
}

/// How much of a title is about the query: the mean, over the title's embeddable words, of 1 where
/// `covered` says a query word's letters cover the word, otherwise its best cosine (at least 0) with
/// a query word. A title that adds other things ("… with Remote and Stand") scores lower. `memo`
/// keeps each title word's value for the rest of the query's candidates. −1 for a title without
/// embeddable words.
pub fn title_cover(
    table: &WordTable,
    query: &[String],
    title: &[&str],
    covered: impl Fn(&str) -> bool,
    memo: &RefCell<FxHashMap<Box<str>, f64>>,
) -> f64 {
    let mut memo = memo.borrow_mut();
    let (mut sum, mut count) = (0.0, 0usize);
    for word in title.iter().filter(|w| is_embeddable(w)) {
        count += 1;
        if let Some(v) = memo.get(*word) {
            sum += v;
            continue;
        }
        let value = if covered(word) {
            1.0
        } else {
            table.get(*word).map_or(0.0, |t| {
                query
                    .iter()
                    .filter_map(|q| table.get(q.as_str()))
                    .map(|q| dot(q, t))
                    .fold(0.0f32, f32::max)
                    .into()
            })
        };
        memo.insert((*word).into(), value);
        sum += value;
    }
    if count == 0 {
        -1.0
    } else {
        sum / count as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::unit;

    #[test]
    fn a_word_the_title_lacks_is_matched_by_its_nearest_title_word() {
        let words = WordVectors::default();
        words.insert(
            vec!["fridge".into(), "refrigerator".into(), "hose".into()],
            vec![unit(&[1.0, 0.2]), unit(&[0.9, 0.3]), unit(&[0.0, 1.0])],
        );
        let query = vec!["steel".to_string(), "fridge".to_string()];
        let soft = words
            .with_table(|t| {
                soft_matches(
                    t,
                    &query,
                    &[true, false],
                    &["steel", "refrigerator", "hose"],
                )
            })
            .unwrap();
        assert_eq!(soft[0], 1.0, "a letter match counts fully");
        assert!(soft[1] > 0.95, "fridge ~ refrigerator: {}", soft[1]);
        let garden = words
            .with_table(|t| soft_matches(t, &query, &[false, false], &["garden", "hose"]))
            .unwrap();
        assert_eq!(garden[0], 0.0, "no vector for 'steel'");
        assert!(garden[1] < 0.3, "fridge is far from hose: {}", garden[1]);
    }

    #[test]
    fn a_title_about_other_things_covers_less_of_itself() {
        let words = WordVectors::default();
        words.insert(
            vec![
                "fridge".into(),
                "refrigerator".into(),
                "hose".into(),
                "garden".into(),
            ],
            vec![
                unit(&[1.0, 0.2]),
                unit(&[0.9, 0.3]),
                unit(&[0.0, 1.0]),
                unit(&[0.1, 1.0]),
            ],
        );
        let query = vec!["fridge".to_string()];
        let memo = RefCell::default();
        let cover = |title: &[&str]| {
            words
                .with_table(|t| title_cover(t, &query, title, |w| w == "fridge", &memo))
                .unwrap()
        };
        let alone = cover(&["refrigerator"]);
        let with_hose = cover(&["refrigerator", "garden", "hose"]);
        assert!(alone > 0.95, "{alone}");
        assert!(with_hose < 0.5, "{with_hose}");
        assert_eq!(cover(&["12", "in"]), -1.0);
        assert_eq!(
            memo.borrow().len(),
            3,
            "each title word is scored once per query"
        );
    }

    #[test]
    fn numbers_codes_and_stop_words_get_no_vector() {
        let words = WordVectors::default();
        let missing = words.missing(["9x12", "wm624", "the", "drill", "drill", "ab"].into_iter());
        assert_eq!(missing, vec!["drill".to_string()]);
    }

    #[test]
    fn saved_vectors_reopen_only_for_the_same_encoder() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("words.bin");
        let words = WordVectors::open(path.clone(), "minilm");
        assert!(words.is_empty());
        words.insert(
            vec!["fridge".into(), "refrigerator".into()],
            vec![unit(&[1.0, 0.2]), unit(&[0.9, 0.3])],
        );
        words.save().expect("saves");
        let again = WordVectors::open(path.clone(), "minilm");
        assert_eq!(again.len(), 2);
        let same = again.with_table(|t| t["fridge"].to_vec()).expect("table");
        assert_eq!(same, unit(&[1.0, 0.2]));
        assert!(
            !again.is_caught_up(),
            "the catalog is still read once after a start"
        );
        assert!(WordVectors::open(path.clone(), "tuned").is_empty());
        // A file cut short (a crash during an append) keeps its complete records, and the next save
        // writes it whole again.
        let bytes = std::fs::read(&path).expect("reads");
        std::fs::write(&path, &bytes[..bytes.len() - 3]).expect("writes");
        let cut = WordVectors::open(path.clone(), "minilm");
        assert_eq!(cut.len(), 1);
        cut.insert(vec!["freezer".into()], vec![unit(&[0.8, 0.4])]);
        assert!(cut.save_if_changed().expect("saves"));
        let healed = std::fs::read(&path).expect("reads");
        assert!(decode(&healed, "minilm").expect("format").complete);
        assert_eq!(WordVectors::open(path, "minilm").len(), 2);
    }

    #[test]
    fn only_words_added_since_the_last_save_are_written_and_they_are_appended() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("words.bin");
        let words = WordVectors::open(path.clone(), "minilm");
        assert!(!words.save_if_changed().expect("no-op"), "nothing to save");
        assert!(!path.exists());
        words.insert(vec!["drill".into()], vec![unit(&[1.0, 0.0])]);
        assert!(words.save_if_changed().expect("saves"));
        assert_eq!(WordVectors::open(path.clone(), "minilm").len(), 1);
        assert!(!words.save_if_changed().expect("no-op"), "already saved");
        // A new word is appended as one record (length, word, two floats); the rest is not rewritten.
        let before = std::fs::read(&path).expect("reads");
        words.insert(vec!["saw".into()], vec![unit(&[0.0, 1.0])]);
        assert!(words.save_if_changed().expect("saves"));
        let after = std::fs::read(&path).expect("reads");
        assert_eq!(after.len(), before.len() + 2 + 3 + 2 * 4);
        assert_eq!(after[..before.len()], before[..]);
        let reopened = WordVectors::open(path, "minilm");
        assert_eq!(reopened.len(), 2);
        let saw = reopened.with_table(|t| t["saw"].to_vec()).expect("table");
        assert_eq!(saw, unit(&[0.0, 1.0]));
    }
}
