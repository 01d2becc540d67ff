//! Exact search: every vector compared with the query. Slow on large sets, and the ground truth
//! the approximate indexes are measured against.

use std::ops::Range;

use kin_core::Metric;

use crate::distance::metric_distance;
use crate::index::{SearchParams, VectorIndexRead};
use crate::topk::TopK;
use crate::validate::{check_dim, check_row, prepare, rows};
use crate::{Error, Result};

/// Vectors in one contiguous buffer, searched by brute force.
pub struct FlatIndex {
    dim: usize,
    metric: Metric,
    data: Vec<f32>,
}

impl FlatIndex {
    pub fn new(dim: usize, metric: Metric) -> Result<Self> {
        check_dim(dim)?;
        Ok(FlatIndex { dim, metric, data: Vec::new() })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// Memory held by the vectors.
    pub fn memory_bytes(&self) -> usize {
        self.data.capacity() * std::mem::size_of::<f32>()
    }

    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Adds one vector and returns its id (ids count up from 0).
    pub fn add(&mut self, vector: &[f32]) -> Result<u32> {
        Ok(self.add_batch(vector)?.start)
    }

    /// Adds a flat batch of rows, all or none, and returns their ids.
    pub fn add_batch(&mut self, flat: &[f32]) -> Result<Range<u32>> {
        let mut scales = Vec::with_capacity(flat.len() / self.dim.max(1));
        for (row, v) in rows(self.dim, flat)?.enumerate() {
            scales.push(check_row(self.metric, self.dim, v, row, row * self.dim)?);
        }
        let start = self.len();
        let end = start + scales.len();
        if end > u32::MAX as usize {
            return Err(Error::CapacityExceeded { capacity: u64::from(u32::MAX) });
        }
        self.data.reserve(flat.len());
        for (v, scale) in flat.chunks_exact(self.dim).zip(scales) {
            self.data.extend(v.iter().map(|x| x * scale));
        }
        Ok(start as u32..end as u32)
    }

    /// Vector `id` as stored (unit length under cosine).
    pub fn vector(&self, id: u32) -> Option<&[f32]> {
        let start = (id as usize).checked_mul(self.dim)?;
        self.data.get(start..start + self.dim)
    }

    /// The `k` nearest vectors that pass `filter`, nearest first.
    pub fn search(&self, query: &[f32], k: usize, filter: Option<&dyn Fn(u32) -> bool>) -> Result<Vec<(u32, f32)>> {
        let params = SearchParams { k, ef: k, filter, matches_estimate: None };
        self.search_with(query, &params)
    }

    pub fn search_with(&self, query: &[f32], params: &SearchParams<'_>) -> Result<Vec<(u32, f32)>> {
        let query = prepare(self.metric, self.dim, query)?;
        let mut top = TopK::new(params.k);
        if params.k == 0 {
            return Ok(Vec::new());
        }
        for (id, row) in self.data.chunks_exact(self.dim).enumerate() {
            let id = id as u32;
            if params.allows(id) {
                top.offer(id, metric_distance(self.metric, &query[..], row));
            }
        }
        Ok(top.into_sorted())
    }
}

impl VectorIndexRead for FlatIndex {
    fn dim(&self) -> usize {
        self.dim
    }

    fn metric(&self) -> Metric {
        self.metric
    }

    fn len(&self) -> usize {
        FlatIndex::len(self)
    }

    fn search_with(&self, query: &[f32], params: &SearchParams<'_>) -> Result<Vec<(u32, f32)>> {
        FlatIndex::search_with(self, query, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_nearest_under_each_metric() -> Result<()> {
        let mut l2 = FlatIndex::new(2, Metric::L2)?;
        let ids = l2.add_batch(&[0.0, 0.0, 1.0, 0.0, 5.0, 5.0])?;
        assert_eq!(ids, 0..3);
        let hits = l2.search(&[0.9, 0.1], 2, None)?;
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 0]);
        assert!((hits[0].1 - 0.02).abs() < 1e-6);

        let mut dot = FlatIndex::new(2, Metric::Dot)?;
        dot.add_batch(&[1.0, 0.0, 3.0, 0.0, 0.0, 1.0])?;
        assert_eq!(dot.search(&[1.0, 0.0], 1, None)?, vec![(1, -3.0)]);

        let mut cos = FlatIndex::new(2, Metric::Cosine)?;
        cos.add_batch(&[1.0, 0.0, 3.0, 3.0, 0.0, 2.0])?;
        assert_eq!(cos.search(&[0.0, 5.0], 1, None)?[0].0, 2);
        assert!(cos.vector(1).is_some_and(|v| (v[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6));
        Ok(())
    }

    #[test]
    fn filters_and_bad_input() -> Result<()> {
        let mut index = FlatIndex::new(1, Metric::L2)?;
        for x in 0..10 {
            index.add(&[x as f32])?;
        }
        let odd = |id: u32| id % 2 == 1;
        let hits = index.search(&[4.2], 3, Some(&odd))?;
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![5, 3, 7]);
        assert!(index.search(&[4.2], 0, None)?.is_empty());
        assert_eq!(index.search(&[0.0], 50, None)?.len(), 10);
        assert!(matches!(index.search(&[1.0, 2.0], 1, None), Err(Error::DimensionMismatch { .. })));
        assert!(matches!(index.add_batch(&[1.0, f32::NAN]), Err(Error::NonFinite { index: 1 })));
        assert_eq!(index.len(), 10, "a rejected batch adds nothing");
        Ok(())
    }
}
