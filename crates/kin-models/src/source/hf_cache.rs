//! The Hugging Face cache (`$HF_HUB_CACHE`, or `$HF_HOME/hub`), so that models users already
//! downloaded with `transformers` or `sentence-transformers` are reused.
//!
//! Layout: `models--{org}--{name}/refs/{revision}` holds a commit hash, and
//! `models--{org}--{name}/snapshots/{hash}/` the files (symlinks into `blobs/`).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing::debug;

use super::HubFiles;
use crate::cache::PartialFile;
use crate::error::{Error, Result};

/// The cache folder of one repository.
pub(crate) fn repo_dir(hub_cache: &Path, repo: &str) -> PathBuf {
    hub_cache.join(format!("models--{}", repo.replace('/', "--")))
}

/// The snapshot holding every required file: the one `refs/{revision}` points at, else the
/// newest snapshot that is complete.
pub(crate) fn find_snapshot(hub_cache: &Path, files: &HubFiles) -> Option<PathBuf> {
    let repo = repo_dir(hub_cache, files.repo);
    let snapshots = repo.join("snapshots");
    let complete = |dir: &Path| files.required.iter().all(|f| dir.join(f).is_file());

    let pinned = fs::read_to_string(repo.join("refs").join(files.revision)).ok();
    for name in pinned.as_deref().map(str::trim).into_iter().chain([files.revision]) {
        let dir = snapshots.join(name);
        if !name.is_empty() && complete(&dir) {
            return Some(dir);
        }
    }
    let mut others: Vec<(SystemTime, PathBuf)> = fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let modified = entry.metadata().and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
            Some((modified, entry.path()))
        })
        .filter(|(_, dir)| complete(dir))
        .collect();
    others.sort();
    let newest = others.pop().map(|(_, dir)| dir);
    if newest.is_some() {
        debug!(
            "refs/{} of {} is missing or incomplete; using the newest complete snapshot",
            files.revision, files.repo
        );
    }
    newest
}

/// Copies the model's files (following the cache's symlinks) from a snapshot into `dest`.
pub(crate) fn copy_snapshot(snapshot: &Path, files: &HubFiles, dest: &Path) -> Result<()> {
    for name in files.required.iter().chain(files.optional) {
        let from = snapshot.join(name);
        if !from.is_file() {
            continue;
        }
        let mut input = File::open(&from).map_err(|e| Error::io(&from, e))?;
        let mut out = PartialFile::create(&dest.join(name))?;
        out.copy_from(&mut input).map_err(|e| Error::io(&from, e))?;
        out.finish(None)?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::card::{SENTENCE_TRANSFORMERS_FILES, SENTENCE_TRANSFORMERS_OPTIONAL};

    const FILES: HubFiles<'static> = HubFiles {
        repo: "sentence-transformers/all-MiniLM-L6-v2",
        revision: "main",
        required: SENTENCE_TRANSFORMERS_FILES,
        optional: SENTENCE_TRANSFORMERS_OPTIONAL,
    };

    /// Writes a snapshot the way huggingface_hub does: blobs, and symlinks to them.
    pub(crate) fn fake_snapshot(cache: &Path, hash: &str, files: &[&str]) -> PathBuf {
        let repo = repo_dir(cache, FILES.repo);
        let snap = repo.join("snapshots").join(hash);
        fs::create_dir_all(repo.join("blobs")).unwrap();
        for (i, f) in files.iter().enumerate() {
            let path = snap.join(f);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            let blob = repo.join("blobs").join(format!("{hash}-{i}"));
            fs::write(&blob, format!("contents of {f}")).unwrap();
            #[cfg(unix)]
            std::os::unix::fs::symlink(&blob, &path).unwrap();
            #[cfg(not(unix))]
            fs::copy(&blob, &path).unwrap();
        }
        snap
    }

    #[test]
    fn follows_refs_main() {
        let tmp = tempfile::tempdir().unwrap();
        let old = fake_snapshot(tmp.path(), "aaa", SENTENCE_TRANSFORMERS_FILES);
        let new = fake_snapshot(tmp.path(), "bbb", SENTENCE_TRANSFORMERS_FILES);
        let refs = repo_dir(tmp.path(), FILES.repo).join("refs");
        fs::create_dir_all(&refs).unwrap();
        fs::write(refs.join("main"), "aaa\n").unwrap();
        assert_eq!(find_snapshot(tmp.path(), &FILES), Some(old));
        fs::write(refs.join("main"), "bbb").unwrap();
        assert_eq!(find_snapshot(tmp.path(), &FILES), Some(new));
    }

    #[test]
    fn without_refs_takes_a_complete_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(find_snapshot(tmp.path(), &FILES), None, "empty cache");
        fake_snapshot(tmp.path(), "partial", &["config.json"]);
        assert_eq!(find_snapshot(tmp.path(), &FILES), None, "config.json alone is not a model");
        let full = fake_snapshot(tmp.path(), "full", SENTENCE_TRANSFORMERS_FILES);
        assert_eq!(find_snapshot(tmp.path(), &FILES), Some(full));
    }

    #[test]
    fn copies_through_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let snap = fake_snapshot(tmp.path(), "c0ffee", SENTENCE_TRANSFORMERS_FILES);
        let dest = tmp.path().join("out");
        copy_snapshot(&snap, &FILES, &dest).unwrap();
        let pooling = fs::read_to_string(dest.join("1_Pooling/config.json")).unwrap();
        assert_eq!(pooling, "contents of 1_Pooling/config.json");
        assert!(!dest.join("tokenizer_config.json").exists(), "optional files absent from the snapshot are skipped");
        assert!(!dest.join("1_Pooling/config.json").is_symlink());
    }
}
