//! `Space`: one model's vectors in a collection, with their items, index and snapshot; and
//! `SpaceHandle`, one space of a mixed collection used as a collection of its own.

use std::collections::hash_map::{Entry, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use kin_core::fault;
use parking_lot::RwLock;

use crate::backend::{CollectionRead, CollectionWrite, Usage};
use crate::collection::Collection;
use crate::collection::{INDEX_FILE, SNAPSHOT_FILE};
use crate::config::CollectionConfig;
use crate::fusion::{candidate_params, fuse_keys, ranked, Query};
use crate::hit::{hits, score, validate_query, Found, Hit, ScanCursor, SearchParams};
use crate::item::{Item, ItemId};
use crate::snapshot;
use crate::state::State;
use crate::{Error, Result};

pub(crate) struct Space {
    /// The space's settings (for a mixed collection's space, named `COLLECTION:SPACE`).
    pub config: CollectionConfig,
    /// Where its snapshot, saved index and text index live.
    dir: PathBuf,
    pub state: RwLock<State>,
}

impl Space {
    pub(crate) fn new(config: CollectionConfig, dir: PathBuf, state: State) -> Self {
        Space { config, dir, state: RwLock::new(state) }
    }

    pub(crate) fn count(&self) -> usize {
        self.state.read().ids.len()
    }

    /// Checks that vectors of `model` may enter this space.
    pub(crate) fn check_model(&self, model: &str) -> Result<()> {
        match &self.config.model {
            Some(m) if m != model => Err(Error::ModelMismatch {
                collection: self.config.name.clone(),
                expected: m.clone(),
                got: model.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Writes the space's index, text index and snapshot as of `lsn`, and returns its
    /// compacted state when items were deleted since the last one (the caller swaps it in once
    /// every space is saved).
    pub(crate) fn save(&self, lsn: u64) -> Result<Option<State>> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let state = self.state.read();
        let compacted = state.compacted(&self.dir)?;
        fault::crash_point("compaction.done");
        let current = compacted.as_ref().unwrap_or(&state);
        // The index first: a crash before the snapshot's rename leaves an index file whose tag
        // the old snapshot does not match, and opening rebuilds it.
        current.index.save(&self.dir.join(INDEX_FILE), lsn)?;
        current.save_text(&self.dir, lsn)?;
        snapshot::write(&self.dir.join(SNAPSHOT_FILE), lsn, current.ids.len(), current.live_items())?;
        drop(state);
        if let Some(parent) = self.dir.parent().filter(|_| self.config.name.contains(':')) {
            snapshot::sync_dir(parent)?;
        }
        Ok(compacted)
    }

    pub(crate) fn usage(&self) -> Usage {
        let state = self.state.read();
        let (index_nodes, index_bytes) = state.index.usage();
        let text_bytes = state.text.as_ref().map_or(0, |t| t.usage());
        Usage { index_nodes, index_bytes, text_bytes, ..Usage::default() }
    }

    pub(crate) fn get(&self, id: &ItemId) -> Option<Item> {
        let state = self.state.read();
        let slot = *state.ids.get(id)?;
        state.item(slot)
    }

    pub(crate) fn scan_slots(&self, cursor: ScanCursor, limit: usize) -> Result<(Vec<Item>, Option<ScanCursor>)> {
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

    pub(crate) fn has_content(&self, id: &ItemId, content_hash: &str) -> bool {
        let state = self.state.read();
        state
            .ids
            .get(id)
            .and_then(|&s| state.slots[s as usize].as_ref())
            .is_some_and(|m| m.content_hash.as_deref() == Some(content_hash))
    }

    pub(crate) fn search(&self, query: &[f32], params: &SearchParams) -> Result<Vec<Hit>> {
        let state = self.state.read();
        let found = self.dense_slots(&state, query, params)?;
        let metric = self.config.metric;
        Ok(hits(&state, found.into_iter().map(|(slot, distance)| (slot, score(metric, distance), Found::default()))))
    }

    pub(crate) fn search_text(&self, text: &str, params: &SearchParams) -> Result<Vec<Hit>> {
        self.text_hits(text, params, false)
    }

    /// The hits of a text query, by chunk or by document (see [`Space::text_slots`]).
    fn text_hits(&self, text: &str, params: &SearchParams, by_document: bool) -> Result<Vec<Hit>> {
        let state = self.state.read();
        let found = self.text_slots(&state, text, params, by_document)?;
        Ok(hits(&state, found.into_iter().map(|(slot, score)| (slot, score, Found::default()))))
    }

    pub(crate) fn find(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        self.find_by(query, params, false)
    }

    /// As [`Space::find`], a document at a time: text is scored per document (its chunks as
    /// one text, [`TextIndex::search_documents`]), and a hybrid query fuses the documents of the
    /// two lists (a document's best chunk standing for it in the dense one, and for it in the
    /// answer when the dense list has it). Dense queries answer chunk by chunk, as `find` does.
    pub(crate) fn find_documents(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        self.find_by(query, params, true)
    }

    fn find_by(&self, query: &Query, params: &SearchParams, by_document: bool) -> Result<Vec<Hit>> {
        let (vector, text, fusion) = match *query {
            Query::Dense(vector) => return Ok(ranked(self.search(vector, params)?, false)),
            Query::Text(text) => return Ok(ranked(self.text_hits(text, params, by_document)?, true)),
            Query::Hybrid { vector, text, fusion } => (vector, text, fusion.validate()?),
        };
        let deep = candidate_params(params);
        let state = self.state.read();
        let text_found = self.text_slots(&state, text, &deep, by_document)?;
        let metric = self.config.metric;
        // The lists are fused by key: a slot, or by document its document's first slot. Each key
        // is in the dense list once, at its best slot's rank, and that slot shows it.
        let key = |slot: u32| match state.text_index() {
            Some(index) if by_document => index.document_of(slot),
            _ => slot,
        };
        let dense = self.dense_slots(&state, vector, &deep)?;
        let mut shown: HashMap<u32, u32> = HashMap::with_capacity(dense.len());
        let mut dense_found: Vec<(u32, f32)> = Vec::with_capacity(dense.len());
        for (slot, distance) in dense {
            if let Entry::Vacant(e) = shown.entry(key(slot)) {
                dense_found.push((*e.key(), score(metric, distance)));
                e.insert(slot);
            }
        }
        let fused = fuse_keys(&dense_found, &text_found, fusion, metric, params.k.max(1));
        Ok(hits(&state, fused.into_iter().map(|(key, s, found)| (shown.get(&key).copied().unwrap_or(key), s, found))))
    }

    /// Slots nearest `query` and their index distances.
    fn dense_slots(&self, state: &State, query: &[f32], params: &SearchParams) -> Result<Vec<(u32, f32)>> {
        // The index normalises the query for cosine as it checks it (once, not here as well).
        validate_query(&self.config, query)?;
        let k = params.k.max(1);
        let ef = params.ef.unwrap_or(64).max(k);
        let matches = |slot: u32| state.passes(slot, params.filter);
        let estimate = params.filter.map(|_| state.estimate_matches(&matches));
        Ok(if params.exact {
            state.index.exact(query, k, &matches)?
        } else {
            // Without a filter the index's own tombstones are the live items (a slot is emptied
            // exactly when its node is deleted, under the same lock), so the walk asks no
            // predicate of the slots, whose scattered reads cost a cache miss per candidate.
            let filter = params.filter.map(|_| &matches as &dyn Fn(u32) -> bool);
            state.index.search(query, k, ef, filter, estimate)?
        })
    }

    /// Slots best for a text query and their BM25 scores; by document, each document (its
    /// first slot) scored as one text.
    fn text_slots(
        &self,
        state: &State,
        text: &str,
        params: &SearchParams,
        by_document: bool,
    ) -> Result<Vec<(u32, f32)>> {
        let Some(index) = state.text_index() else {
            return Err(Error::NoTextIndex { collection: self.config.name.clone() });
        };
        // Without a filter the text index's own live slots are the items: no slot is read.
        let matches = |slot| state.passes(slot, params.filter);
        let matches = params.filter.map(|_| &matches as &dyn Fn(u32) -> bool);
        if by_document {
            index.search_documents(text, params.k.max(1), matches)
        } else {
            index.search(text, params.k.max(1), matches)
        }
    }
}

/// One space of a mixed collection, read and written as a collection of its own (named
/// `COLLECTION:SPACE`): what the ingestion pipeline and the search paths take. Its hits name
/// the space. Deleting through it deletes from this space only.
pub struct SpaceHandle {
    collection: Arc<Collection>,
    place: usize,
    name: String,
}

impl SpaceHandle {
    pub(crate) fn new(collection: Arc<Collection>, space: &str) -> Result<Self> {
        let place = collection.space_index(space)?;
        Ok(SpaceHandle { collection, place, name: space.to_string() })
    }

    fn space(&self) -> &Space {
        &self.collection.spaces()[self.place]
    }

    /// The space's name within its collection.
    pub fn space_name(&self) -> &str {
        &self.name
    }

    fn named(&self, mut hits: Vec<Hit>) -> Vec<Hit> {
        for h in &mut hits {
            h.space = Some(self.name.clone());
        }
        hits
    }
}

impl CollectionRead for SpaceHandle {
    fn config(&self) -> &CollectionConfig {
        &self.space().config
    }

    fn count(&self) -> Result<usize> {
        Ok(self.space().count())
    }

    fn get(&self, id: &ItemId) -> Result<Option<Item>> {
        Ok(self.space().get(id))
    }

    fn has_content(&self, id: &ItemId, content_hash: &str) -> Result<bool> {
        Ok(self.space().has_content(id, content_hash))
    }

    fn search(&self, query: &[f32], params: &SearchParams) -> Result<Vec<Hit>> {
        Ok(self.named(self.space().search(query, params)?))
    }

    fn search_text(&self, text: &str, params: &SearchParams) -> Result<Vec<Hit>> {
        Ok(self.named(self.space().search_text(text, params)?))
    }

    fn find(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        Ok(self.named(self.space().find(query, params)?))
    }

    fn find_documents(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        Ok(self.named(self.space().find_documents(query, params)?))
    }

    fn scan(&self, cursor: Option<&str>, limit: usize) -> Result<(Vec<Item>, Option<String>)> {
        let start = crate::backend::parse_cursor(cursor)?;
        let (items, next) = self.space().scan_slots(start, limit.max(1))?;
        Ok((items, next.map(crate::backend::format_cursor)))
    }

    fn usage(&self) -> Result<Option<Usage>> {
        Ok(Some(self.space().usage()))
    }

    fn check_model(&self, model: &str) -> Result<()> {
        self.space().check_model(model)
    }
}

impl CollectionWrite for SpaceHandle {
    fn upsert(&self, items: Vec<Item>) -> Result<()> {
        self.collection.upsert_spaces(vec![(self.place, items)])
    }

    fn delete(&self, ids: &[ItemId]) -> Result<usize> {
        self.collection.delete_in(self.place, ids)
    }

    fn replace(&self, delete: &[ItemId], items: Vec<Item>) -> Result<()> {
        self.collection.replace_in(self.place, delete, items)
    }

    fn checkpoint(&self) -> Result<()> {
        self.collection.checkpoint().map(|_| ())
    }
}
