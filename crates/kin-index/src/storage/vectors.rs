//! Contiguous f32 rows of one dimension.

use std::sync::atomic::{AtomicU32, Ordering};

use super::Segments;

/// The vectors of an index, `dim` f32 values per id, in segments that never move.
///
/// Each row is written once, by the thread that reserved its id, before the id is published;
/// the caller publishes it (with a release store) and readers reach it only through an acquire
/// load of that publication, so a row is never read while it is being written.
pub(crate) struct VectorStore {
    rows: Segments<AtomicU32>,
}

impl VectorStore {
    pub(crate) fn new(dim: usize) -> Self {
        VectorStore { rows: Segments::new(dim) }
    }

    /// Writes row `id` as `scale * vector`; `id` must be reserved by the caller and unpublished.
    pub(crate) fn write_scaled(&self, id: u32, vector: &[f32], scale: f32) {
        let row = self.rows.get_or_alloc(id);
        for (slot, &x) in row.iter().zip(vector) {
            slot.store((x * scale).to_bits(), Ordering::Relaxed);
        }
    }

    /// Writes row `id` as `vector` into a store no other thread holds (an index being loaded):
    /// a copy, where [`VectorStore::write_scaled`] stores one value at a time.
    pub(crate) fn write_unshared(&mut self, id: u32, vector: &[f32]) {
        match self.rows.get_or_alloc_mut(id) {
            Some(row) => {
                for (slot, &x) in row.iter_mut().zip(vector) {
                    *slot.get_mut() = x.to_bits();
                }
            }
            None => self.write_scaled(id, vector, 1.0),
        }
    }

    /// Row `id` as the distance kernels read it.
    #[inline]
    pub(crate) fn row(&self, id: u32) -> Option<&[AtomicU32]> {
        self.rows.get(id)
    }

    /// Asks the CPU to start loading the first cache lines of row `id` (the walk computes its
    /// distance shortly after; the hardware prefetcher follows the rest of the row).
    #[inline]
    pub(crate) fn prefetch(&self, id: u32) {
        self.rows.prefetch(id, 256);
    }

    pub(crate) fn allocated_bytes(&self) -> usize {
        self.rows.allocated_bytes()
    }

    /// A copy of row `id`.
    pub(crate) fn to_vec(&self, id: u32) -> Option<Vec<f32>> {
        self.row(id).map(|row| row.iter().map(|x| f32::from_bits(x.load(Ordering::Relaxed))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip() {
        let store = VectorStore::new(3);
        store.write_scaled(2, &[1.0, -2.0, 0.5], 2.0);
        assert_eq!(store.to_vec(2), Some(vec![2.0, -4.0, 1.0]));
        assert_eq!(store.to_vec(0), Some(vec![0.0; 3]));
        assert_eq!(store.to_vec(70_000), None);
    }

    #[test]
    fn unshared_writes_land_in_head_and_tail_segments() {
        let mut store = VectorStore::new(3);
        for id in [0, 1_500, 70_000] {
            store.write_unshared(id, &[id as f32, -1.0, 0.25]);
        }
        for id in [0, 1_500, 70_000] {
            assert_eq!(store.to_vec(id), Some(vec![id as f32, -1.0, 0.25]));
        }
        assert_eq!(store.to_vec(1_499), Some(vec![0.0; 3]));
    }
}
