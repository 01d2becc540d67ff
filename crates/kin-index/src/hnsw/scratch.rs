//! Per-thread working memory of a graph walk: the visited set, the two heaps and a neighbour buffer.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::topk::Scored;

/// Ids seen during one walk, cleared in O(1) by moving to a new epoch.
#[derive(Default)]
pub(crate) struct Visited {
    marks: Vec<u16>,
    epoch: u16,
}

impl Visited {
    /// Forgets every id. The set grows to the largest id it is given and keeps that size.
    pub(crate) fn clear(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.marks.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `id`; true when it was not marked yet.
    #[inline]
    pub(crate) fn insert(&mut self, id: u32) -> bool {
        let i = id as usize;
        if i >= self.marks.len() {
            self.marks.resize((i + 1).next_power_of_two(), 0);
        }
        let fresh = self.marks[i] != self.epoch;
        self.marks[i] = self.epoch;
        fresh
    }
}

#[derive(Default)]
pub(crate) struct Scratch {
    pub(crate) visited: Visited,
    /// Nodes to expand, nearest first.
    pub(crate) candidates: BinaryHeap<Reverse<Scored>>,
    /// Best nodes found, farthest on top.
    pub(crate) results: BinaryHeap<Scored>,
    pub(crate) neighbors: Vec<u32>,
    /// Distances to `neighbors`, in their order.
    pub(crate) distances: Vec<f32>,
}

thread_local! {
    static SCRATCH: Cell<Option<Box<Scratch>>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's scratch space. A nested call (a filter that searches another
/// index, say) gets a fresh one instead of the one in use.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut scratch = SCRATCH.with(Cell::take).unwrap_or_default();
    let out = f(&mut scratch);
    SCRATCH.with(|cell| cell.set(Some(scratch)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visited_resets_by_epoch_and_grows() {
        let mut v = Visited::default();
        v.clear();
        assert!(v.insert(2));
        assert!(!v.insert(2));
        assert!(v.insert(100), "ids past the initial size grow the set");
        v.clear();
        assert!(v.insert(2) && v.insert(100));
        for _ in 0..70_000 {
            v.clear();
        }
        assert!(v.insert(2), "epoch wrap-around starts clean");
    }

    #[test]
    fn nested_scratch_is_independent() {
        with_scratch(|outer| {
            outer.neighbors.push(1);
            with_scratch(|inner| assert!(inner.neighbors.is_empty()));
            assert_eq!(outer.neighbors, vec![1]);
        });
    }
}
