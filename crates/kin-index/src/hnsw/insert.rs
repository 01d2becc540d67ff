//! Inserting: store the vector, then link the node into each of its layers.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::distances::{Distances, Exact};
use super::graph::{level_of, random_level, state};
use super::scratch::{with_scratch, Scratch};
use super::select::select_diverse;
use super::walk::{beam, greedy};
use super::HnswIndex;
use crate::distance::metric_distance;
use crate::topk::Scored;
use crate::validate::{check_row, rows};
use crate::{Error, Result};

impl HnswIndex {
    /// Inserts one vector and returns its id. Safe to call from many threads at once, and while
    /// others search.
    pub fn insert(&self, vector: &[f32]) -> Result<u32> {
        let scale = check_row(self.metric, self.dim, vector, 0, 0)?;
        let _writer = self.writers.read();
        let id = self.reserve(1)?.start;
        self.store(id, vector, scale)?;
        with_scratch(|scratch| self.link(id, scratch));
        Ok(id)
    }

    /// Inserts a flat batch of rows in parallel and returns their ids, consecutive and in row
    /// order. Every row is checked before any is inserted.
    pub fn insert_batch(&self, flat: &[f32]) -> Result<Range<u32>> {
        let rows: Vec<&[f32]> = rows(self.dim, flat)?.collect();
        let scales = rows
            .par_iter()
            .enumerate()
            .map(|(row, v)| check_row(self.metric, self.dim, v, row, row * self.dim))
            .collect::<Result<Vec<f32>>>()?;
        let _writer = self.writers.read();
        let ids = self.reserve(rows.len())?;
        let start = ids.start;
        rows.par_iter()
            .zip(scales.par_iter())
            .enumerate()
            .try_for_each(|(i, (v, &scale))| self.store(start + i as u32, v, scale))?;
        self.link_in_order(ids.clone());
        tracing::debug!(inserted = rows.len(), live = self.len(), "hnsw batch inserted");
        Ok(ids)
    }

    /// Links stored nodes from all threads, handing ids out in order from a shared counter: the
    /// threads advance together through the batch (as sequential inserts would, a few at a
    /// time) instead of each starting a front of its own in a distant part of it, whose links
    /// to the rest the heuristic could later prune away.
    fn link_in_order(&self, ids: Range<u32>) {
        let next = AtomicUsize::new(0);
        let count = ids.len();
        (0..rayon::current_num_threads()).into_par_iter().for_each(|_| {
            with_scratch(|scratch| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                self.link(ids.start + i as u32, scratch);
            })
        });
    }

    /// Hands out `n` consecutive ids.
    fn reserve(&self, n: usize) -> Result<Range<u32>> {
        let full = Error::CapacityExceeded { capacity: u64::from(u32::MAX) };
        let Ok(n) = u32::try_from(n) else {
            return Err(full);
        };
        let start = self
            .next_id
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |next| next.checked_add(n))
            .map_err(|_| full)?;
        Ok(start..start + n)
    }

    /// Writes node `id`'s vector and state; afterwards it is ready but not yet linked.
    fn store(&self, id: u32, vector: &[f32], scale: f32) -> Result<()> {
        let level = random_level(self.params.seed, id, self.params.level_mult());
        self.graph.init_node(id, level)?;
        self.vectors.write_scaled(id, vector, scale);
        self.graph.set_flags(id, state::READY);
        let stored = self.stored.fetch_add(1, Ordering::SeqCst) + 1;
        self.after_store(id, stored);
        Ok(())
    }

    /// Distance between two stored vectors.
    pub(super) fn pair_distance(&self, a: u32, b: u32) -> f32 {
        match (self.vectors.row(a), self.vectors.row(b)) {
            (Some(a), Some(b)) => metric_distance(self.metric, a, b),
            _ => f32::INFINITY,
        }
    }

    /// Links a ready node into every layer up to its level.
    fn link(&self, id: u32, scratch: &mut Scratch) {
        let level = level_of(self.graph.state(id));
        let Some(vector) = self.vectors.row(id) else {
            return;
        };
        let dist = Exact { vectors: &self.vectors, metric: self.metric, query: vector };

        let (entry, top) = match self.graph.entry() {
            Some(entry) => entry,
            None => {
                let _guard = self.graph.entry_lock();
                match self.graph.entry() {
                    Some(entry) => entry,
                    None => {
                        self.graph.set_entry(id, level);
                        return;
                    }
                }
            }
        };

        let mut nearest = Scored::new(entry, dist.one(entry));
        for layer in (level + 1..=top).rev() {
            nearest = greedy(&self.graph, nearest, layer, &dist, scratch);
        }
        let not_self = |n: u32| n != id;
        let ef = self.params.ef_construction.max(self.params.m);
        for layer in (0..=level.min(top)).rev() {
            let found = beam(&self.graph, scratch, nearest, layer, ef, &dist, &not_self);
            let chosen = select_diverse(&found, self.params.m, |a, b| self.pair_distance(a, b));
            self.set_own_links(id, layer, &chosen, &mut scratch.neighbors);
            for neighbor in &chosen {
                self.connect(neighbor.id, Scored::new(id, neighbor.dist), layer, &mut scratch.neighbors);
            }
            if let Some(&best) = found.first() {
                nearest = best;
            }
        }

        if level > top {
            let _guard = self.graph.entry_lock();
            if self.graph.entry().is_none_or(|(_, current)| level > current) {
                self.graph.set_entry(id, level);
            }
        }
    }

    /// Gives node `id` its chosen links on `layer`. Other inserts may have linked themselves to
    /// `id` already (it is reachable from the layers above once linked there); those links are
    /// kept too, and the heuristic picks among all of them when they exceed the capacity.
    fn set_own_links(&self, id: u32, layer: usize, chosen: &[Scored], list: &mut Vec<u32>) {
        let Some(_guard) = self.graph.lock(id) else {
            return;
        };
        self.graph.neighbors(id, layer, list);
        if list.is_empty() {
            list.extend(chosen.iter().map(|s| s.id));
            self.graph.set_neighbors(id, layer, list);
            return;
        }
        let mut candidates = chosen.to_vec();
        for &n in list.iter() {
            if chosen.iter().all(|c| c.id != n) {
                candidates.push(Scored::new(n, self.pair_distance(id, n)));
            }
        }
        candidates.sort_unstable();
        let capacity = self.graph.capacity(layer);
        let kept = if candidates.len() > capacity {
            select_diverse(&candidates, capacity, |a, b| self.pair_distance(a, b))
        } else {
            candidates
        };
        list.clear();
        list.extend(kept.iter().map(|s| s.id));
        self.graph.set_neighbors(id, layer, list);
    }

    /// Adds `new` (with its distance to `node`) to `node`'s list on `layer`, re-selecting the
    /// list with the heuristic when it is full.
    fn connect(&self, node: u32, new: Scored, layer: usize, list: &mut Vec<u32>) {
        let Some(_guard) = self.graph.lock(node) else {
            return;
        };
        self.graph.neighbors(node, layer, list);
        if list.contains(&new.id) {
            return;
        }
        let capacity = self.graph.capacity(layer);
        if list.len() < capacity {
            list.push(new.id);
            self.graph.set_neighbors(node, layer, list);
            return;
        }
        let mut candidates: Vec<Scored> = list.iter().map(|&n| Scored::new(n, self.pair_distance(node, n))).collect();
        candidates.push(new);
        candidates.sort_unstable();
        let kept = select_diverse(&candidates, capacity, |a, b| self.pair_distance(a, b));
        list.clear();
        list.extend(kept.iter().map(|s| s.id));
        self.graph.set_neighbors(node, layer, list);
    }
}

#[cfg(test)]
mod tests {
    use kin_core::Metric;

    use super::*;
    use crate::hnsw::HnswParams;

    #[test]
    fn ids_count_up_and_bad_rows_insert_nothing() -> Result<()> {
        let index = HnswIndex::new(2, Metric::L2, HnswParams::default())?;
        assert_eq!(index.insert(&[0.0, 0.0])?, 0);
        assert_eq!(index.insert_batch(&[1.0, 0.0, 2.0, 0.0])?, 1..3);
        assert!(matches!(index.insert_batch(&[1.0, 0.0, f32::NAN, 0.0]), Err(Error::NonFinite { index: 2 })));
        assert!(matches!(index.insert(&[1.0]), Err(Error::DimensionMismatch { expected: 2, got: 1 })));
        assert_eq!(index.len(), 3);
        assert_eq!(index.id_bound(), 3);
        Ok(())
    }

    #[test]
    fn cosine_rejects_zero_vectors_and_normalises() -> Result<()> {
        let index = HnswIndex::new(2, Metric::Cosine, HnswParams::default())?;
        assert!(matches!(index.insert_batch(&[1.0, 1.0, 0.0, 0.0]), Err(Error::ZeroVector { row: 1 })));
        let id = index.insert(&[0.0, 3.0])?;
        assert_eq!(index.vector(id), Some(vec![0.0, 1.0]));
        Ok(())
    }

    /// Regression: a parallel build of points on a line left some of them unreachable, because
    /// an insert overwrote the links other inserts had made to its node meanwhile.
    #[test]
    fn parallel_builds_of_points_on_a_line_stay_connected() -> Result<()> {
        let flat: Vec<f32> = (0..300).flat_map(|i| [i as f32, (i % 7) as f32 * 0.01]).collect();
        for round in 0..40 {
            let index = HnswIndex::build(2, Metric::L2, HnswParams::default(), &flat)?;
            let Some((entry, _)) = index.graph.entry() else {
                panic!("a built index has an entry point");
            };
            let mut seen = vec![false; 300];
            seen[entry as usize] = true;
            let (mut stack, mut list) = (vec![entry], Vec::new());
            while let Some(n) = stack.pop() {
                index.graph.neighbors(n, 0, &mut list);
                for &x in &list {
                    if !std::mem::replace(&mut seen[x as usize], true) {
                        stack.push(x);
                    }
                }
            }
            let unreachable: Vec<usize> = (0..300).filter(|&i| !seen[i]).collect();
            assert!(unreachable.is_empty(), "round {round}: unreachable {unreachable:?}");
        }
        Ok(())
    }

    #[test]
    fn every_node_is_linked_within_capacity() -> Result<()> {
        let params = HnswParams { m: 4, ef_construction: 32, ..HnswParams::default() };
        let flat: Vec<f32> = (0..2_000).flat_map(|i| [(i % 50) as f32, (i / 50) as f32 * 0.7]).collect();
        let index = HnswIndex::build(2, Metric::L2, params, &flat)?;
        let mut list = Vec::new();
        for id in 0..2_000 {
            index.graph.neighbors(id, 0, &mut list);
            assert!(!list.is_empty() && list.len() <= 8, "node {id} has {} links", list.len());
            assert!(list.iter().all(|&n| n < 2_000 && n != id));
        }
        Ok(())
    }
}
