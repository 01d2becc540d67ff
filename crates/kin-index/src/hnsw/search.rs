//! Searching: descend the upper layers greedily, beam-search layer 0, honour tombstones and the
//! filter, re-rank int8 candidates exactly, and scan exactly when the graph is the slower road.

use super::distances::{Coded, Distances, Exact};
use super::graph::state;
use super::scratch::{with_scratch, Scratch};
use super::walk::{beam, greedy, measure};
use super::HnswIndex;
use crate::distance::metric_distance;
use crate::index::SearchParams;
use crate::topk::{Scored, TopK};
use crate::validate::prepare;
use crate::Result;

/// The largest `matches_estimate` for which a filtered search scans the matching vectors exactly
/// instead of walking the graph: `√(ef · ids)`.
///
/// Under a filter that passes a fraction `s = matches / ids` of the nodes, a walk computes about
/// `ef / s` distances before it has collected `ef` matches; a scan computes `matches` distances
/// (plus one filter call per id, which is much cheaper). The two cost the same when
/// `matches² = ef · ids`. For 20,000 ids and `ef` 64 the threshold is 1,131 matches (5.7 %); for
/// 10 million ids and `ef` 100 it is 31,622 (0.3 %).
pub fn exact_threshold(ef: usize, ids: usize) -> usize {
    (ef as f64 * ids as f64).sqrt() as usize
}

impl HnswIndex {
    /// The `k` nearest live vectors that pass `filter`, nearest first, searched with beam width
    /// `ef` (raised to `k`). See [`HnswIndex::search_with`].
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(u32, f32)>> {
        self.search_with(query, &SearchParams { k, ef, filter, matches_estimate: None })
    }

    /// Up to `params.k` `(id, distance)` pairs, nearest first.
    ///
    /// Deleted nodes and nodes the filter rejects are walked through but never collected, and
    /// the walk goes on until it has collected `ef` nodes or run out of graph around the query.
    /// If it still has fewer than `k` while the index holds more live vectors, the search falls
    /// back to an exact scan, so a filter passing at least `k` vectors always yields `k`
    /// results. With a filter and a `matches_estimate` at most [`exact_threshold`], the search
    /// scans exactly from the start.
    pub fn search_with(&self, query: &[f32], params: &SearchParams<'_>) -> Result<Vec<(u32, f32)>> {
        let query = prepare(self.metric, self.dim, query)?;
        if params.k == 0 {
            return Ok(Vec::new());
        }
        let ef = params.ef.max(params.k);
        let ids = self.id_bound() as usize;
        let selective = params.matches_estimate.is_some_and(|m| m <= exact_threshold(ef, ids));
        if params.filter.is_some() && selective {
            return Ok(self.scan(&query, params));
        }
        let found = with_scratch(|scratch| self.walk(&query, params, ef, scratch));
        if found.len() < params.k && self.len() > found.len() {
            return Ok(self.scan(&query, params));
        }
        Ok(found)
    }

    fn walk(&self, query: &[f32], params: &SearchParams<'_>, ef: usize, scratch: &mut Scratch) -> Vec<(u32, f32)> {
        let Some((entry, top)) = self.graph.entry() else {
            return Vec::new();
        };
        let exact = Exact { vectors: &self.vectors, metric: self.metric, query };
        let accept = |n: u32| self.graph.state(n) & state::DELETED == 0 && params.allows(n);
        let quantized =
            self.codes.as_ref().and_then(|codes| Some((codes, codes.quantizer()?.query(self.metric, query))));

        let Some((codes, code)) = quantized else {
            let found = self.descend(entry, top, ef, &exact, &accept, scratch);
            return found.into_iter().take(params.k).map(|s| (s.id, s.dist)).collect();
        };
        let approx = Coded { graph: &self.graph, codes, query: &code, exact: &exact };
        let found = self.descend(entry, top, ef, &approx, &accept, scratch);
        // Every candidate's vector is asked for first and measured four at a time, as the walk
        // measures neighbours: the `ef` rows are scattered, and their loads overlap.
        let ids: Vec<u32> = found.iter().map(|s| s.id).collect();
        let mut exact_dists = Vec::with_capacity(ids.len());
        measure(&exact, &ids, &mut exact_dists);
        let mut reranked: Vec<Scored> = ids.iter().zip(exact_dists).map(|(&id, d)| Scored::new(id, d)).collect();
        reranked.sort_unstable();
        reranked.into_iter().take(params.k).map(|s| (s.id, s.dist)).collect()
    }

    /// Greedy descent from the entry point to layer 1, then a beam search of layer 0.
    fn descend(
        &self,
        entry: u32,
        top: usize,
        ef: usize,
        dist: &impl Distances,
        accept: &impl Fn(u32) -> bool,
        scratch: &mut Scratch,
    ) -> Vec<Scored> {
        let mut nearest = Scored::new(entry, dist.one(entry));
        for layer in (1..=top).rev() {
            nearest = greedy(&self.graph, nearest, layer, dist, scratch);
        }
        beam(&self.graph, scratch, nearest, 0, ef, dist, accept)
    }

    /// Exact search over every live vector that passes the filter.
    fn scan(&self, query: &[f32], params: &SearchParams<'_>) -> Vec<(u32, f32)> {
        let mut top = TopK::new(params.k);
        for id in 0..self.id_bound() {
            let s = self.graph.state(id);
            if s & state::READY == 0 || s & state::DELETED != 0 || !params.allows(id) {
                continue;
            }
            if let Some(row) = self.vectors.row(id) {
                top.offer(id, metric_distance(self.metric, query, row));
            }
        }
        top.into_sorted()
    }
}

#[cfg(test)]
mod tests {
    use kin_core::Metric;

    use super::*;
    use crate::hnsw::HnswParams;
    use crate::{Error, FlatIndex};

    fn line(n: usize) -> Vec<f32> {
        (0..n).flat_map(|i| [i as f32, (i % 7) as f32 * 0.01]).collect()
    }

    #[test]
    fn small_indexes_answer_exactly() -> Result<()> {
        let flat = line(300);
        let index = HnswIndex::build(2, Metric::L2, HnswParams::default(), &flat)?;
        let mut exact = FlatIndex::new(2, Metric::L2)?;
        exact.add_batch(&flat)?;
        for q in [[0.0, 0.0], [150.3, 0.02], [299.9, 0.0], [-5.0, 1.0]] {
            assert_eq!(index.search(&q, 5, 64, None)?, exact.search(&q, 5, None)?);
        }
        assert_eq!(index.search(&[1.0, 0.0], 500, 10, None)?.len(), 300);
        assert!(index.search(&[1.0, 0.0], 0, 10, None)?.is_empty());
        assert!(matches!(index.search(&[f32::NAN, 0.0], 1, 10, None), Err(Error::NonFinite { index: 0 })));
        Ok(())
    }

    #[test]
    fn empty_index_finds_nothing() -> Result<()> {
        let index = HnswIndex::new(3, Metric::Dot, HnswParams::default())?;
        assert!(index.search(&[1.0, 0.0, 0.0], 3, 10, None)?.is_empty());
        Ok(())
    }

    #[test]
    fn filters_and_tombstones_are_honoured() -> Result<()> {
        let index = HnswIndex::build(2, Metric::L2, HnswParams::default(), &line(500))?;
        for id in (0..500).step_by(3) {
            index.delete(id)?;
        }
        let by_five = |id: u32| id.is_multiple_of(5);
        let q = [250.0, 0.0];
        for estimate in [None, Some(100), Some(1)] {
            let params = SearchParams { k: 10, ef: 32, filter: Some(&by_five), matches_estimate: estimate };
            let hits = index.search_with(&q, &params)?;
            assert_eq!(hits.len(), 10);
            assert!(hits.iter().all(|&(id, _)| id.is_multiple_of(5) && !id.is_multiple_of(3)), "{hits:?}");
            assert!(hits.windows(2).all(|w| w[0].1 <= w[1].1));
        }
        let only_three = |id: u32| id == 1 || id == 2 || id == 4;
        assert_eq!(index.search(&q, 10, 16, Some(&only_three))?.len(), 3, "fewer matches than k");
        Ok(())
    }

    #[test]
    fn threshold_grows_with_the_square_root() {
        assert_eq!(exact_threshold(64, 20_000), 1_131);
        assert_eq!(exact_threshold(100, 10_000_000), 31_622);
        assert_eq!(exact_threshold(10, 0), 0);
    }
}
