//! A collection's state in memory: the table from item ids to slots, each slot's payload, and
//! the vector index whose node ids are the slots. Records from the log are applied here;
//! snapshots are restored and compacted here.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use serde_json::Value;

use crate::config::CollectionConfig;
use crate::item::{Item, ItemId};
use crate::record::Record;
use crate::snapshot;
use crate::text::{LazyText, TextIndex};
use crate::vectors::saved_graph_each;
use crate::vectors::VectorIndex;
use crate::IndexKind;
use crate::{Error, Result};

/// The text index's file beside the snapshot.
pub(crate) const TEXT_FILE: &str = "text.idx";

/// What a slot holds besides its vector.
#[derive(Clone)]
pub(crate) struct Meta {
    pub id: ItemId,
    pub payload: Value,
    pub source: Option<String>,
    pub content_hash: Option<String>,
}

impl Meta {
    fn of(item: Item) -> Self {
        Meta { id: item.id, payload: item.payload, source: item.source, content_hash: item.content_hash }
    }
}

pub(crate) struct State {
    pub ids: HashMap<ItemId, u32>,
    /// `None` for a deleted item's slot, until compaction drops it.
    pub slots: Vec<Option<Meta>>,
    pub index: VectorIndex,
    /// The full-text index, for collections that have one.
    pub text: Option<LazyText>,
    /// The first log sequence number this state has not applied.
    pub next_lsn: u64,
    /// Compactions since the collection was opened.
    pub epoch: u64,
    /// The last compaction's map from old slots to new ones.
    pub renumbered: Option<Vec<u32>>,
}

impl State {
    /// An empty collection's state.
    pub(crate) fn new(config: &CollectionConfig) -> Result<Self> {
        Ok(State {
            ids: HashMap::new(),
            slots: Vec::new(),
            index: VectorIndex::new(config)?,
            text: config.text.as_ref().map(|t| LazyText::built(t, TextIndex::new(t))),
            next_lsn: 1,
            epoch: 0,
            renumbered: None,
        })
    }

    /// The state a snapshot holds: its items in slots `0..n`, and its index read from
    /// `index_path` when that file was written with it, else built from the vectors.
    ///
    /// With a saved graph, the snapshot and the graph are read together: each item's vector goes
    /// straight into the index's storage, so no other copy of the vectors is ever made. When the
    /// graph cannot be used, the snapshot (at `snap_path`) is read again and the index built.
    pub(crate) fn restore(
        config: &CollectionConfig,
        index_path: &Path,
        snap_path: &Path,
        mut snap: snapshot::Reader,
    ) -> Result<Self> {
        if config.index == IndexKind::Hnsw && snap.count() > 0 {
            if let Some(state) = State::restore_each(config, index_path, &mut snap)? {
                return Ok(state);
            }
            snap = snapshot::Reader::open(snap_path)?.ok_or_else(|| Error::Corrupt {
                path: snap_path.to_path_buf(),
                message: "vanished while opening".into(),
            })?;
        }
        State::restore_flat(config, index_path, snap)
    }

    /// The snapshot's items with the graph saved beside it, vector by vector; `None` when the
    /// graph cannot be used (missing, damaged, of another log position or settings), which
    /// [`State::restore_flat`] then reports as it rebuilds.
    ///
    /// The two files are read side by side: a second thread reads the snapshot (its checksums,
    /// its items, the table of ids) while this one decodes the graph and writes each vector into
    /// the index's storage. The vectors pass between them in chunks of [`CHUNK_ROWS`], and the
    /// chunks go back to be filled again, so no other copy of the vectors is ever made.
    fn restore_each(config: &CollectionConfig, index_path: &Path, snap: &mut snapshot::Reader) -> Result<Option<Self>> {
        let mut state = State::new(config)?;
        let (lsn, rows, dim) = (snap.lsn(), snap.count(), config.dim);
        state.next_lsn = lsn + 1;
        state.slots.reserve(rows.min(1 << 24));
        state.ids.reserve(rows.min(1 << 24));
        let mut duplicates = Vec::new();
        let reading = &mut *snap;
        let (loaded, read) = std::thread::scope(|scope| {
            let (full_tx, full_rx) = sync_channel::<Vec<f32>>(CHUNKS);
            let (empty_tx, empty_rx) = sync_channel::<Vec<f32>>(CHUNKS);
            for _ in 0..CHUNKS {
                // The channel holds CHUNKS, and its receiver is alive: this cannot fail.
                let _ = empty_tx.send(Vec::with_capacity(CHUNK_ROWS * dim));
            }
            let (state, duplicates) = (&mut state, &mut duplicates);
            let reader = scope.spawn(move || read_items(reading, state, duplicates, rows, dim, full_tx, empty_rx));
            let loaded = {
                let (mut chunk, mut at) = (Vec::new(), 0);
                let mut next = |row: &mut [f32]| {
                    if at == chunk.len() {
                        let used = std::mem::take(&mut chunk);
                        if used.capacity() > 0 {
                            let _ = empty_tx.send(used);
                        }
                        match full_rx.recv() {
                            Ok(filled) => (chunk, at) = (filled, 0),
                            Err(_) => return false,
                        }
                    }
                    row.copy_from_slice(&chunk[at..at + row.len()]);
                    at += row.len();
                    true
                };
                saved_graph_each(config, index_path, rows, lsn, &mut next)
            };
            // A loader that stopped early must not leave the reader waiting on a channel.
            drop((full_rx, empty_tx));
            let read = reader.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (loaded, read)
        });
        match loaded {
            Ok(index) => {
                read?;
                state.index = VectorIndex::Hnsw(index);
                Ok(Some(state.finish(config, index_path, lsn, duplicates)))
            }
            Err(None) => Err(read.err().unwrap_or_else(|| snap.corrupt(format!("fewer than {rows} items")))),
            Err(Some(why)) => {
                tracing::debug!(collection = %config.name, "the saved graph is not used: {why}");
                Ok(None)
            }
        }
    }

    /// The snapshot's items read first, their vectors gathered, then the index loaded or built.
    fn restore_flat(config: &CollectionConfig, index_path: &Path, mut snap: snapshot::Reader) -> Result<Self> {
        let mut state = State::new(config)?;
        let lsn = snap.lsn();
        state.next_lsn = lsn + 1;
        let mut flat = Vec::with_capacity(snap.count().min(1 << 24) * config.dim);
        let mut duplicates = Vec::new();
        state.slots.reserve(snap.count().min(1 << 24));
        state.ids.reserve(snap.count().min(1 << 24));
        while let Some(item) = snap.next_item()? {
            flat.extend_from_slice(&item.vector);
            state.add_restored(item, &mut duplicates);
        }
        state.index = VectorIndex::restore(config, index_path, &flat, lsn)?;
        drop(flat);
        Ok(state.finish(config, index_path, lsn, duplicates))
    }

    /// A snapshot's item in the next slot; an id seen before leaves its earlier slot in `duplicates`.
    fn add_restored(&mut self, mut item: Item, duplicates: &mut Vec<u32>) {
        item.vector = Vec::new();
        let slot = self.slots.len() as u32;
        if let Some(earlier) = self.ids.insert(item.id.clone(), slot) {
            duplicates.push(earlier);
        }
        self.slots.push(Some(Meta::of(item)));
    }

    /// The text index restored, and the slots of ids the snapshot held twice emptied.
    fn finish(mut self, config: &CollectionConfig, index_path: &Path, lsn: u64, duplicates: Vec<u32>) -> Self {
        let text_path = index_path.with_file_name(TEXT_FILE);
        self.text = config.text.as_ref().map(|t| LazyText::restore(t, &text_path, lsn, self.slots.len()));
        for slot in duplicates {
            if let (Some(text), Some(meta)) =
                (self.text.as_mut().and_then(LazyText::built_mut), &self.slots[slot as usize])
            {
                text.remove(slot, &meta.payload);
            }
            self.slots[slot as usize] = None;
            self.index.delete(slot);
        }
        self
    }

    /// The same items without the slots of deleted ones, and the index without their nodes;
    /// `None` when nothing was deleted. Its epoch is one higher, and it remembers how slots were
    /// renumbered so that scan cursors of the epoch before still resolve.
    pub(crate) fn compacted(&self, dir: &Path) -> Result<Option<State>> {
        if self.slots.len() == self.ids.len() {
            return Ok(None);
        }
        let (index, remap) = self.index.compacted()?;
        let mut ids = HashMap::with_capacity(self.ids.len());
        let mut slots = Vec::with_capacity(self.ids.len());
        for (old, meta) in self.slots.iter().enumerate() {
            let Some(meta) = meta else { continue };
            if remap.get(old).copied() != Some(slots.len() as u32) {
                return Err(Error::Corrupt {
                    path: dir.to_path_buf(),
                    message: format!("item {} in slot {old} and its index node disagree; not compacted", meta.id),
                });
            }
            ids.insert(meta.id.clone(), slots.len() as u32);
            slots.push(Some(meta.clone()));
        }
        Ok(Some(State {
            ids,
            slots,
            index,
            text: self.text.as_ref().map(|t| t.compacted(&remap)),
            next_lsn: self.next_lsn,
            epoch: self.epoch + 1,
            renumbered: Some(remap),
        }))
    }

    /// Where a scan of `epoch` that stopped before `slot` goes on in this state; `None` when the
    /// cursor is from an epoch no longer known.
    pub(crate) fn resume_slot(&self, epoch: u64, slot: usize) -> Option<usize> {
        if epoch == self.epoch {
            return Some(slot);
        }
        let remap = self.renumbered.as_ref().filter(|_| epoch + 1 == self.epoch)?;
        // Slots kept their order, so the scan goes on at the first survivor at or after `slot`.
        let kept = |n: &&u32| **n != kin_index::REMOVED;
        Some(match remap.iter().skip(slot).find(kept) {
            Some(&n) => n as usize,
            None => remap.iter().filter(kept).count(),
        })
    }

    /// Applies records in order; runs of upserts go into the index as one parallel batch.
    pub(crate) fn apply_all(&mut self, records: impl Iterator<Item = Record>) -> Result<()> {
        let mut run: Vec<Item> = Vec::new();
        for record in records {
            match record {
                Record::Upsert(item) => run.push(item),
                Record::Delete(id) => {
                    self.upsert_run(std::mem::take(&mut run))?;
                    self.remove(&id);
                }
                Record::Batch(records) => {
                    self.upsert_run(std::mem::take(&mut run))?;
                    self.apply_all(records.into_iter())?;
                }
                // The collection splits records by space before they reach a space's state.
                Record::Space(_, inner) => {
                    self.upsert_run(std::mem::take(&mut run))?;
                    self.apply_all(std::iter::once(*inner))?;
                }
            }
        }
        self.upsert_run(run)
    }

    fn upsert_run(&mut self, run: Vec<Item>) -> Result<()> {
        if run.is_empty() {
            return Ok(());
        }
        let flat: Vec<f32> = run.iter().flat_map(|i| i.vector.iter().copied()).collect();
        let first = self.index.insert_batch(&flat)?;
        debug_assert_eq!(first as usize, self.slots.len());
        for (offset, item) in run.into_iter().enumerate() {
            self.remove(&item.id);
            let slot = first + offset as u32;
            self.ids.insert(item.id.clone(), slot);
            if let Some(text) = self.text.as_mut().and_then(LazyText::built_mut) {
                text.add(slot, &item.payload);
            }
            self.slots.push(Some(Meta::of(item)));
        }
        Ok(())
    }

    fn remove(&mut self, id: &ItemId) {
        if let Some(old) = self.ids.remove(id) {
            if let (Some(text), Some(meta)) =
                (self.text.as_mut().and_then(LazyText::built_mut), &self.slots[old as usize])
            {
                text.remove(old, &meta.payload);
            }
            self.slots[old as usize] = None;
            self.index.delete(old);
        }
    }

    pub(crate) fn item(&self, slot: u32) -> Option<Item> {
        let meta = self.slots.get(slot as usize)?.as_ref()?;
        Some(Item {
            id: meta.id.clone(),
            vector: self.index.vector(slot),
            payload: meta.payload.clone(),
            source: meta.source.clone(),
            content_hash: meta.content_hash.clone(),
        })
    }

    /// Every live item in slot order, made as the iterator is read.
    pub(crate) fn live_items(&self) -> impl Iterator<Item = Item> + '_ {
        (0..self.slots.len() as u32).filter_map(|s| self.item(s))
    }

    /// The text index (built now if this is its first use); `None` for a collection without one.
    pub(crate) fn text_index(&self) -> Option<&TextIndex> {
        let payloads =
            || self.slots.iter().enumerate().filter_map(|(s, m)| Some((s as u32, &m.as_ref()?.payload))).collect();
        Some(self.text.as_ref()?.get_or_build(payloads))
    }

    /// Saves the text index (building it if no search has yet) beside a snapshot at `lsn`.
    pub(crate) fn save_text(&self, dir: &Path, lsn: u64) -> Result<()> {
        match self.text_index() {
            Some(index) => index.save(&dir.join(TEXT_FILE), lsn),
            None => Ok(()),
        }
    }

    /// Whether `slot` holds a live item that passes `filter` (any, without one).
    pub(crate) fn passes(&self, slot: u32, filter: Option<&kin_core::filter::Filter>) -> bool {
        match (self.slots.get(slot as usize), filter) {
            (Some(Some(meta)), Some(f)) => f.matches(&meta.payload),
            (Some(Some(_)), None) => true,
            _ => false,
        }
    }

    /// How many live items pass `matches`, estimated from a sample of at most 2,000 slots.
    pub(crate) fn estimate_matches(&self, matches: &dyn Fn(u32) -> bool) -> usize {
        let n = self.slots.len();
        let step = (n / 2000).max(1);
        let (mut seen, mut hit) = (0usize, 0usize);
        for slot in (0..n).step_by(step) {
            if self.slots[slot].is_some() {
                seen += 1;
                hit += usize::from(matches(slot as u32));
            }
        }
        if seen == 0 {
            0
        } else {
            (hit * self.ids.len()).div_ceil(seen)
        }
    }
}

/// Rows of vectors one chunk carries from the snapshot's reader to the index's loader.
const CHUNK_ROWS: usize = 256;
/// Chunks passing between them.
const CHUNKS: usize = 4;

/// The reading side of [`State::restore_each`]: `rows` items from `snap` into `state`, their
/// vectors sent on in chunks; then the check that the snapshot ends there. Stops quietly when
/// the loader has stopped (its channel closed), with an error when the snapshot is damaged.
/// It owns its ends of the channels, so that when it stops, for any reason, a loader waiting
/// for the next chunk is told.
fn read_items(
    snap: &mut snapshot::Reader,
    state: &mut State,
    duplicates: &mut Vec<u32>,
    rows: usize,
    dim: usize,
    full: SyncSender<Vec<f32>>,
    empty: Receiver<Vec<f32>>,
) -> Result<()> {
    let Ok(mut chunk) = empty.recv() else { return Ok(()) };
    for _ in 0..rows {
        let Some(item) = snap.next_item()? else {
            return Err(snap.corrupt(format!("fewer than {rows} items")));
        };
        if item.vector.len() != dim {
            return Err(snap.corrupt(format!("item {} has {} dimensions, not {dim}", item.id, item.vector.len())));
        }
        chunk.extend_from_slice(&item.vector);
        state.add_restored(item, duplicates);
        if chunk.len() == CHUNK_ROWS * dim {
            if full.send(chunk).is_err() {
                return Ok(());
            }
            let Ok(again) = empty.recv() else { return Ok(()) };
            chunk = again;
            chunk.clear();
        }
    }
    if !chunk.is_empty() && full.send(chunk).is_err() {
        return Ok(());
    }
    // The snapshot ends where its header says (trailing bytes are damage).
    if snap.next_item()?.is_some() {
        return Err(snap.corrupt("more items than its header announces".into()));
    }
    Ok(())
}
