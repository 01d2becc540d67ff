//! `FileStore`: uploaded files kept by their sha256 under the data directory, so that search
//! results can show the picture, play the sound, or seek the video they came from.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

pub struct FileStore {
    dir: PathBuf,
    /// Most bytes the kept files may take (`u64::MAX`: no limit but the disk's).
    limit: u64,
    /// Bytes they take now.
    used: AtomicU64,
}

impl FileStore {
    /// The kept files under `dir`, which may take at most `limit` bytes in all.
    pub fn open(dir: &Path, limit: Option<u64>) -> Result<FileStore> {
        fs::create_dir_all(dir).map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
        let entries = fs::read_dir(dir).map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
        let used = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().len() == 64)
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        Ok(FileStore { dir: dir.to_path_buf(), limit: limit.unwrap_or(u64::MAX), used: AtomicU64::new(used) })
    }

    /// Stores `bytes` durably (written, synced, renamed into place) and returns their sha256.
    /// Refused with `StorageFull` past the limit (or when the disk is full), leaving nothing
    /// behind.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let hash = hex(&Sha256::digest(bytes));
        let path = self.dir.join(&hash);
        if path.exists() {
            return Ok(hash);
        }
        let size = bytes.len() as u64;
        let used = self.used.load(Ordering::Relaxed);
        if used.saturating_add(size) > self.limit {
            let message = format!(
                "the kept files take {used} bytes, and {size} more would pass the limit of {} (kin serve --max-files-mb)",
                self.limit
            );
            return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, message));
        }
        let partial = self.dir.join(format!("{hash}.partial-{}", std::process::id()));
        let written = fs::File::create(&partial).and_then(|mut file| {
            file.write_all(bytes)?;
            file.sync_all()
        });
        if let Err(e) = written.and_then(|()| fs::rename(&partial, &path)) {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
        fs::File::open(&self.dir)?.sync_all()?;
        self.used.fetch_add(size, Ordering::Relaxed);
        Ok(hash)
    }

    /// The path of a stored file, if `hash` names one.
    pub fn path(&self, hash: &str) -> Option<PathBuf> {
        let valid = hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        let path = self.dir.join(hash);
        (valid && path.is_file()).then_some(path)
    }

    /// A scratch file for a query's bytes (audio and video are read by path); removed on drop.
    pub fn scratch(&self, bytes: &[u8]) -> std::io::Result<Scratch> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = self.dir.join(format!(".query-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        fs::write(&path, bytes)?;
        Ok(Scratch(path))
    }
}

/// `path` as a file to serve, when it is a regular file inside one of `roots` once every link
/// in it is followed (so neither `..` nor a symbolic link leads out of them).
pub fn within_roots(roots: &[PathBuf], path: &str) -> Option<PathBuf> {
    let real = fs::canonicalize(path).ok().filter(|p| p.is_file())?;
    roots.iter().filter_map(|r| fs::canonicalize(r).ok()).any(|root| real.starts_with(root)).then_some(real)
}

pub struct Scratch(PathBuf);

impl Scratch {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The media type of content, from its first bytes.
pub fn media_type(head: &[u8]) -> &'static str {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    match () {
        _ if at(0, b"\xFF\xD8\xFF") => "image/jpeg",
        _ if at(0, b"\x89PNG") => "image/png",
        _ if at(0, b"GIF8") => "image/gif",
        _ if at(0, b"RIFF") && at(8, b"WEBP") => "image/webp",
        _ if at(0, b"BM") => "image/bmp",
        _ if at(0, b"II*\0") || at(0, b"MM\0*") => "image/tiff",
        _ if at(0, b"RIFF") && at(8, b"WAVE") => "audio/wav",
        _ if at(0, b"fLaC") => "audio/flac",
        _ if at(0, b"OggS") => "audio/ogg",
        _ if at(0, b"ID3") || (head.len() > 1 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) => "audio/mpeg",
        _ if at(4, b"ftypM4A") => "audio/mp4",
        _ if at(4, b"ftyp") => "video/mp4",
        _ if at(0, b"\x1A\x45\xDF\xA3") => "video/webm",
        _ if std::str::from_utf8(&head[..head.len().min(512)]).is_ok() => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_kept_by_hash_and_only_hashes_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::open(dir.path(), None).unwrap();
        let hash = files.put(b"hello").unwrap();
        assert_eq!(hash, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(fs::read(files.path(&hash).unwrap()).unwrap(), b"hello");
        assert_eq!(files.put(b"hello").unwrap(), hash);
        for bad in ["../etc/passwd", "", &hash.to_uppercase(), &hash[..63]] {
            assert!(files.path(bad).is_none(), "{bad}");
        }
        let scratch = files.scratch(b"query").unwrap();
        let p = scratch.path().to_path_buf();
        assert!(p.exists());
        drop(scratch);
        assert!(!p.exists());
        assert_eq!(media_type(b"\x89PNG\r\n"), "image/png");
        assert_eq!(media_type(b"RIFF\0\0\0\0WAVEfmt "), "audio/wav");
    }

    #[test]
    fn kept_files_stay_within_their_limit_and_a_refusal_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = FileStore::open(dir.path(), Some(10)).unwrap();
        let first = files.put(b"123456").unwrap();
        let err = files.put(b"abcdef").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
        assert!(err.to_string().contains("--max-files-mb"), "{err}");
        assert_eq!(files.put(b"123456").unwrap(), first, "a file already kept takes no more room");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "nothing partial is left");
        // The limit counts what an earlier run kept.
        let again = FileStore::open(dir.path(), Some(10)).unwrap();
        assert_eq!(again.put(b"abcdef").unwrap_err().kind(), std::io::ErrorKind::StorageFull);
        assert!(FileStore::open(dir.path(), Some(12)).unwrap().put(b"abcdef").is_ok());
    }
}
