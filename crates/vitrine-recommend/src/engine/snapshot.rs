//! Signals snapshot: the live signals and the item table as of one event sequence, written when the server
//! stops, so the next start applies only the events stored after it instead of replaying the whole log
//! (minutes for ten million events).
//!
//! Invariants:
//! - A snapshot holds exactly the effect of the events with `seq ≤ event_seq`; loading it and applying the
//!   events after `event_seq` gives the same signals as a full replay. So it is written only when no
//!   accepted event is still on its way into the signals (after the HTTP server drained), and a process
//!   killed later loses nothing: its newer events are in the store and are replayed.
//! - It is derived data: a missing, unreadable, older-format or differently configured snapshot is ignored
//!   (full replay), never an error that stops the server.
//! - Erasing a shopper deletes it (the shopper's history is baked into it).

use super::RecommendEngine;
use crate::catalog::ItemTable;
use crate::signals::{Signals, SignalsConfig};
use serde::{Deserialize, Serialize};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Bumped whenever the serialised layout of [`Signals`] or [`ItemTable`] changes.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SnapshotFile {
    format: u32,
    config: SignalsConfig,
    event_seq: i64,
    items: ItemTable,
    signals: Signals,
}

/// What a snapshot write did.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotInfo {
    /// Where it was written.
    pub path: PathBuf,
    /// The last event sequence it covers.
    pub event_seq: i64,
    /// File size in bytes.
    pub bytes: u64,
}

/// Why a snapshot could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// File system.
    #[error("snapshot {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Encoding.
    #[error("snapshot encoding: {0}")]
    Encode(String),
    /// The store could not say how far the event log goes.
    #[error(transparent)]
    Store(#[from] vitrine_store::StoreError),
}

/// The state a valid snapshot restores.
pub(super) struct Restored {
    pub(super) event_seq: i64,
    pub(super) items: ItemTable,
    pub(super) signals: Signals,
}

/// Reads `path` if it is a usable snapshot for `config`; logs and returns `None` otherwise.
pub(super) fn read(path: &Path, config: &SignalsConfig) -> Option<Restored> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "signals snapshot unreadable; replaying the event log");
            return None;
        }
    };
    let file: SnapshotFile = match postcard::from_bytes(&bytes) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "signals snapshot undecodable; replaying the event log");
            return None;
        }
    };
    if file.format != FORMAT || &file.config != config {
        tracing::info!(path = %path.display(), "signals snapshot from another format or configuration; replaying the event log");
        return None;
    }
    Some(Restored {
        event_seq: file.event_seq,
        items: file.items,
        signals: file.signals,
    })
}

/// Writes atomically: a temporary file beside `path`, synced, then renamed over it.
fn write(path: &Path, file: &SnapshotFile) -> Result<u64, SnapshotError> {
    let io = |source| SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("tmp");
    let out = std::fs::File::create(&tmp).map_err(io)?;
    let mut writer = BufWriter::with_capacity(1 << 20, out);
    postcard::to_io(file, &mut writer).map_err(|e| SnapshotError::Encode(e.to_string()))?;
    writer.flush().map_err(io)?;
    let out = writer.into_inner().map_err(|e| io(e.into_error()))?;
    out.sync_all().map_err(io)?;
    let bytes = out.metadata().map_err(io)?.len();
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(bytes)
}

impl RecommendEngine {
    /// Where the signals snapshot lives: [`Self::load_from`] starts from it, [`Self::save_snapshot`]
    /// writes it, [`Self::forget_shopper`] deletes it. Set once, before loading; without it every start
    /// replays the whole log.
    pub fn set_snapshot_path(&self, path: PathBuf) {
        let _ = self.snapshot_path.set(path);
    }

    /// Saves the signals and item table as of the store's newest event (`None` without a snapshot path).
    /// Call it only when no accepted event is still being applied: the server calls it after draining
    /// requests, before exiting.
    pub async fn save_snapshot(
        &self,
        store: &dyn vitrine_store::Store,
    ) -> Result<Option<SnapshotInfo>, SnapshotError> {
        let Some(path) = self.snapshot_path.get() else {
            return Ok(None);
        };
        let event_seq = store.latest_event_seq().await?;
        let file = SnapshotFile {
            format: FORMAT,
            config: self.config.signals.clone(),
            event_seq,
            items: self.items_snapshot(),
            signals: self
                .signals_snapshot()
                .unwrap_or_else(|| Signals::new(self.config.signals.clone())),
        };
        let target = path.to_path_buf();
        let bytes = tokio::task::spawn_blocking(move || write(&target, &file))
            .await
            .map_err(|e| SnapshotError::Encode(e.to_string()))??;
        Ok(Some(SnapshotInfo {
            path: path.to_path_buf(),
            event_seq,
            bytes,
        }))
    }

    /// Forgets a shopper (erasure): their live state goes, and the snapshot (which holds their history)
    /// is deleted so the next start rebuilds from the erased log.
    pub fn forget_shopper(&self, user_id: &str, session_ids: &[String]) {
        if let Ok(mut s) = self.signals.write() {
            s.forget(user_id, session_ids);
        }
        if let Some(path) = self.snapshot_path.get() {
            if let Err(e) = std::fs::remove_file(path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(path = %path.display(), error = %e, "could not delete the signals snapshot after an erasure");
                }
            }
        }
    }
}
