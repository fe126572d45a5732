//! # vitrine-ingest — getting data in without losing any
//!
//! Parsers for every way data arrives (JSONL in the native schema, CSV with a column-mapping file, OTTO
//! session files, HTTP JSON batches) and the streaming import pipeline that feeds them to the
//! [`Store`](vitrine_store::Store).
//!
//! Principles:
//! - **One bad record never costs a good one.** Each record is parsed and validated on its own; rejects come
//!   back as [`RecordError`]s with their line (files) or index (HTTP), field and reason.
//! - **Bounded memory.** Files are read line by line on a parser thread and handed to the writer in batches
//!   through a bounded channel, so a 10-million-event file never sits in memory.
//! - **Same rules everywhere.** Every path ends in the domain's `validate`, so CSV, JSONL and HTTP accept and
//!   refuse exactly the same records.

pub mod batch;
pub mod csv_mapping;
pub mod otto;
pub mod pipeline;
pub mod record;

pub use batch::{parse_event_batch, parse_product_batch, BatchError, ParsedBatch};
pub use csv_mapping::CsvMapping;
pub use pipeline::{
    import_events, import_products, EventFormat, ImportOptions, ImportReport, ProductFormat,
};
pub use vitrine_core::RecordError;

/// Why an import as a whole failed (as opposed to single records being rejected).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Reading the source failed.
    #[error("reading the input failed: {0}")]
    Io(#[from] std::io::Error),
    /// The store refused a write; records after the last acknowledged batch were not stored.
    #[error("storing failed after {stored} records were stored: {source}")]
    Store {
        /// Records durably stored before the failure.
        stored: u64,
        /// The storage error.
        source: vitrine_store::StoreError,
    },
    /// The CSV mapping file or the CSV header is unusable.
    #[error("CSV mapping: {0}")]
    Mapping(String),
}
