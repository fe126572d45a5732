//! Model versions on disk: each trained version is a directory (`v<N>/`) with its rankers and sequence
//! model, registered in the store with its manifest (training window, feature schema, offline metrics).
//! Promotion and rollback only switch which loaded bundle serves, so they take effect at once.

use crate::catalog::{ItemId, ItemTable};
use crate::ranker::Rankers;
use crate::seqrec::linear::LinearSeqModel;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The sequence model with the product ids of its rows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SequenceArtifact {
    /// Product id of each model row.
    pub skus: Vec<String>,
    /// The pruned model.
    pub model: LinearSeqModel,
}

/// Everything one version serves with.
#[derive(Debug, Default)]
pub struct ModelBundle {
    /// Registry version (`None`: untrained heuristic).
    pub version: Option<i64>,
    /// Ranking models.
    pub rankers: Rankers,
    /// Sequence model.
    pub sequence: Option<SequenceArtifact>,
    /// Item index → model row.
    pub row_of: HashMap<ItemId, u32>,
    /// Model row → item index.
    pub item_of: Vec<Option<ItemId>>,
}

/// Errors reading or writing a version.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// File system.
    #[error("model files at {path}: {source}")]
    Io {
        /// Where.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Unreadable content.
    #[error("model files at {path} are unreadable: {reason}")]
    Corrupt {
        /// Where.
        path: String,
        /// Why.
        reason: String,
    },
}

impl ModelBundle {
    /// Connects the sequence model's rows to the current item table.
    pub fn link(&mut self, items: &ItemTable) {
        self.row_of.clear();
        self.item_of.clear();
        if let Some(seq) = &self.sequence {
            for (row, sku) in seq.skus.iter().enumerate() {
                let id = items.id(sku);
                if let Some(id) = id {
                    self.row_of.insert(id, row as u32);
                }
                self.item_of.push(id);
            }
        }
    }

    /// Writes the bundle's files into `dir` (created), atomically per file.
    pub fn save(&self, dir: &Path) -> Result<(), RegistryError> {
        let io = |source| RegistryError::Io {
            path: dir.display().to_string(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let rankers = self.rankers.to_json().map_err(|e| RegistryError::Corrupt {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        write_atomic(
            &dir.join("rankers.json"),
            &serde_json::to_vec(&rankers).unwrap_or_default(),
        )
        .map_err(io)?;
        if let Some(seq) = &self.sequence {
            let bytes = serde_json::to_vec(seq).map_err(|e| RegistryError::Corrupt {
                path: dir.display().to_string(),
                reason: e.to_string(),
            })?;
            write_atomic(&dir.join("sequence.json"), &bytes).map_err(io)?;
        }
        Ok(())
    }

    /// Reads a bundle written by [`Self::save`].
    pub fn load(dir: &Path, version: i64, items: &ItemTable) -> Result<Self, RegistryError> {
        let corrupt = |reason: String| RegistryError::Corrupt {
            path: dir.display().to_string(),
            reason,
        };
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|source| RegistryError::Io {
                path: dir.join(name).display().to_string(),
                source,
            })
        };
        let rankers: serde_json::Value =
            serde_json::from_slice(&read("rankers.json")?).map_err(|e| corrupt(e.to_string()))?;
        let rankers = Rankers::from_json(&rankers).map_err(|e| corrupt(e.to_string()))?;
        let sequence = if dir.join("sequence.json").exists() {
            Some(
                serde_json::from_slice(&read("sequence.json")?)
                    .map_err(|e| corrupt(e.to_string()))?,
            )
        } else {
            None
        };
        let mut bundle = Self {
            version: Some(version),
            rankers,
            sequence,
            ..Default::default()
        };
        bundle.link(items);
        Ok(bundle)
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}
