//! `Store`: a data directory of collections, owned by one process at a time.
//!
//! ```text
//! DATA/LOCK                               held (flock) by the process that opened the store
//! DATA/collections/NAME/collection.json   settings
//! DATA/collections/NAME/wal.log           writes since the snapshot
//! DATA/collections/NAME/snapshot.bin      every item as of one log sequence number
//! DATA/collections/NAME/index.hnsw        the HNSW graph of the snapshot's items (no vectors),
//!                                         tagged with its log sequence number
//! DATA/collections/NAME/text.idx          the snapshot's text index (collections with one),
//!                                         tagged the same way
//! DATA/collections/NAME/spaces/SPACE/     a mixed collection's spaces, each with its own
//!                                         snapshot.bin, index.hnsw and text.idx (one wal.log
//!                                         above them, its records naming their space)
//! ```

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::collection::{Collection, CONFIG_FILE};
use crate::config::{validate_name, CollectionConfig, TextConfig};
use crate::wal::SyncPolicy;
use crate::{Error, Result};

pub struct Store {
    dir: PathBuf,
    sync: SyncPolicy,
    collections: RwLock<BTreeMap<String, Arc<Collection>>>,
    _lock: File,
}

impl Store {
    /// Opens (creating if needed) the data directory and takes its lock.
    pub fn open(dir: &Path) -> Result<Store> {
        Store::open_with(dir, SyncPolicy::default())
    }

    pub fn open_with(dir: &Path, sync: SyncPolicy) -> Result<Store> {
        let collections_dir = dir.join("collections");
        fs::create_dir_all(&collections_dir).map_err(|e| Error::io(&collections_dir, unwritable(e)))?;
        let lock_path = dir.join("LOCK");
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, unwritable(e)))?;
        if lock.try_lock().is_err() {
            let mut pid = String::new();
            let _ = lock.read_to_string(&mut pid);
            return Err(Error::Locked { path: dir.to_path_buf(), pid: pid.trim().to_string() });
        }
        let _ = lock.set_len(0).and_then(|_| lock.rewind()).and_then(|_| write!(lock, "{}", std::process::id()));
        Ok(Store { dir: dir.to_path_buf(), sync, collections: RwLock::new(BTreeMap::new()), _lock: lock })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn collection_dir(&self, name: &str) -> PathBuf {
        self.dir.join("collections").join(name)
    }

    /// Names of every collection, sorted.
    pub fn names(&self) -> Result<Vec<String>> {
        let dir = self.dir.join("collections");
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if validate_name(&name).is_ok() && entry.path().join(CONFIG_FILE).exists() {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    pub fn create(&self, config: CollectionConfig) -> Result<Arc<Collection>> {
        config.validate()?;
        let mut open = self.collections.write();
        let dir = self.collection_dir(&config.name);
        if dir.exists() {
            return Err(Error::CollectionExists(config.name));
        }
        let name = config.name.clone();
        let collection = Arc::new(Collection::create(&dir, config, self.sync)?);
        open.insert(name, collection.clone());
        Ok(collection)
    }

    /// The collection `name`, opened (and recovered) on first use.
    pub fn collection(&self, name: &str) -> Result<Arc<Collection>> {
        if let Some(c) = self.collections.read().get(name) {
            return Ok(c.clone());
        }
        let mut open = self.collections.write();
        if let Some(c) = open.get(name) {
            return Ok(c.clone());
        }
        let dir = self.collection_dir(name);
        if validate_name(name).is_err() || !dir.join(CONFIG_FILE).exists() {
            return Err(Error::UnknownCollection { name: name.to_string(), existing: self.names()? });
        }
        let collection = Arc::new(Collection::open(&dir, self.sync)?);
        open.insert(name.to_string(), collection.clone());
        Ok(collection)
    }

    /// Gives a collection a full-text index (or another one, or none with `None`) over the items
    /// it holds, without embedding anything again: its settings file is replaced (written
    /// aside, synced, renamed) and the collection is opened again, which builds the index from
    /// the stored items. Handles to the collection taken before stay on the old settings.
    pub fn set_text_index(&self, name: &str, text: Option<TextConfig>) -> Result<Arc<Collection>> {
        let current = self.collection(name)?;
        let mut config = current.config().clone();
        config.text = text;
        config.validate()?;
        let mut open = self.collections.write();
        let dir = self.collection_dir(name);
        let path = dir.join(CONFIG_FILE);
        let partial = dir.join(format!("{CONFIG_FILE}.partial"));
        let json = serde_json::to_vec_pretty(&config).map_err(|source| Error::Config { path: path.clone(), source })?;
        let mut file = File::create(&partial).map_err(|e| Error::io(&partial, e))?;
        file.write_all(&json).and_then(|()| file.sync_all()).map_err(|e| Error::io(&partial, e))?;
        fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))?;
        crate::snapshot::sync_dir(&dir)?;
        open.remove(name);
        drop(current);
        let collection = Arc::new(Collection::open(&dir, self.sync)?);
        // A snapshot saves the new index beside it, so the next open reads it.
        collection.snapshot()?;
        open.insert(name.to_string(), collection.clone());
        Ok(collection)
    }

    /// Reads every file of a collection and says what it found; changes nothing, and works on a
    /// collection too damaged to open.
    pub fn check(&self, name: &str) -> Result<crate::Check> {
        crate::repair::check(&self.existing_dir(name)?, name)
    }

    /// Keeps every intact record of a damaged collection's log and snapshots and leaves a
    /// collection that opens; the files as they were are kept in `damaged-SECONDS/` inside its
    /// directory, and the report names what the damaged bytes held. The collection must not be
    /// in use by this store.
    pub fn repair(&self, name: &str) -> Result<crate::Repair> {
        let dir = self.existing_dir(name)?;
        let mut open = self.collections.write();
        if let Some(c) = open.get(name) {
            if Arc::strong_count(c) > 1 {
                return Err(Error::InvalidSettings(format!(
                    "collection {name:?} is in use; repair it when nothing has it open"
                )));
            }
        }
        open.remove(name);
        crate::repair::repair(&dir, name)
    }

    /// The directory of the collection `name`, which must exist.
    fn existing_dir(&self, name: &str) -> Result<PathBuf> {
        let dir = self.collection_dir(name);
        if validate_name(name).is_err() || !dir.join(CONFIG_FILE).exists() {
            return Err(Error::UnknownCollection { name: name.to_string(), existing: self.names()? });
        }
        Ok(dir)
    }

    /// Deletes a collection and everything in it.
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        let mut open = self.collections.write();
        let dir = self.collection_dir(name);
        if validate_name(name).is_err() || !dir.join(CONFIG_FILE).exists() {
            return Err(Error::UnknownCollection { name: name.to_string(), existing: self.names()? });
        }
        open.remove(name);
        // Rename first so a crash mid-delete never leaves a half collection under its name.
        let doomed = self.dir.join("collections").join(format!(".dropped-{name}-{}", std::process::id()));
        fs::rename(&dir, &doomed).map_err(|e| Error::io(&dir, e))?;
        fs::remove_dir_all(&doomed).map_err(|e| Error::io(&doomed, e))
    }
}

/// A data directory kin cannot write gets an error that says why it must.
fn unwritable(e: std::io::Error) -> std::io::Error {
    use std::io::ErrorKind::{PermissionDenied, ReadOnlyFilesystem};
    match e.kind() {
        ReadOnlyFilesystem | PermissionDenied => std::io::Error::new(
            e.kind(),
            format!("{e}: kin keeps its lock and its logs in the data directory, so it needs one it can write"),
        ),
        _ => e,
    }
}
