//! The storage seam: what kin needs of a place that keeps collections, whether the embedded
//! store or a vector database server. Reading and writing are separate traits; a `Backend`
//! hands out collections.
//!
//! Every implementation passes the same conformance suite (`tests/conformance.rs`).

use std::sync::Arc;

use crate::collection::Collection;
use crate::config::{CollectionConfig, TextConfig};
use crate::fusion::{candidate_params, fuse, ranked, Query};
use crate::hit::{Hit, ScanCursor, SearchParams};
use crate::item::{Item, ItemId};
use crate::store::Store;
use crate::{Error, Result};

/// A collection's footprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Nodes in the index, deleted ones not yet compacted away included.
    pub index_nodes: usize,
    /// Memory of the index: vectors, graph, codes.
    pub index_bytes: usize,
    /// Memory of the full-text index (0 without one).
    pub text_bytes: usize,
    /// Files of the collection: log, snapshot, saved index.
    pub disk_bytes: u64,
    /// Records in the log that opening replays.
    pub log_records: usize,
}

/// Reading one collection.
pub trait CollectionRead: Send + Sync {
    fn config(&self) -> &CollectionConfig;

    fn name(&self) -> &str {
        &self.config().name
    }

    /// Items stored now.
    fn count(&self) -> Result<usize>;

    fn get(&self, id: &ItemId) -> Result<Option<Item>>;

    /// Whether an item with this id and content hash is stored (unchanged content is skipped).
    fn has_content(&self, id: &ItemId, content_hash: &str) -> Result<bool> {
        Ok(self.get(id)?.is_some_and(|i| i.content_hash.as_deref() == Some(content_hash)))
    }

    /// Top-k items nearest `query`, best first. Scores: similarity for cosine and dot (higher is
    /// closer), distance for l2 (lower is closer).
    fn search(&self, query: &[f32], params: &SearchParams) -> Result<Vec<Hit>>;

    /// Top-k items for a text query by the collection's full-text (BM25) index, best first;
    /// scores are BM25 scores.
    fn search_text(&self, text: &str, params: &SearchParams) -> Result<Vec<Hit>> {
        let _ = (text, params);
        Err(Error::Unsupported {
            backend: "this backend".into(),
            feature: "text search".into(),
            reason: "it has no full-text index".into(),
        })
    }

    /// Top-k items for a query of any mode, each hit marked with the ranks its retrievers gave
    /// it. A hybrid query fetches at least [`crate::HYBRID_DEPTH`] candidates from each side and fuses.
    fn find(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        match *query {
            Query::Dense(vector) => Ok(ranked(self.search(vector, params)?, false)),
            Query::Text(text) => Ok(ranked(self.search_text(text, params)?, true)),
            Query::Hybrid { vector, text, fusion } => {
                let fusion = fusion.validate()?;
                let deep = candidate_params(params);
                let text_hits = self.search_text(text, &deep)?;
                let dense_hits = self.search(vector, &deep)?;
                Ok(fuse(dense_hits, text_hits, fusion, self.config().metric, params.k.max(1)))
            }
        }
    }

    /// As [`CollectionRead::find`], for answers by document: where the backend can, text is
    /// scored a document at a time (a document's chunks as one text, as a whole-document index
    /// scores it) and a hybrid query fuses documents. Otherwise (and for dense queries) the
    /// same as `find`: chunks, which the caller groups by document.
    fn find_documents(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        self.find(query, params)
    }

    /// A page of items after `cursor` (`None`: from the start), and the cursor of the next page
    /// (`None`: the end). Cursors stay valid while the collection changes, so a scan can resume.
    fn scan(&self, cursor: Option<&str>, limit: usize) -> Result<(Vec<Item>, Option<String>)>;

    /// What the collection costs in memory and on disk, where the backend can tell.
    fn usage(&self) -> Result<Option<Usage>> {
        Ok(None)
    }

    /// Checks that vectors of `model` may enter this collection.
    fn check_model(&self, model: &str) -> Result<()> {
        match &self.config().model {
            Some(m) if m != model => Err(Error::ModelMismatch {
                collection: self.config().name.clone(),
                expected: m.clone(),
                got: model.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

/// Changing one collection. Both calls are durable (or refused whole) when they return.
pub trait CollectionWrite: CollectionRead {
    /// Inserts or replaces items. A bad item rejects the whole batch.
    fn upsert(&self, items: Vec<Item>) -> Result<()>;

    /// Deletes items; returns how many existed.
    fn delete(&self, ids: &[ItemId]) -> Result<usize>;

    /// Deletes `delete` and upserts `items` as one change (a document's chunks replaced). The
    /// embedded store makes it atomic across crashes; a backend that cannot upserts first and
    /// then deletes what the new items did not overwrite, so a crash between the two leaves
    /// stale extras, never a document with chunks missing.
    fn replace(&self, delete: &[ItemId], items: Vec<Item>) -> Result<()> {
        let kept: std::collections::HashSet<&ItemId> = items.iter().map(|i| &i.id).collect();
        let stale: Vec<ItemId> = delete.iter().filter(|id| !kept.contains(id)).cloned().collect();
        drop(kept);
        self.upsert(items)?;
        self.delete(&stale).map(|_| ())
    }

    /// A mixed collection's [`CollectionWrite::replace`] across its spaces as one change: `delete`
    /// leaves every space named in `writes`, unless that space is given the id again, and each
    /// space's items enter it (one file's parts, say: a video's frames and its sound). The
    /// embedded store writes it as one log frame, so a crash keeps all of it or none.
    fn replace_in_spaces(&self, delete: &[ItemId], writes: Vec<(String, Vec<Item>)>) -> Result<()> {
        let _ = (delete, writes);
        Err(Error::Unsupported {
            backend: "this backend".into(),
            feature: "writing several spaces at once".into(),
            reason: format!("collection {:?} is not a mixed collection", self.config().name),
        })
    }

    /// Called when a bulk write ends: the embedded store folds a long log into a snapshot so the
    /// next open is fast; a server backend has nothing to do.
    fn checkpoint(&self) -> Result<()> {
        Ok(())
    }
}

/// Where collections live.
pub trait Backend: Send + Sync {
    /// For messages: `embedded store ./kin-data`, `milvus://host:19530`.
    fn describe(&self) -> String;

    /// Names of every collection, sorted.
    fn names(&self) -> Result<Vec<String>>;

    fn create(&self, config: CollectionConfig) -> Result<Arc<dyn CollectionWrite>>;

    fn collection(&self, name: &str) -> Result<Arc<dyn CollectionWrite>>;

    fn drop_collection(&self, name: &str) -> Result<()>;

    /// One vector space of a mixed collection, as a collection of its own (its hits name it).
    fn space(&self, collection: &str, space: &str) -> Result<Arc<dyn CollectionWrite>> {
        let _ = (collection, space);
        Err(Error::Unsupported {
            backend: self.describe(),
            feature: "collections of several vector spaces".into(),
            reason: "this backend keeps one model's vectors per collection".into(),
        })
    }

    /// Whether collections here can keep a full-text index (made by default for text models).
    fn text_search(&self) -> bool {
        false
    }

    /// Gives a collection a full-text index over what it holds (`None`: takes it away).
    fn set_text_index(&self, name: &str, text: Option<TextConfig>) -> Result<Arc<dyn CollectionWrite>> {
        let _ = (name, text);
        Err(Error::Unsupported {
            backend: self.describe(),
            feature: "a text index".into(),
            reason: "this backend keeps no full-text index".into(),
        })
    }

    /// Reads every file of a collection and says what it found (the embedded store's files).
    fn check(&self, name: &str) -> Result<crate::Check> {
        let _ = name;
        Err(self.no_files("checking a collection's files"))
    }

    /// Keeps every intact record of a damaged collection and leaves one that opens.
    fn repair(&self, name: &str) -> Result<crate::Repair> {
        let _ = name;
        Err(self.no_files("repairing a collection's files"))
    }

    /// The refusal of a backend whose files are not kin's.
    fn no_files(&self, feature: &str) -> Error {
        Error::Unsupported {
            backend: self.describe(),
            feature: feature.into(),
            reason: "the server keeps and checks its own files".into(),
        }
    }
}

impl CollectionRead for Collection {
    fn config(&self) -> &CollectionConfig {
        Collection::config(self)
    }

    fn count(&self) -> Result<usize> {
        Ok(Collection::count(self))
    }

    fn get(&self, id: &ItemId) -> Result<Option<Item>> {
        Ok(Collection::get(self, id))
    }

    fn has_content(&self, id: &ItemId, content_hash: &str) -> Result<bool> {
        Ok(Collection::has_content(self, id, content_hash))
    }

    fn search(&self, query: &[f32], params: &SearchParams) -> Result<Vec<Hit>> {
        Collection::search(self, query, params)
    }

    fn search_text(&self, text: &str, params: &SearchParams) -> Result<Vec<Hit>> {
        Collection::search_text(self, text, params)
    }

    fn find(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        Collection::find(self, query, params)
    }

    fn find_documents(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        self.only_space()?.find_documents(query, params)
    }

    fn usage(&self) -> Result<Option<Usage>> {
        Collection::usage(self).map(Some)
    }

    fn scan(&self, cursor: Option<&str>, limit: usize) -> Result<(Vec<Item>, Option<String>)> {
        // A mixed collection's cursor leads with its space: `SPACE/CURSOR`.
        if !self.config().is_mixed() {
            let (items, next) = Collection::scan_slots(self, parse_cursor(cursor)?, limit.max(1))?;
            return Ok((items, next.map(format_cursor)));
        }
        let (mut place, inner) = match cursor.map(|c| c.split_once('/')) {
            None => (0, None),
            Some(Some((space, rest))) => match space.parse::<usize>() {
                Ok(p) => (p, Some(rest)),
                Err(_) => return Err(bad_cursor(cursor)),
            },
            Some(None) => return Err(bad_cursor(cursor)),
        };
        let mut start = parse_cursor(inner)?;
        let spaces = self.spaces();
        while let Some(space) = spaces.get(place) {
            let (items, next) = space.scan_slots(start, limit.max(1))?;
            match next {
                Some(next) => return Ok((items, Some(format!("{place}/{}", format_cursor(next))))),
                None if !items.is_empty() || place + 1 == spaces.len() => {
                    let more = spaces[place + 1..].iter().any(|s| s.count() > 0);
                    return Ok((items, more.then(|| format!("{}/0", place + 1))));
                }
                None => {
                    place += 1;
                    start = (0, 0);
                }
            }
        }
        Ok((Vec::new(), None))
    }
}

/// A scan cursor as the embedded store writes it: the slot to go on from, after `EPOCH:` once
/// the collection was compacted while open.
pub(crate) fn parse_cursor(cursor: Option<&str>) -> Result<ScanCursor> {
    let parsed = match cursor {
        None => Some((0, 0)),
        Some(c) => match c.split_once(':') {
            None => c.parse().ok().map(|slot| (0, slot)),
            Some((epoch, slot)) => epoch.parse().ok().zip(slot.parse().ok()),
        },
    };
    parsed.ok_or_else(|| bad_cursor(cursor))
}

pub(crate) fn format_cursor((epoch, slot): ScanCursor) -> String {
    if epoch == 0 {
        slot.to_string()
    } else {
        format!("{epoch}:{slot}")
    }
}

fn bad_cursor(cursor: Option<&str>) -> Error {
    Error::InvalidSettings(format!("scan cursor {:?} is not one kin returned", cursor.unwrap_or("")))
}

impl CollectionWrite for Collection {
    fn upsert(&self, items: Vec<Item>) -> Result<()> {
        Collection::upsert(self, items)
    }

    fn delete(&self, ids: &[ItemId]) -> Result<usize> {
        Collection::delete(self, ids)
    }

    fn replace(&self, delete: &[ItemId], items: Vec<Item>) -> Result<()> {
        Collection::replace(self, delete, items)
    }

    fn replace_in_spaces(&self, delete: &[ItemId], writes: Vec<(String, Vec<Item>)>) -> Result<()> {
        let mut placed = Vec::with_capacity(writes.len());
        for (space, items) in writes {
            placed.push((self.space_index(&space)?, items));
        }
        let named: Vec<usize> = placed.iter().map(|(p, _)| *p).collect();
        self.replace_named(delete, &named, placed)
    }

    fn checkpoint(&self) -> Result<()> {
        Collection::checkpoint(self).map(|_| ())
    }
}

impl Backend for Store {
    fn describe(&self) -> String {
        format!("embedded store {}", self.dir().display())
    }

    fn names(&self) -> Result<Vec<String>> {
        Store::names(self)
    }

    fn create(&self, config: CollectionConfig) -> Result<Arc<dyn CollectionWrite>> {
        Ok(Store::create(self, config)?)
    }

    fn collection(&self, name: &str) -> Result<Arc<dyn CollectionWrite>> {
        Ok(Store::collection(self, name)?)
    }

    fn drop_collection(&self, name: &str) -> Result<()> {
        Store::drop_collection(self, name)
    }

    fn space(&self, collection: &str, space: &str) -> Result<Arc<dyn CollectionWrite>> {
        Ok(Arc::new(crate::space::SpaceHandle::new(Store::collection(self, collection)?, space)?))
    }

    fn text_search(&self) -> bool {
        true
    }

    fn set_text_index(&self, name: &str, text: Option<TextConfig>) -> Result<Arc<dyn CollectionWrite>> {
        Ok(Store::set_text_index(self, name, text)?)
    }

    fn check(&self, name: &str) -> Result<crate::Check> {
        Store::check(self, name)
    }

    fn repair(&self, name: &str) -> Result<crate::Repair> {
        Store::repair(self, name)
    }
}
