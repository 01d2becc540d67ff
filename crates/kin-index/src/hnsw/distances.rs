//! What a walk measures: the distance from its query to the nodes it reaches, exact on f32
//! vectors or approximate on int8 codes, one node or four at a time.

use std::sync::atomic::AtomicI8;

use kin_core::Metric;

use super::codes::CodeStore;
use super::graph::{state, Graph};
use crate::distance::{metric_distance, metric_distance_4, F32Lanes};
use crate::quantize::QueryCode;
use crate::storage::VectorStore;

/// Distances from one query to nodes of the graph; smaller is nearer.
pub(crate) trait Distances {
    /// Distance to node `id`; infinite for a node without a vector.
    fn one(&self, id: u32) -> f32;

    /// Distances to four nodes.
    fn four(&self, ids: [u32; 4]) -> [f32; 4] {
        ids.map(|id| self.one(id))
    }

    /// Starts loading what [`Distances::one`] will read for `id`.
    fn prefetch(&self, _id: u32) {}
}

/// Exact distances to stored f32 vectors.
pub(crate) struct Exact<'a, Q: F32Lanes + ?Sized> {
    pub(crate) vectors: &'a VectorStore,
    pub(crate) metric: Metric,
    pub(crate) query: &'a Q,
}

impl<Q: F32Lanes + ?Sized> Distances for Exact<'_, Q> {
    #[inline]
    fn one(&self, id: u32) -> f32 {
        self.vectors.row(id).map_or(f32::INFINITY, |row| metric_distance(self.metric, self.query, row))
    }

    #[inline]
    fn four(&self, ids: [u32; 4]) -> [f32; 4] {
        match ids.map(|id| self.vectors.row(id)) {
            [Some(a), Some(b), Some(c), Some(d)] => metric_distance_4(self.metric, self.query, [a, b, c, d]),
            _ => ids.map(|id| self.one(id)),
        }
    }

    #[inline]
    fn prefetch(&self, id: u32) {
        self.vectors.prefetch(id);
    }
}

/// Approximate distances to int8 codes; a node not coded yet is measured exactly.
pub(crate) struct Coded<'a, 'q> {
    pub(crate) graph: &'a Graph,
    pub(crate) codes: &'a CodeStore,
    pub(crate) query: &'a QueryCode,
    pub(crate) exact: &'a Exact<'q, [f32]>,
}

impl Coded<'_, '_> {
    /// The code of node `id`, once it is written.
    #[inline]
    fn code(&self, id: u32) -> Option<&[AtomicI8]> {
        if self.graph.state(id) & state::CODED == 0 {
            return None;
        }
        self.codes.code(id)
    }

    /// The l2 term of node `id` where the metric uses it, else 0.
    #[inline]
    fn term(&self, id: u32) -> Option<f32> {
        if self.query.uses_term() {
            self.codes.term(id)
        } else {
            Some(0.0)
        }
    }
}

impl Distances for Coded<'_, '_> {
    #[inline]
    fn one(&self, id: u32) -> f32 {
        match (self.code(id), self.term(id)) {
            (Some(code), Some(term)) => self.query.distance(code, term),
            _ => self.exact.one(id),
        }
    }

    #[inline]
    fn four(&self, ids: [u32; 4]) -> [f32; 4] {
        match (ids.map(|id| self.code(id)), ids.map(|id| self.term(id))) {
            ([Some(a), Some(b), Some(c), Some(d)], [Some(ta), Some(tb), Some(tc), Some(td)]) => {
                self.query.distances_4([a, b, c, d], [ta, tb, tc, td])
            }
            _ => ids.map(|id| self.one(id)),
        }
    }

    #[inline]
    fn prefetch(&self, id: u32) {
        self.codes.prefetch(id);
    }
}
