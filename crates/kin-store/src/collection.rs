//! `Collection`: items of one model (or one bare dimension), their index, log and snapshots.

use std::fs;
use std::path::{Path, PathBuf};

use kin_core::filter::Filter;
use kin_core::Metric;
use parking_lot::{Mutex, RwLock};
use serde_json::Value;

use crate::backend::Usage;
use crate::config::CollectionConfig;
use crate::fusion::{candidate_params, fuse_keys, ranked, Query};
use crate::item::{Item, ItemId};
use crate::record::Record;
use crate::snapshot;
use crate::state::State;
use crate::wal::{SyncPolicy, Wal};
use crate::{Error, Result};

/// The log is folded into a snapshot once it grows past this many bytes,
const SNAPSHOT_AFTER_BYTES: u64 = 256 << 20;
/// or once it holds more records than this and than the collection has items (so that
/// snapshots, which rewrite everything, cost a constant amount per write);
const SNAPSHOT_AFTER_RECORDS: usize = 100_000;
/// or, when a bulk write ends ([`Collection::checkpoint`]), more than this many.
const CHECKPOINT_AFTER_RECORDS: usize = 1_000;

pub(crate) const CONFIG_FILE: &str = "collection.json";
const WAL_FILE: &str = "wal.log";
const SNAPSHOT_FILE: &str = "snapshot.bin";
const INDEX_FILE: &str = "index.hnsw";

/// What a search returns for one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: ItemId,
    /// Similarity for cosine and dot (higher is closer), distance for l2 (lower is closer).
    pub score: f32,
    pub payload: Value,
    pub source: Option<String>,
    /// Which retrievers found the item, and how each ranked it.
    pub found: Found,
}

/// Where each retriever ranked a hit; `None` where it did not find it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Found {
    pub dense: Option<Rank>,
    pub text: Option<Rank>,
}

impl Found {
    /// `{"dense": {"rank": 1, "score": 0.82}, "text": {…}}`, the retrievers that found the hit.
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (name, rank) in [("dense", self.dense), ("text", self.text)] {
            if let Some(r) = rank {
                out.insert(name.into(), serde_json::json!({ "rank": r.rank, "score": r.score }));
            }
        }
        Value::Object(out)
    }
}

/// A retriever's rank for a hit (1: its best) and the score it gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rank {
    pub rank: u32,
    pub score: f32,
}

/// Where a scan goes on: the compaction epoch and the slot.
pub type ScanCursor = (u64, usize);

/// How to search.
#[derive(Debug, Clone)]
pub struct SearchParams<'a> {
    pub k: usize,
    /// Candidate list size of the graph walk (higher: better recall, slower); at least `k`.
    pub ef: Option<usize>,
    pub filter: Option<&'a Filter>,
    /// Scan every vector instead of walking the graph (the ground truth).
    pub exact: bool,
}

impl Default for SearchParams<'_> {
    fn default() -> Self {
        SearchParams { k: 10, ef: None, filter: None, exact: false }
    }
}

pub struct Collection {
    config: CollectionConfig,
    dir: PathBuf,
    state: RwLock<State>,
    wal: Mutex<Wal>,
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

    /// Opens a collection: its snapshot and the index saved with it, then the log written since.
    pub(crate) fn open(dir: &Path, sync: SyncPolicy) -> Result<Self> {
        let cfg_path = dir.join(CONFIG_FILE);
        let text = fs::read(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
        let config: CollectionConfig =
            serde_json::from_slice(&text).map_err(|source| Error::Config { path: cfg_path.clone(), source })?;
        config.validate()?;
        let mut state = match snapshot::read(&dir.join(SNAPSHOT_FILE))? {
            Some(snap) => State::restore(&config, &dir.join(INDEX_FILE), snap)?,
            None => State::new(&config)?,
        };
        let (wal, records) = Wal::open(&dir.join(WAL_FILE), sync)?;
        let first = state.next_lsn;
        let replay: Vec<Record> = records.into_iter().filter(|(lsn, _)| *lsn >= first).map(|(_, r)| r).collect();
        state.next_lsn += replay.len() as u64;
        state.logged = weight(&replay);
        state.apply_all(replay.into_iter())?;
        tracing::debug!(collection = %config.name, items = state.ids.len(), replayed = state.logged, "opened");
        Ok(Collection { config, dir: dir.to_path_buf(), state: RwLock::new(state), wal: Mutex::new(wal) })
    }

    pub fn config(&self) -> &CollectionConfig {
        &self.config
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn count(&self) -> usize {
        self.state.read().ids.len()
    }

    /// Checks that vectors of `model` may enter this collection.
    pub fn check_model(&self, model: &str) -> Result<()> {
        match &self.config.model {
            Some(m) if m != model => Err(Error::ModelMismatch {
                collection: self.config.name.clone(),
                expected: m.clone(),
                got: model.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Inserts or replaces items; durable when it returns. A bad item rejects the whole batch
    /// and nothing of it is written.
    pub fn upsert(&self, mut items: Vec<Item>) -> Result<()> {
        validate_items(&self.config, &mut items)?;
        self.write(items.into_iter().map(Record::Upsert).collect())
    }

    /// Deletes items; returns how many existed. Durable when it returns.
    pub fn delete(&self, ids: &[ItemId]) -> Result<usize> {
        let existing: Vec<Record> = {
            let state = self.state.read();
            ids.iter().filter(|id| state.ids.contains_key(id)).map(|id| Record::Delete(id.clone())).collect()
        };
        let n = existing.len();
        self.write(existing)?;
        Ok(n)
    }

    /// Deletes `delete` and upserts `items` as one change: durable when it returns, and a crash
    /// keeps all of it or none of it (one log frame). Ids in both lists end up upserted.
    pub fn replace(&self, delete: &[ItemId], mut items: Vec<Item>) -> Result<()> {
        validate_items(&self.config, &mut items)?;
        let mut records: Vec<Record> = {
            let state = self.state.read();
            let upserted: std::collections::HashSet<&ItemId> = items.iter().map(|i| &i.id).collect();
            delete
                .iter()
                .filter(|id| state.ids.contains_key(id) && !upserted.contains(id))
                .map(|id| Record::Delete(id.clone()))
                .collect()
        };
        records.extend(items.into_iter().map(Record::Upsert));
        match records.len() {
            0 => Ok(()),
            1 => self.write(records),
            _ => self.write(vec![Record::Batch(records)]),
        }
    }

    fn write(&self, records: Vec<Record>) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        // Writers take turns on the log; searches go on during the fsync and wait only while
        // the acknowledged records are applied.
        let mut wal = self.wal.lock();
        let first = self.state.read().next_lsn;
        wal.append(first, &records)?;
        let due = {
            let mut state = self.state.write();
            state.next_lsn += records.len() as u64;
            state.logged += weight(&records);
            state.apply_all(records.into_iter())?;
            state.logged > SNAPSHOT_AFTER_RECORDS.max(state.ids.len())
        };
        if due || wal.len() > SNAPSHOT_AFTER_BYTES {
            self.snapshot_locked(&mut wal)?;
        }
        Ok(())
    }

    /// Folds the log into a snapshot now: deleted items leave the index (their links repaired),
    /// and the index is saved beside the snapshot so the next open reads it instead of building.
    pub fn snapshot(&self) -> Result<()> {
        let mut wal = self.wal.lock();
        self.snapshot_locked(&mut wal)
    }

    /// Snapshots when the log holds enough records that replaying them would slow the next
    /// open; bulk writers call it when they finish. Returns whether it did.
    pub fn checkpoint(&self) -> Result<bool> {
        let mut wal = self.wal.lock();
        if self.state.read().logged <= CHECKPOINT_AFTER_RECORDS {
            return Ok(false);
        }
        self.snapshot_locked(&mut wal).map(|()| true)
    }

    /// Writers are held off by `wal`; searches go on until the compacted state is swapped in.
    fn snapshot_locked(&self, wal: &mut Wal) -> Result<()> {
        let compacted = {
            let state = self.state.read();
            let compacted = state.compacted(&self.dir)?;
            let current = compacted.as_ref().unwrap_or(&state);
            let lsn = current.next_lsn - 1;
            // The index first: a crash before the snapshot's rename leaves an index file whose
            // tag the old snapshot does not match, and opening rebuilds it.
            current.index.save(&self.dir.join(INDEX_FILE), lsn)?;
            current.save_text(&self.dir, lsn)?;
            snapshot::write(&self.dir.join(SNAPSHOT_FILE), lsn, current.ids.len(), current.live_items())?;
            compacted
        };
        wal.clear()?;
        let mut state = self.state.write();
        match compacted {
            Some(fresh) => *state = fresh,
            None => state.logged = 0,
        }
        Ok(())
    }

    /// Memory of the index, size of the files, and the log that opening would replay.
    pub fn usage(&self) -> Result<Usage> {
        let mut disk_bytes = 0;
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            disk_bytes += entry.metadata().map_err(|e| Error::io(entry.path(), e))?.len();
        }
        let state = self.state.read();
        let (index_nodes, index_bytes) = state.index.usage();
        let text_bytes = state.text.as_ref().map_or(0, |t| t.usage());
        Ok(Usage { index_nodes, index_bytes, text_bytes, disk_bytes, log_records: state.logged })
    }

    pub fn get(&self, id: &ItemId) -> Option<Item> {
        let state = self.state.read();
        let slot = *state.ids.get(id)?;
        state.item(slot)
    }

    /// Live items in slot order from the cursor `(epoch, slot)` (`(0, 0)`: the start), at most
    /// `limit`, and the cursor to go on from (`None` at the end). Slots only grow between
    /// compactions, and a compaction keeps their order and remembers how it renumbered them, so
    /// a scan that goes on from a returned cursor misses no item that was there when it started;
    /// a cursor from before the last two compactions is refused.
    pub fn scan_slots(&self, cursor: ScanCursor, limit: usize) -> Result<(Vec<Item>, Option<ScanCursor>)> {
        let state = self.state.read();
        let Some(start) = state.resume_slot(cursor.0, cursor.1) else {
            return Err(Error::StaleCursor { cursor: format!("{}:{}", cursor.0, cursor.1) });
        };
        let mut items = Vec::with_capacity(limit.min(1024));
        let mut slot = start;
        while slot < state.slots.len() && items.len() < limit {
            if let Some(item) = state.item(slot as u32) {
                items.push(item);
            }
            slot += 1;
        }
        let more = state.slots[slot.min(state.slots.len())..].iter().any(Option::is_some);
        Ok((items, more.then_some((state.epoch, slot))))
    }

    /// Whether an item with this id and content hash is stored (unchanged content is skipped).
    pub fn has_content(&self, id: &ItemId, content_hash: &str) -> bool {
        let state = self.state.read();
        state
            .ids
            .get(id)
            .and_then(|&s| state.slots[s as usize].as_ref())
            .is_some_and(|m| m.content_hash.as_deref() == Some(content_hash))
    }

    /// Top-k items nearest `query`, best first.
    pub fn search(&self, query: &[f32], params: &SearchParams) -> Result<Vec<Hit>> {
        let state = self.state.read();
        let found = self.dense_slots(&state, query, params)?;
        let metric = self.config.metric;
        Ok(hits(&state, found.into_iter().map(|(slot, distance)| (slot, score(metric, distance), Found::default()))))
    }

    /// Top-k items for a text query by BM25 over the collection's text index, best first.
    pub fn search_text(&self, text: &str, params: &SearchParams) -> Result<Vec<Hit>> {
        let state = self.state.read();
        let found = self.text_slots(&state, text, params)?;
        Ok(hits(&state, found.into_iter().map(|(slot, score)| (slot, score, Found::default()))))
    }

    /// A query of any mode. Hybrid queries are fused on slots, so only the `k` hits returned
    /// have their payloads read.
    pub fn find(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        let (vector, text, fusion) = match *query {
            Query::Dense(vector) => return Ok(ranked(self.search(vector, params)?, false)),
            Query::Text(text) => return Ok(ranked(self.search_text(text, params)?, true)),
            Query::Hybrid { vector, text, fusion } => (vector, text, fusion.validate()?),
        };
        let deep = candidate_params(params);
        let state = self.state.read();
        let text_found = self.text_slots(&state, text, &deep)?;
        let metric = self.config.metric;
        let dense_found: Vec<(u32, f32)> =
            self.dense_slots(&state, vector, &deep)?.into_iter().map(|(s, d)| (s, score(metric, d))).collect();
        let fused = fuse_keys(&dense_found, &text_found, fusion, metric, params.k.max(1));
        Ok(hits(&state, fused.into_iter()))
    }

    /// Slots nearest `query` and their index distances.
    fn dense_slots(&self, state: &State, query: &[f32], params: &SearchParams) -> Result<Vec<(u32, f32)>> {
        validate_query(&self.config, query)?;
        let mut query = query.to_vec();
        if self.config.metric == Metric::Cosine {
            kin_index::normalize(&mut query);
        }
        let k = params.k.max(1);
        let ef = params.ef.unwrap_or(64).max(k);
        let matches = |slot: u32| state.passes(slot, params.filter);
        let estimate = params.filter.map(|_| state.estimate_matches(&matches));
        Ok(if params.exact {
            state.index.exact(&query, k, &matches)?
        } else {
            state.index.search(&query, k, ef, &matches, estimate)?
        })
    }

    /// Slots best for a text query and their BM25 scores.
    fn text_slots(&self, state: &State, text: &str, params: &SearchParams) -> Result<Vec<(u32, f32)>> {
        let Some(index) = state.text_index() else {
            return Err(Error::NoTextIndex { collection: self.config.name.clone() });
        };
        index.search(text, params.k.max(1), &|slot| state.passes(slot, params.filter))
    }
}

/// Hits for slots, in the order given, with their scores and ranks.
fn hits(state: &State, found: impl Iterator<Item = (u32, f32, Found)>) -> Vec<Hit> {
    found
        .filter_map(|(slot, score, found)| {
            let meta = state.slots.get(slot as usize)?.as_ref()?;
            Some(Hit { id: meta.id.clone(), score, payload: meta.payload.clone(), source: meta.source.clone(), found })
        })
        .collect()
}

/// Checks a query vector against the collection (every backend refuses the same things).
pub fn validate_query(config: &CollectionConfig, query: &[f32]) -> Result<()> {
    if query.len() != config.dim {
        return Err(Error::QueryDimension { collection: config.name.clone(), expected: config.dim, got: query.len() });
    }
    if let Some((index, value)) = query.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { id: "query".into(), index, value: *value });
    }
    Ok(())
}

/// Checks items before any of them is written (every backend refuses the same things), and
/// normalises vectors of cosine collections.
pub fn validate_items(config: &CollectionConfig, items: &mut [Item]) -> Result<()> {
    for item in items.iter() {
        let (id, v) = (&item.id, &item.vector);
        if v.len() != config.dim {
            return Err(Error::DimensionMismatch {
                collection: config.name.clone(),
                id: id.to_string(),
                expected: config.dim,
                got: v.len(),
            });
        }
        if let Some((index, value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(Error::NonFinite { id: id.to_string(), index, value: *value });
        }
        if config.metric == Metric::Cosine && v.iter().all(|x| *x == 0.0) {
            return Err(Error::ZeroVector { id: id.to_string() });
        }
    }
    if config.metric == Metric::Cosine {
        for item in items.iter_mut() {
            kin_index::normalize(&mut item.vector);
        }
    }
    Ok(())
}

/// How many writes `records` hold, a batch counting each of its own (what replaying them costs).
fn weight(records: &[Record]) -> usize {
    records.iter().map(|r| if let Record::Batch(inner) = r { inner.len() } else { 1 }).sum()
}

/// A user-facing score from an index distance.
fn score(metric: Metric, distance: f32) -> f32 {
    match metric {
        Metric::Cosine => 1.0 - distance,
        Metric::Dot => -distance,
        Metric::L2 => distance,
    }
}
