//! The collection's vector index: our HNSW graph, or an exact flat index, behind one face.

use std::path::Path;

use kin_index::{FlatIndex, HnswIndex, HnswParams, SearchParams, REMOVED};

use crate::config::{CollectionConfig, IndexKind, Quantization};
use crate::Result;

/// Vectors seen before an int8 quantizer is fitted.
const INT8_TRAIN_SIZE: usize = 1024;

// One per collection, so the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum VectorIndex {
    Hnsw(HnswIndex),
    Flat { index: FlatIndex, deleted: Vec<bool> },
}

fn hnsw_params(config: &CollectionConfig) -> HnswParams {
    HnswParams {
        m: config.m,
        ef_construction: config.ef_construction,
        quantization: match config.quantization {
            Quantization::None => kin_index::Quantization::None,
            Quantization::Int8 => kin_index::Quantization::Int8 { train_size: INT8_TRAIN_SIZE },
        },
        ..HnswParams::default()
    }
}

impl VectorIndex {
    pub fn new(config: &CollectionConfig) -> Result<Self> {
        Ok(match config.index {
            IndexKind::Hnsw => VectorIndex::Hnsw(HnswIndex::new(config.dim, config.metric, hnsw_params(config))?),
            IndexKind::Flat => {
                VectorIndex::Flat { index: FlatIndex::new(config.dim, config.metric)?, deleted: Vec::new() }
            }
        })
    }

    /// The index of a snapshot's vectors (`flat`, one row per slot): the graph saved beside the
    /// snapshot at log position `lsn` when `path` holds it, so that opening costs reading, not
    /// building. A missing, damaged, old or mismatched file is reported and the graph built
    /// again from the vectors (and saved, for the next open).
    pub fn restore(config: &CollectionConfig, path: &Path, flat: &[f32], lsn: u64) -> Result<Self> {
        if config.index != IndexKind::Hnsw || flat.is_empty() {
            let mut index = VectorIndex::new(config)?;
            index.insert_batch(flat)?;
            return Ok(index);
        }
        let rows = flat.len() / config.dim;
        let why = match saved_graph(config, path, flat, lsn) {
            Ok(index) => return Ok(VectorIndex::Hnsw(index)),
            Err(why) => why,
        };
        tracing::warn!(collection = %config.name, "building the index from {rows} vectors: {why}");
        let mut index = VectorIndex::new(config)?;
        index.insert_batch(flat)?;
        if let Err(error) = index.save(path, lsn) {
            tracing::warn!(collection = %config.name, %error, "the rebuilt index was not saved");
        }
        Ok(index)
    }

    /// Saves what opening needs besides the snapshot: an HNSW graph, tagged with the snapshot's
    /// log position. A flat index needs nothing.
    pub fn save(&self, path: &Path, lsn: u64) -> Result<()> {
        match self {
            VectorIndex::Hnsw(h) => Ok(h.save_graph(path, lsn)?),
            VectorIndex::Flat { .. } => Ok(()),
        }
    }

    /// A copy without the deleted slots, and the map from old slots to new ones (`REMOVED` for
    /// deleted slots).
    pub fn compacted(&self) -> Result<(Self, Vec<u32>)> {
        match self {
            VectorIndex::Hnsw(h) => {
                let (index, remap) = h.compacted()?;
                Ok((VectorIndex::Hnsw(index), remap))
            }
            VectorIndex::Flat { index, deleted } => {
                let mut remap = vec![REMOVED; deleted.len()];
                let mut live = Vec::new();
                for (slot, gone) in deleted.iter().enumerate() {
                    if let (false, Some(v)) = (gone, index.vector(slot as u32)) {
                        remap[slot] = (live.len() / index.dim()) as u32;
                        live.extend_from_slice(v);
                    }
                }
                let mut flat = FlatIndex::new(index.dim(), index.metric())?;
                let range = flat.add_batch(&live)?;
                Ok((VectorIndex::Flat { index: flat, deleted: vec![false; range.end as usize] }, remap))
            }
        }
    }

    /// Adds `flat` (rows of the collection's dimension), in parallel; returns the first slot.
    pub fn insert_batch(&mut self, flat: &[f32]) -> Result<u32> {
        Ok(match self {
            VectorIndex::Hnsw(h) => h.insert_batch(flat)?.start,
            VectorIndex::Flat { index, deleted } => {
                let range = index.add_batch(flat)?;
                deleted.resize(range.end as usize, false);
                range.start
            }
        })
    }

    /// Nodes held (deleted ones included) and the memory they take.
    pub fn usage(&self) -> (usize, usize) {
        match self {
            VectorIndex::Hnsw(h) => (h.nodes(), h.memory_bytes()),
            VectorIndex::Flat { index, deleted } => (index.len(), index.memory_bytes() + deleted.capacity()),
        }
    }

    pub fn delete(&mut self, slot: u32) {
        match self {
            VectorIndex::Hnsw(h) => {
                let _ = h.delete(slot);
            }
            VectorIndex::Flat { deleted, .. } => {
                if let Some(d) = deleted.get_mut(slot as usize) {
                    *d = true;
                }
            }
        }
    }

    pub fn vector(&self, slot: u32) -> Vec<f32> {
        match self {
            VectorIndex::Hnsw(h) => h.vector(slot).unwrap_or_default(),
            VectorIndex::Flat { index, .. } => index.vector(slot).map(<[f32]>::to_vec).unwrap_or_default(),
        }
    }

    /// Approximate top-k among slots passing `matches` (which also hides deleted slots).
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        matches: Option<&dyn Fn(u32) -> bool>,
        estimate: Option<usize>,
    ) -> Result<Vec<(u32, f32)>> {
        let params = SearchParams { k, ef, filter: matches, matches_estimate: estimate };
        self.search_with(query, &params)
    }

    /// Exact top-k among slots passing `matches`.
    pub fn exact(&self, query: &[f32], k: usize, matches: &dyn Fn(u32) -> bool) -> Result<Vec<(u32, f32)>> {
        // An estimate of zero matches makes the graph index scan every vector.
        let params = SearchParams { k, ef: k, filter: Some(matches), matches_estimate: Some(0) };
        self.search_with(query, &params)
    }

    fn search_with(&self, query: &[f32], params: &SearchParams<'_>) -> Result<Vec<(u32, f32)>> {
        Ok(match self {
            VectorIndex::Hnsw(h) => h.search_with(query, params)?,
            VectorIndex::Flat { index, deleted } => {
                let live = |slot: u32| !deleted.get(slot as usize).copied().unwrap_or(true) && params.allows_slot(slot);
                index.search(query, params.k, Some(&live))?
            }
        })
    }
}

/// Whether a loaded graph belongs to a collection with `config` and `rows` live slots.
/// The HNSW graph saved at `path` when it was saved with these vectors (one row per slot) at
/// log position `lsn` and the collection's settings; why it cannot be used otherwise.
pub(crate) fn saved_graph(
    config: &CollectionConfig,
    path: &Path,
    flat: &[f32],
    lsn: u64,
) -> std::result::Result<HnswIndex, String> {
    let rows = flat.len() / config.dim.max(1);
    checked(config, path, rows, lsn, HnswIndex::load_graph(path, flat))
}

/// As [`saved_graph`], the `rows` vectors read one at a time by `next` (see
/// [`HnswIndex::load_graph_each`]), so that nothing else holds them all. `Err(None)`: `next`
/// could not give a row (its caller knows why).
pub(crate) fn saved_graph_each(
    config: &CollectionConfig,
    path: &Path,
    rows: usize,
    lsn: u64,
    next: &mut dyn FnMut(&mut [f32]) -> bool,
) -> std::result::Result<HnswIndex, Option<String>> {
    match HnswIndex::load_graph_each(path, rows, next) {
        Err(kin_index::Error::Source { .. }) => Err(None),
        loaded => checked(config, path, rows, lsn, loaded).map_err(Some),
    }
}

/// A loaded graph when it was saved at `lsn` with the collection's settings and `rows` slots.
fn checked(
    config: &CollectionConfig,
    path: &Path,
    rows: usize,
    lsn: u64,
    loaded: kin_index::Result<(HnswIndex, u64)>,
) -> std::result::Result<HnswIndex, String> {
    match loaded {
        Ok((index, tag)) if tag == lsn && fits(config, &index, rows) => Ok(index),
        Ok((_, tag)) if tag != lsn => {
            Err(format!("{} was saved at log position {tag}, the snapshot at {lsn}", path.display()))
        }
        Ok(_) => Err(format!("{} was saved with other settings", path.display())),
        Err(e) => Err(e.to_string()),
    }
}

fn fits(config: &CollectionConfig, index: &HnswIndex, rows: usize) -> bool {
    let (want, got) = (hnsw_params(config), index.params());
    index.dim() == config.dim
        && index.metric() == config.metric
        && (got.m, got.ef_construction, got.quantization) == (want.m, want.ef_construction, want.quantization)
        && index.len() == rows
        && index.id_bound() as usize == rows
}

trait Allows {
    fn allows_slot(&self, slot: u32) -> bool;
}

impl Allows for SearchParams<'_> {
    fn allows_slot(&self, slot: u32) -> bool {
        self.filter.is_none_or(|f| f(slot))
    }
}
