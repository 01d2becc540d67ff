//! Hierarchical navigable small world graph (Malkov & Yashunin, 2016).
//!
//! | file | job |
//! |---|---|
//! | `params.rs` | [`HnswParams`], [`Quantization`] |
//! | `graph.rs` | node state, neighbour lists per layer, node locks, entry point, levels |
//! | `insert.rs` | [`HnswIndex::insert`], batches in parallel, linking a node |
//! | `select.rs` | the neighbour-selection heuristic |
//! | `distances.rs` | what a walk measures: exact f32 or int8 distances, four nodes at a time |
//! | `walk.rs` | greedy descent and beam search on one layer |
//! | `search.rs` | [`HnswIndex::search`]: filters, tombstones, exact fallback, int8 re-rank |
//! | `codes.rs` | int8 codes: training the quantizer, coding nodes |
//! | `compact.rs` | [`HnswIndex::compacted`]: deleted nodes removed, their links repaired |
//! | `persist.rs` | [`HnswIndex::save`] / [`HnswIndex::load`], graph-only files |
//! | `scratch.rs` | per-thread working memory of a walk |
//!
//! Inserts, deletes and searches all take `&self` and run concurrently. Searches take no lock:
//! they read vectors and neighbour lists through atomics, and reach a node only after it is
//! complete. Inserting threads lock one node at a time while they change its lists.

mod codes;
mod compact;
mod distances;
mod graph;
mod insert;
mod params;
mod persist;
mod scratch;
mod search;
mod select;
mod walk;

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use kin_core::Metric;
use parking_lot::RwLock;

use self::codes::CodeStore;
use self::graph::{state, Graph};
use crate::index::{SearchParams, VectorIndexRead};
use crate::quantize::Int8Quantizer;
use crate::storage::VectorStore;
use crate::validate::check_dim;
use crate::{Error, Result};

pub use compact::REMOVED;
pub use params::{HnswParams, Quantization};
pub use search::exact_threshold;

/// An approximate nearest-neighbour index over vectors of one dimension and metric.
pub struct HnswIndex {
    dim: usize,
    metric: Metric,
    params: HnswParams,
    vectors: VectorStore,
    graph: Graph,
    codes: Option<CodeStore>,
    /// Ids handed out so far; ids count up from 0.
    next_id: AtomicU32,
    /// Nodes whose vector is stored, deleted or not.
    stored: AtomicUsize,
    deleted: AtomicUsize,
    /// Inserts and deletes hold it shared; `save` holds it alone, for a consistent snapshot.
    writers: RwLock<()>,
}

impl HnswIndex {
    /// An empty index. With [`Quantization::Int8`] the quantizer is fitted once enough vectors
    /// are in.
    pub fn new(dim: usize, metric: Metric, params: HnswParams) -> Result<Self> {
        let codes = match params.quantization {
            Quantization::None => None,
            Quantization::Int8 { train_size } => Some(CodeStore::new(dim, train_size, None)),
        };
        HnswIndex::assemble(dim, metric, params, codes)
    }

    /// An empty index that codes every vector with `quantizer` from the start.
    pub fn with_quantizer(dim: usize, metric: Metric, params: HnswParams, quantizer: Int8Quantizer) -> Result<Self> {
        if quantizer.dim() != dim {
            return Err(Error::DimensionMismatch { expected: dim, got: quantizer.dim() });
        }
        let train_size = match params.quantization {
            Quantization::Int8 { train_size } => train_size,
            Quantization::None => 0,
        };
        HnswIndex::assemble(dim, metric, params, Some(CodeStore::new(dim, train_size, Some(quantizer))))
    }

    /// An index of `flat` (rows of `dim` values), built in parallel; row `i` gets id `i`.
    pub fn build(dim: usize, metric: Metric, params: HnswParams, flat: &[f32]) -> Result<Self> {
        let index = HnswIndex::new(dim, metric, params)?;
        index.insert_batch(flat)?;
        Ok(index)
    }

    fn assemble(dim: usize, metric: Metric, params: HnswParams, codes: Option<CodeStore>) -> Result<Self> {
        check_dim(dim)?;
        params.validate()?;
        Ok(HnswIndex {
            dim,
            metric,
            params,
            vectors: VectorStore::new(dim),
            graph: Graph::new(params.m, params.m0()),
            codes,
            next_id: AtomicU32::new(0),
            stored: AtomicUsize::new(0),
            deleted: AtomicUsize::new(0),
            writers: RwLock::new(()),
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    pub fn params(&self) -> &HnswParams {
        &self.params
    }

    /// Live vectors: inserted and not deleted.
    pub fn len(&self) -> usize {
        self.stored.load(Ordering::Acquire).saturating_sub(self.deleted.load(Ordering::Acquire))
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ids handed out so far, deleted ones included: every id is below this.
    pub fn id_bound(&self) -> u32 {
        self.next_id.load(Ordering::Acquire)
    }

    /// Nodes held, deleted ones included (compaction drops those).
    pub fn nodes(&self) -> usize {
        self.stored.load(Ordering::Acquire)
    }

    /// Memory held by vectors, graph and codes (allocated in blocks of 65,536 nodes).
    pub fn memory_bytes(&self) -> usize {
        self.vectors.allocated_bytes()
            + self.graph.allocated_bytes()
            + self.codes.as_ref().map_or(0, CodeStore::allocated_bytes)
    }

    /// The quantizer, once the index has one.
    pub fn quantizer(&self) -> Option<&Int8Quantizer> {
        self.codes.as_ref().and_then(CodeStore::quantizer)
    }

    /// Whether `id` is a stored vector that has not been deleted.
    pub fn contains(&self, id: u32) -> bool {
        let s = self.graph.state(id);
        s & state::READY != 0 && s & state::DELETED == 0
    }

    /// A copy of vector `id` as stored (unit length under cosine), deleted or not.
    pub fn vector(&self, id: u32) -> Option<Vec<f32>> {
        (self.graph.state(id) & state::READY != 0).then(|| self.vectors.to_vec(id)).flatten()
    }

    /// Marks `id` deleted: searches still walk through it but never return it. Returns false
    /// when it was already deleted.
    pub fn delete(&self, id: u32) -> Result<bool> {
        let _writer = self.writers.read();
        if self.graph.state(id) & state::READY == 0 {
            return Err(Error::UnknownId { id, assigned: self.id_bound() });
        }
        let before = self.graph.set_flags(id, state::DELETED);
        let newly = before & state::DELETED == 0;
        if newly {
            self.deleted.fetch_add(1, Ordering::AcqRel);
        }
        Ok(newly)
    }
}

impl VectorIndexRead for HnswIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn metric(&self) -> Metric {
        self.metric
    }

    fn len(&self) -> usize {
        HnswIndex::len(self)
    }

    fn search_with(&self, query: &[f32], params: &SearchParams<'_>) -> Result<Vec<(u32, f32)>> {
        HnswIndex::search_with(self, query, params)
    }
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("dim", &self.dim)
            .field("metric", &self.metric)
            .field("params", &self.params)
            .field("len", &self.len())
            .field("quantized", &self.quantizer().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_check_their_arguments() {
        assert!(HnswIndex::new(0, Metric::L2, HnswParams::default()).is_err());
        let bad = HnswParams { m: 0, ..HnswParams::default() };
        assert!(matches!(HnswIndex::new(4, Metric::L2, bad), Err(Error::InvalidParameter { name: "m", .. })));
        let q = Int8Quantizer::new(vec![0.0; 3], vec![1.0; 3]);
        assert!(q.is_ok_and(|q| matches!(
            HnswIndex::with_quantizer(4, Metric::L2, HnswParams::default(), q),
            Err(Error::DimensionMismatch { expected: 4, got: 3 })
        )));
        assert!(matches!(
            HnswIndex::build(3, Metric::L2, HnswParams::default(), &[0.0; 4]),
            Err(Error::RaggedBatch { len: 4, dim: 3 })
        ));
    }

    #[test]
    fn deletes_are_counted_once() -> Result<()> {
        let index = HnswIndex::new(2, Metric::L2, HnswParams::default())?;
        let a = index.insert(&[0.0, 1.0])?;
        index.insert(&[1.0, 0.0])?;
        assert_eq!((index.len(), index.id_bound()), (2, 2));
        assert!(index.delete(a)?);
        assert!(!index.delete(a)?);
        assert_eq!(index.len(), 1);
        assert!(!index.contains(a) && index.contains(1));
        assert_eq!(index.vector(a), Some(vec![0.0, 1.0]), "a deleted vector can still be read");
        assert!(matches!(index.delete(7), Err(Error::UnknownId { id: 7, assigned: 2 })));
        Ok(())
    }
}
