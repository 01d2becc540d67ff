//! `FileStore`: uploaded files kept by their sha256 under the data directory, so that search
//! results can show the picture, play the sound, or seek the video they came from.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    pub fn open(dir: &Path) -> Result<FileStore> {
        fs::create_dir_all(dir).map_err(|e| Error::Config(format!("{}: {e}", dir.display())))?;
        Ok(FileStore { dir: dir.to_path_buf() })
    }

    /// Stores `bytes` durably (written, synced, renamed into place) and returns their sha256.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let hash = hex(&Sha256::digest(bytes));
        let path = self.dir.join(&hash);
        if path.exists() {
            return Ok(hash);
        }
        let partial = self.dir.join(format!("{hash}.partial-{}", std::process::id()));
        let mut file = fs::File::create(&partial)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&partial, &path)?;
        fs::File::open(&self.dir)?.sync_all()?;
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
        let files = FileStore::open(dir.path()).unwrap();
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
}
