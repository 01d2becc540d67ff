//! The collection's vector index: our HNSW graph, or an exact flat index, behind one face.

use kin_index::{FlatIndex, HnswIndex, HnswParams, SearchParams};

use crate::config::{CollectionConfig, IndexKind, Quantization};
use crate::Result;

/// Vectors seen before an int8 quantizer is fitted.
const INT8_TRAIN_SIZE: usize = 1024;

pub(crate) enum VectorIndex {
    Hnsw(HnswIndex),
    Flat { index: FlatIndex, deleted: Vec<bool> },
}

impl VectorIndex {
    pub fn new(config: &CollectionConfig) -> Result<Self> {
        Ok(match config.index {
            IndexKind::Hnsw => {
                let params = HnswParams {
                    m: config.m,
                    ef_construction: config.ef_construction,
                    quantization: match config.quantization {
                        Quantization::None => kin_index::Quantization::None,
                        Quantization::Int8 => kin_index::Quantization::Int8 { train_size: INT8_TRAIN_SIZE },
                    },
                    ..HnswParams::default()
                };
                VectorIndex::Hnsw(HnswIndex::new(config.dim, config.metric, params)?)
            }
            IndexKind::Flat => {
                VectorIndex::Flat { index: FlatIndex::new(config.dim, config.metric)?, deleted: Vec::new() }
            }
        })
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
        matches: &dyn Fn(u32) -> bool,
        estimate: Option<usize>,
    ) -> Result<Vec<(u32, f32)>> {
        let params = SearchParams { k, ef, filter: Some(matches), matches_estimate: estimate };
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

trait Allows {
    fn allows_slot(&self, slot: u32) -> bool;
}

impl Allows for SearchParams<'_> {
    fn allows_slot(&self, slot: u32) -> bool {
        self.filter.is_none_or(|f| f(slot))
    }
}
