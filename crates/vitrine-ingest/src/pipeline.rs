//! The streaming import pipeline: a parser thread turns lines into validated records and sends them in
//! batches over a bounded channel; the async side writes each batch durably. Parsing and writing overlap
//! (two cores, two stages) and memory stays bounded by `batch_size × channel depth` whatever the file size.

use crate::{csv_mapping::CsvMapping, otto, record, IngestError};
use chrono::Utc;
use std::io::{BufRead, Read, Write};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use vitrine_core::{Event, Product, ProductInput, RecordError};
use vitrine_store::{Store, VersionCounts};

/// Longest accepted line; longer ones are rejected (and skipped) without being held in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Batches in flight between parser and writer.
const CHANNEL_DEPTH: usize = 4;

/// Product file formats.
#[derive(Debug, Clone)]
pub enum ProductFormat {
    /// One native JSON product per line.
    Jsonl,
    /// CSV with a header row, read through a column mapping.
    Csv(CsvMapping),
}

/// Event file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventFormat {
    /// One native JSON event per line.
    Jsonl,
    /// OTTO sessions, one per line.
    Otto,
}

/// How an import runs.
pub struct ImportOptions {
    /// Records per durable write.
    pub batch_size: usize,
    /// Rejected records kept in the report (all are counted, and all go to `error_sink`).
    pub max_reported_errors: usize,
    /// Receives every rejected record as one JSON line.
    pub error_sink: Option<Box<dyn Write + Send>>,
    /// Recorded as the catalog version's source (e.g. the file name).
    pub source_name: String,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            batch_size: 5_000,
            max_reported_errors: 1_000,
            error_sink: None,
            source_name: "import".into(),
        }
    }
}

/// What an import did.
#[derive(Debug, Default, serde::Serialize)]
pub struct ImportReport {
    /// Records read (accepted + rejected).
    pub records: u64,
    /// Products inserted/changed, or events newly stored.
    pub stored: u64,
    /// Products unchanged, or events already stored (same event_id).
    pub unchanged_or_duplicate: u64,
    /// Events stored but flagged for naming an unknown product.
    pub unknown_product: u64,
    /// Records rejected by parsing or validation.
    pub rejected: u64,
    /// The first rejected records (see `max_reported_errors`).
    pub errors: Vec<RecordError>,
    /// The catalog version a product import created.
    pub catalog_version: Option<i64>,
    /// Wall time.
    #[serde(with = "secs")]
    pub elapsed: Duration,
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

struct Chunk<T> {
    items: Vec<T>,
    errors: Vec<RecordError>,
    records: u64,
}

/// Accumulates parsed records on a parser thread and hands full chunks to the writer.
struct Batcher<T> {
    chunk: Chunk<T>,
    batch_size: usize,
    tx: mpsc::Sender<std::io::Result<Chunk<T>>>,
}

impl<T> Batcher<T> {
    fn new(batch_size: usize, tx: mpsc::Sender<std::io::Result<Chunk<T>>>) -> Self {
        Self {
            chunk: Self::empty(batch_size),
            batch_size,
            tx,
        }
    }

    fn empty(batch_size: usize) -> Chunk<T> {
        Chunk {
            items: Vec::with_capacity(batch_size),
            errors: Vec::new(),
            records: 0,
        }
    }

    /// Sends the chunk when full; `false` when the writer has gone away and parsing should stop.
    fn flush_if_full(&mut self) -> bool {
        if self.chunk.items.len() < self.batch_size && self.chunk.errors.len() < self.batch_size {
            return true;
        }
        let full = std::mem::replace(&mut self.chunk, Self::empty(self.batch_size));
        self.tx.blocking_send(Ok(full)).is_ok()
    }

    /// Sends whatever is left at end of input.
    fn finish(self) {
        if self.chunk.records > 0 {
            let _ = self.tx.blocking_send(Ok(self.chunk));
        }
    }
}

/// Reads one line of at most [`MAX_LINE_BYTES`]; an overlong line is consumed and reported, never buffered.
/// Returns `Ok(None)` at end of input.
fn read_bounded_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let n = reader
        .by_ref()
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.len() > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
        // Skip the rest of the overlong line.
        loop {
            let available = reader.fill_buf()?;
            if available.is_empty() {
                break;
            }
            if let Some(i) = available.iter().position(|b| *b == b'\n') {
                reader.consume(i + 1);
                break;
            }
            let len = available.len();
            reader.consume(len);
        }
        buf.clear();
        return Ok(Some(false));
    }
    Ok(Some(true))
}

/// Runs `parse` over every non-blank line on a dedicated thread, sending batches of `batch_size`.
fn spawn_line_parser<R, T, F>(
    mut reader: R,
    batch_size: usize,
    mut parse: F,
) -> mpsc::Receiver<std::io::Result<Chunk<T>>>
where
    R: BufRead + Send + 'static,
    T: Send + 'static,
    F: FnMut(u64, &str, &mut Vec<T>, &mut Vec<RecordError>) + Send + 'static,
{
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    std::thread::spawn(move || {
        let mut buf = Vec::with_capacity(4096);
        let mut batch = Batcher::new(batch_size, tx);
        let mut line_no = 0u64;
        loop {
            let reject = |chunk: &mut Chunk<T>, line: u64, reason: String| {
                chunk.errors.push(RecordError::at_line(
                    line,
                    None,
                    vec![vitrine_core::FieldError::new("(record)", reason)],
                ));
            };
            match read_bounded_line(&mut reader, &mut buf) {
                Ok(None) => break,
                Err(e) => {
                    let _ = batch.tx.blocking_send(Err(e));
                    return;
                }
                Ok(Some(false)) => {
                    line_no += 1;
                    batch.chunk.records += 1;
                    reject(
                        &mut batch.chunk,
                        line_no,
                        format!("line longer than {MAX_LINE_BYTES} bytes"),
                    );
                }
                Ok(Some(true)) => {
                    line_no += 1;
                    match std::str::from_utf8(&buf) {
                        Err(e) => {
                            batch.chunk.records += 1;
                            reject(
                                &mut batch.chunk,
                                line_no,
                                format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()),
                            );
                        }
                        Ok(text) => {
                            let text = text.trim();
                            if !text.is_empty() {
                                batch.chunk.records += 1;
                                parse(
                                    line_no,
                                    text,
                                    &mut batch.chunk.items,
                                    &mut batch.chunk.errors,
                                );
                            }
                        }
                    }
                }
            }
            if !batch.flush_if_full() {
                return;
            }
        }
        batch.finish();
    });
    rx
}

fn spawn_csv_parser<R: Read + Send + 'static>(
    reader: R,
    mapping: CsvMapping,
    batch_size: usize,
) -> Result<mpsc::Receiver<std::io::Result<Chunk<Product>>>, IngestError> {
    let mut csv_reader = csv::ReaderBuilder::new()
        .delimiter(mapping.options.delimiter as u8)
        .flexible(true)
        .from_reader(reader);
    let headers = csv_reader
        .headers()
        .map_err(|e| IngestError::Mapping(format!("cannot read the header row: {e}")))?
        .clone();
    let bound = mapping.bind(&headers)?;
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    std::thread::spawn(move || {
        let now = Utc::now();
        let mut batch = Batcher::new(batch_size, tx);
        let mut row = csv::StringRecord::new();
        loop {
            let line = csv_reader.position().line() + 1;
            let chunk = &mut batch.chunk;
            match csv_reader.read_record(&mut row) {
                Ok(false) => break,
                Ok(true) => {
                    chunk.records += 1;
                    let value = bound.to_json(&row);
                    let id = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
                    let parsed = serde_path_to_error::deserialize::<_, ProductInput>(value)
                        .map_err(|e| {
                            vec![vitrine_core::FieldError::new(
                                e.path().to_string(),
                                e.inner().to_string(),
                            )]
                        })
                        .and_then(|input| input.validate(now));
                    match parsed {
                        Ok(p) => chunk.items.push(p),
                        Err(errors) => chunk.errors.push(RecordError::at_line(line, id, errors)),
                    }
                }
                Err(e) => {
                    chunk.records += 1;
                    let reason = match e.kind() {
                        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8 in a cell".to_string(),
                        _ => e.to_string(),
                    };
                    chunk.errors.push(RecordError::at_line(
                        line,
                        None,
                        vec![vitrine_core::FieldError::new("(record)", reason)],
                    ));
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        break;
                    }
                }
            }
            if !batch.flush_if_full() {
                return;
            }
        }
        batch.finish();
    });
    Ok(rx)
}

fn record_errors(
    report: &mut ImportReport,
    opts: &mut ImportOptions,
    errors: Vec<RecordError>,
) -> Result<(), IngestError> {
    report.rejected += errors.len() as u64;
    for e in errors {
        if let Some(sink) = opts.error_sink.as_mut() {
            serde_json::to_writer(&mut *sink, &e).map_err(std::io::Error::other)?;
            sink.write_all(b"\n")?;
        }
        if report.errors.len() < opts.max_reported_errors {
            report.errors.push(e);
        }
    }
    Ok(())
}

/// Imports products from a reader (wrap it in a progress bar at the edge) under one new catalog version.
pub async fn import_products<R: BufRead + Send + 'static>(
    store: &dyn Store,
    reader: R,
    format: ProductFormat,
    mut opts: ImportOptions,
) -> Result<ImportReport, IngestError> {
    let started = Instant::now();
    let mut rx = match format {
        ProductFormat::Jsonl => {
            let now = Utc::now();
            spawn_line_parser(reader, opts.batch_size, move |line, text, items, errors| {
                match record::product_from_json(text, now) {
                    Ok(p) => items.push(p),
                    Err((id, errs)) => errors.push(RecordError::at_line(line, id, errs)),
                }
            })
        }
        ProductFormat::Csv(mapping) => spawn_csv_parser(reader, mapping, opts.batch_size)?,
    };
    let version = store
        .begin_catalog_version(&opts.source_name)
        .await
        .map_err(|source| IngestError::Store { stored: 0, source })?;
    let mut report = ImportReport {
        catalog_version: Some(version),
        ..Default::default()
    };
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk?;
        report.records += chunk.records;
        record_errors(&mut report, &mut opts, chunk.errors)?;
        let outcome = store
            .upsert_products(version, &chunk.items)
            .await
            .map_err(|source| IngestError::Store {
                stored: report.stored,
                source,
            })?;
        report.stored += outcome.changed;
        report.unchanged_or_duplicate += outcome.unchanged;
    }
    let counts = VersionCounts {
        changed: report.stored,
        unchanged: report.unchanged_or_duplicate,
        rejected: report.rejected,
    };
    store
        .finish_catalog_version(version, counts)
        .await
        .map_err(|source| IngestError::Store {
            stored: report.stored,
            source,
        })?;
    if let Some(sink) = opts.error_sink.as_mut() {
        sink.flush()?;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Imports events from a reader; idempotent by event_id, unknown products flagged.
pub async fn import_events<R: BufRead + Send + 'static>(
    store: &dyn Store,
    reader: R,
    format: EventFormat,
    mut opts: ImportOptions,
) -> Result<ImportReport, IngestError> {
    let started = Instant::now();
    let now = Utc::now();
    let mut rx = spawn_line_parser(
        reader,
        opts.batch_size,
        move |line, text, items: &mut Vec<Event>, errors| match format {
            EventFormat::Jsonl => match record::event_from_json(text, now) {
                Ok(e) => items.push(e),
                Err((id, errs)) => errors.push(RecordError::at_line(line, id, errs)),
            },
            EventFormat::Otto => match otto::expand_line(text) {
                Err(e) => errors.push(RecordError::at_line(line, None, vec![e])),
                Ok(inputs) => {
                    for input in inputs {
                        let id = input.event_id.clone();
                        match input.validate(now) {
                            Ok(e) => items.push(e),
                            Err(errs) => errors.push(RecordError::at_line(line, Some(id), errs)),
                        }
                    }
                }
            },
        },
    );
    let mut report = ImportReport::default();
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk?;
        report.records += chunk.records;
        record_errors(&mut report, &mut opts, chunk.errors)?;
        let outcome =
            store
                .append_events(chunk.items)
                .await
                .map_err(|source| IngestError::Store {
                    stored: report.stored,
                    source,
                })?;
        report.stored += outcome.stored;
        report.unchanged_or_duplicate += outcome.duplicates;
        report.unknown_product += outcome.unknown_product;
    }
    if let Some(sink) = opts.error_sink.as_mut() {
        sink.flush()?;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn overlong_lines_are_skipped_without_buffering() {
        let mut data = vec![b'x'; MAX_LINE_BYTES + 10];
        data.extend_from_slice(b"\nok\n");
        let mut r = Cursor::new(data);
        let mut buf = Vec::new();
        assert_eq!(read_bounded_line(&mut r, &mut buf).unwrap(), Some(false));
        assert_eq!(read_bounded_line(&mut r, &mut buf).unwrap(), Some(true));
        assert_eq!(buf, b"ok\n");
        assert_eq!(read_bounded_line(&mut r, &mut buf).unwrap(), None);
    }
}
