//! `Collection`: one log and the vector spaces it keeps (one for a collection of one model):
//! writes, snapshots, and the calls that span spaces.

use std::fs;
use std::path::{Path, PathBuf};

use kin_core::fault;
use parking_lot::Mutex;

use crate::backend::Usage;
use crate::config::CollectionConfig;
use crate::fusion::Query;
use crate::hit::{validate_items, Hit, ScanCursor, SearchParams};
use crate::item::{Item, ItemId};
use crate::record::Record;
use crate::snapshot;
use crate::space::Space;
use crate::state::State;
use crate::wal::{SyncPolicy, Wal};
use crate::{Error, Result};

/// The log is folded into a snapshot once it grows past this many bytes,
const SNAPSHOT_AFTER_BYTES: u64 = 256 << 20;
/// or once it holds more records than this and than the collection has items (so that
/// snapshots, which rewrite everything, cost a constant amount per write);
const SNAPSHOT_AFTER_RECORDS: usize = 100_000;
/// or, when a bulk write ends ([`Collection::checkpoint`]), more than this many;
const CHECKPOINT_AFTER_RECORDS: usize = 1_000;
/// or once a space holds more deleted slots than this and than live items (the snapshot
/// compacts them away, so memory under churn stays within about twice the live items).
const COMPACT_AFTER_DEAD: usize = 1_000;

pub(crate) const CONFIG_FILE: &str = "collection.json";
pub(crate) const WAL_FILE: &str = "wal.log";
pub(crate) const SNAPSHOT_FILE: &str = "snapshot.bin";
pub(crate) const INDEX_FILE: &str = "index.hnsw";
/// A mixed collection's spaces, each in a directory of its own under this one.
pub(crate) const SPACES_DIR: &str = "spaces";

/// A collection: one write-ahead log and one or more vector spaces, each with its own items,
/// index and snapshot. A collection of one model has one space whose files lie beside the log;
/// a mixed collection keeps each space's under `spaces/NAME/`, and its log records name their
/// space, so a write that touches several spaces is still one frame.
pub struct Collection {
    config: CollectionConfig,
    dir: PathBuf,
    spaces: Vec<Space>,
    log: Mutex<Log>,
}

/// The log and what it holds since the last snapshot.
struct Log {
    wal: Wal,
    /// The sequence number of the next record.
    next_lsn: u64,
    /// Records since the last snapshot: what opening would replay.
    logged: usize,
}

impl Collection {
    /// Creates the collection's directory and files.
    pub(crate) fn create(dir: &Path, config: CollectionConfig, sync: SyncPolicy) -> Result<Self> {
        config.validate()?;
        let partial = dir.with_extension("partial");
        let _ = fs::remove_dir_all(&partial);
        fs::create_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
        let cfg_path = partial.join(CONFIG_FILE);
        let json =
            serde_json::to_vec_pretty(&config).map_err(|source| Error::Config { path: cfg_path.clone(), source })?;
        fs::write(&cfg_path, json).map_err(|e| Error::io(&cfg_path, e))?;
        snapshot::sync_dir(&partial)?;
        fs::rename(&partial, dir).map_err(|e| Error::io(dir, e))?;
        snapshot::sync_dir(dir.parent().unwrap_or(Path::new(".")))?;
        Collection::open(dir, sync)
    }

    /// Opens a collection: each space's snapshot and the index saved with it, then the log
    /// written since (each record applied to a space whose snapshot does not hold it yet).
    pub(crate) fn open(dir: &Path, sync: SyncPolicy) -> Result<Self> {
        let cfg_path = dir.join(CONFIG_FILE);
        let text = fs::read(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
        let config: CollectionConfig =
            serde_json::from_slice(&text).map_err(|source| Error::Config { path: cfg_path.clone(), source })?;
        config.validate()?;
        let mut states = Vec::new();
        for (space_config, space_dir) in space_layout(&config, dir) {
            let snap_path = space_dir.join(SNAPSHOT_FILE);
            let state = match snapshot::Reader::open(&snap_path)? {
                Some(snap) => State::restore(&space_config, &space_dir.join(INDEX_FILE), &snap_path, snap)?,
                None => State::new(&space_config)?,
            };
            states.push((space_config, space_dir, state));
        }
        let mut next_lsn = states.iter().map(|(_, _, s)| s.next_lsn).max().unwrap_or(1);
        let (wal, records) = Wal::open(&dir.join(WAL_FILE), sync, next_lsn)?;
        let mut replay: Vec<Vec<Record>> = states.iter().map(|_| Vec::new()).collect();
        let mut logged = 0;
        let mut parts = Vec::new();
        for (lsn, record) in records {
            parts.clear();
            record.by_space(&mut parts);
            for (space, write) in parts.drain(..) {
                let Some((_, _, state)) = states.get(space) else {
                    return Err(Error::Corrupt {
                        path: dir.join(WAL_FILE),
                        message: format!("record {lsn} writes space {space}, which the collection does not have"),
                    });
                };
                if lsn >= state.next_lsn {
                    replay[space].push(write);
                    logged += 1;
                }
            }
            next_lsn = next_lsn.max(lsn + 1);
        }
        let mut spaces = Vec::with_capacity(states.len());
        for ((config, dir, mut state), records) in states.into_iter().zip(replay) {
            state.apply_all(records.into_iter())?;
            state.next_lsn = next_lsn;
            spaces.push(Space::new(config, dir, state));
        }
        tracing::debug!(collection = %config.name, spaces = spaces.len(), replayed = logged, "opened");
        let log = Mutex::new(Log { wal, next_lsn, logged });
        Ok(Collection { config, dir: dir.to_path_buf(), spaces, log })
    }

    pub fn config(&self) -> &CollectionConfig {
        &self.config
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Items stored now (an item in several spaces counts once).
    pub fn count(&self) -> usize {
        match self.spaces.as_slice() {
            [only] => only.count(),
            spaces => {
                let states: Vec<_> = spaces.iter().map(|s| s.state.read()).collect();
                let mut ids = std::collections::HashSet::new();
                for state in &states {
                    ids.extend(state.ids.keys());
                }
                ids.len()
            }
        }
    }

    /// The vector spaces, in their order (one for a collection of one model).
    pub(crate) fn spaces(&self) -> &[Space] {
        &self.spaces
    }

    /// The one space of a collection of one model; a mixed collection asks for a space's name.
    pub(crate) fn only_space(&self) -> Result<&Space> {
        match self.spaces.as_slice() {
            [only] if !self.config.is_mixed() => Ok(only),
            _ => Err(Error::SpaceNeeded {
                collection: self.config.name.clone(),
                spaces: self.config.spaces.iter().map(|s| s.settings.name.clone()).collect(),
            }),
        }
    }

    /// The place of the space `name`.
    pub(crate) fn space_index(&self, name: &str) -> Result<usize> {
        self.config.space(name).map(|(i, _)| i).ok_or_else(|| Error::UnknownSpace {
            collection: self.config.name.clone(),
            space: name.to_string(),
            spaces: self.config.spaces.iter().map(|s| s.settings.name.clone()).collect(),
        })
    }

    /// Checks that vectors of `model` may enter this collection.
    pub fn check_model(&self, model: &str) -> Result<()> {
        self.only_space()?.check_model(model)
    }

    /// Inserts or replaces items; durable when it returns. A bad item rejects the whole batch
    /// and nothing of it is written.
    pub fn upsert(&self, items: Vec<Item>) -> Result<()> {
        self.only_space()?;
        self.upsert_spaces(vec![(0, items)])
    }

    /// Inserts or replaces items in several spaces as one change: durable when it returns, and
    /// a crash keeps all of it or none of it. A bad item rejects all of it.
    pub fn upsert_spaces(&self, writes: Vec<(usize, Vec<Item>)>) -> Result<()> {
        self.replace_spaces(&[], writes)
    }

    /// Deletes items (from every space that holds them); returns how many existed. Durable
    /// when it returns.
    pub fn delete(&self, ids: &[ItemId]) -> Result<usize> {
        self.delete_where(ids, &|_| true)
    }

    /// Deletes items from one space only.
    pub(crate) fn delete_in(&self, place: usize, ids: &[ItemId]) -> Result<usize> {
        self.delete_where(ids, &|p| p == place)
    }

    fn delete_where(&self, ids: &[ItemId], in_space: &dyn Fn(usize) -> bool) -> Result<usize> {
        let mut found = std::collections::HashSet::new();
        let mut records = Vec::new();
        for (place, space) in self.spaces.iter().enumerate().filter(|(p, _)| in_space(*p)) {
            let state = space.state.read();
            for id in ids.iter().filter(|id| state.ids.contains_key(id)) {
                found.insert(id);
                records.push(self.tagged(place, Record::Delete(id.clone())));
            }
        }
        let n = found.len();
        self.write(one_frame(records))?;
        Ok(n)
    }

    /// Deletes `delete` and upserts `items` as one change: durable when it returns, and a crash
    /// keeps all of it or none of it (one log frame). Ids in both lists end up upserted.
    pub fn replace(&self, delete: &[ItemId], items: Vec<Item>) -> Result<()> {
        self.only_space()?;
        self.replace_spaces(delete, vec![(0, items)])
    }

    /// [`Collection::replace`] across spaces: `delete` leaves every space, each list of items
    /// enters its space, all in one frame.
    pub fn replace_spaces(&self, delete: &[ItemId], writes: Vec<(usize, Vec<Item>)>) -> Result<()> {
        self.replace_where(delete, &|_| true, writes)
    }

    /// [`Collection::replace`] across the spaces at `places`: `delete` leaves those spaces only.
    pub(crate) fn replace_named(
        &self,
        delete: &[ItemId],
        places: &[usize],
        writes: Vec<(usize, Vec<Item>)>,
    ) -> Result<()> {
        self.replace_where(delete, &|p| places.contains(&p), writes)
    }

    /// [`Collection::replace`] within one space.
    pub(crate) fn replace_in(&self, place: usize, delete: &[ItemId], items: Vec<Item>) -> Result<()> {
        self.replace_where(delete, &|p| p == place, vec![(place, items)])
    }

    fn replace_where(
        &self,
        delete: &[ItemId],
        in_space: &dyn Fn(usize) -> bool,
        mut writes: Vec<(usize, Vec<Item>)>,
    ) -> Result<()> {
        for (place, items) in writes.iter_mut() {
            let Some(space) = self.spaces.get(*place) else {
                return Err(Error::InvalidSettings(format!("collection {:?} has no space {place}", self.config.name)));
            };
            validate_items(&space.config, items)?;
        }
        let mut records = Vec::new();
        for (place, space) in self.spaces.iter().enumerate().filter(|(p, _)| in_space(*p)) {
            let state = space.state.read();
            let upserted: std::collections::HashSet<&ItemId> =
                writes.iter().filter(|(p, _)| *p == place).flat_map(|(_, items)| items.iter().map(|i| &i.id)).collect();
            for id in delete.iter().filter(|id| state.ids.contains_key(id) && !upserted.contains(id)) {
                records.push(self.tagged(place, Record::Delete(id.clone())));
            }
        }
        for (place, items) in writes {
            records.extend(items.into_iter().map(|item| self.tagged(place, Record::Upsert(item))));
        }
        self.write(one_frame(records))
    }

    /// A write as the log holds it: as it is in a collection of one model, marked with its
    /// space in a mixed one.
    fn tagged(&self, place: usize, record: Record) -> Record {
        if self.config.is_mixed() {
            Record::Space(place as u8, Box::new(record))
        } else {
            record
        }
    }

    fn write(&self, records: Vec<Record>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        // Writers take turns on the log; searches go on during the fsync and wait only while
        // the acknowledged records are applied.
        let mut log = self.log.lock();
        let first = log.next_lsn;
        log.wal.append(first, &records)?;
        log.next_lsn += records.len() as u64;
        let mut parts = Vec::new();
        for record in records {
            record.by_space(&mut parts);
        }
        log.logged += parts.len();
        let mut per_space: Vec<Vec<Record>> = self.spaces.iter().map(|_| Vec::new()).collect();
        for (place, write) in parts {
            per_space[place].push(write);
        }
        let mut items = 0;
        let mut churned = false;
        for (space, writes) in self.spaces.iter().zip(per_space) {
            let mut state = space.state.write();
            state.next_lsn = log.next_lsn;
            if !writes.is_empty() {
                state.apply_all(writes.into_iter())?;
            }
            items += state.ids.len();
            let dead = state.slots.len() - state.ids.len();
            churned |= dead > COMPACT_AFTER_DEAD.max(state.ids.len());
        }
        let long_log = log.logged > SNAPSHOT_AFTER_RECORDS.max(items) || log.wal.len() > SNAPSHOT_AFTER_BYTES;
        if long_log || churned {
            // The write is durable and applied: a snapshot that fails (a full disk) is tried
            // again after a later write, and must not make this one look refused.
            if let Err(error) = self.snapshot_locked(&mut log) {
                tracing::warn!(collection = %self.config.name, %error, "the log was not folded into a snapshot");
            }
        }
        Ok(())
    }

    /// Folds the log into a snapshot now: deleted items leave the index (their links repaired),
    /// and the index is saved beside the snapshot so the next open reads it instead of building.
    pub fn snapshot(&self) -> Result<()> {
        let mut log = self.log.lock();
        self.snapshot_locked(&mut log)
    }

    /// Snapshots when the log holds enough records that replaying them would slow the next
    /// open; bulk writers call it when they finish. Returns whether it did.
    pub fn checkpoint(&self) -> Result<bool> {
        let mut log = self.log.lock();
        if log.logged <= CHECKPOINT_AFTER_RECORDS {
            return Ok(false);
        }
        self.snapshot_locked(&mut log).map(|()| true)
    }

    /// Writers are held off by the log's lock; searches go on until the compacted states are
    /// swapped in. Every space is saved before the log is emptied: a crash between two spaces
    /// leaves the log whole, and opening replays to each space what its snapshot lacks.
    fn snapshot_locked(&self, log: &mut Log) -> Result<()> {
        let lsn = log.next_lsn - 1;
        let mut compacted = Vec::with_capacity(self.spaces.len());
        for space in &self.spaces {
            compacted.push(space.save(lsn)?);
        }
        fault::crash_point("snapshot.saved");
        log.wal.clear()?;
        fault::crash_point("snapshot.log_cleared");
        log.logged = 0;
        for (space, fresh) in self.spaces.iter().zip(compacted) {
            if let Some(fresh) = fresh {
                *space.state.write() = fresh;
            }
        }
        Ok(())
    }

    /// Memory of the indexes, size of the files, and the log that opening would replay.
    pub fn usage(&self) -> Result<Usage> {
        let mut usage =
            Usage { disk_bytes: disk_bytes(&self.dir)?, log_records: self.log.lock().logged, ..Usage::default() };
        for space in &self.spaces {
            let u = space.usage();
            usage.index_nodes += u.index_nodes;
            usage.index_bytes += u.index_bytes;
            usage.text_bytes += u.text_bytes;
        }
        Ok(usage)
    }

    /// The item of that id (from the first space that holds it).
    pub fn get(&self, id: &ItemId) -> Option<Item> {
        self.spaces.iter().find_map(|s| s.get(id))
    }

    /// Live items in slot order from the cursor `(epoch, slot)` (`(0, 0)`: the start), at most
    /// `limit`, and the cursor to go on from (`None` at the end). Slots only grow between
    /// compactions, and a compaction keeps their order and remembers how it renumbered them, so
    /// a scan that goes on from a returned cursor misses no item that was there when it started;
    /// a cursor from before the last two compactions is refused.
    pub fn scan_slots(&self, cursor: ScanCursor, limit: usize) -> Result<(Vec<Item>, Option<ScanCursor>)> {
        self.only_space()?.scan_slots(cursor, limit)
    }

    /// Whether an item with this id and content hash is stored (unchanged content is skipped).
    pub fn has_content(&self, id: &ItemId, content_hash: &str) -> bool {
        self.spaces.iter().any(|s| s.has_content(id, content_hash))
    }

    /// Top-k items nearest `query`, best first.
    pub fn search(&self, query: &[f32], params: &SearchParams) -> Result<Vec<Hit>> {
        self.only_space()?.search(query, params)
    }

    /// Top-k items for a text query by BM25 over the collection's text index, best first.
    pub fn search_text(&self, text: &str, params: &SearchParams) -> Result<Vec<Hit>> {
        self.only_space()?.search_text(text, params)
    }

    /// A query of any mode. Hybrid queries are fused on slots, so only the `k` hits returned
    /// have their payloads read.
    pub fn find(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        self.only_space()?.find(query, params)
    }
}

/// Each space's settings and directory: the collection's own for a collection of one model;
/// `spaces/NAME/` with the space's settings (named `COLLECTION:SPACE` in messages) for a mixed one.
pub(crate) fn space_layout(config: &CollectionConfig, dir: &Path) -> Vec<(CollectionConfig, PathBuf)> {
    if !config.is_mixed() {
        return vec![(config.clone(), dir.to_path_buf())];
    }
    config
        .spaces
        .iter()
        .map(|s| {
            let settings =
                CollectionConfig { name: format!("{}:{}", config.name, s.settings.name), ..s.settings.clone() };
            (settings, dir.join(SPACES_DIR).join(&s.settings.name))
        })
        .collect()
}

/// Records written as one frame: a batch when there are several.
fn one_frame(mut records: Vec<Record>) -> Vec<Record> {
    match records.len() {
        0 | 1 => records,
        _ => vec![Record::Batch(std::mem::take(&mut records))],
    }
}

/// Bytes of the files under `dir`.
fn disk_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
        total += if meta.is_dir() { disk_bytes(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}
