//! Scored ids and a bounded collector of the nearest ones.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// An id with its distance to the query; ordered by distance, then id.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scored {
    pub(crate) dist: f32,
    pub(crate) id: u32,
}

impl Scored {
    pub(crate) fn new(id: u32, dist: f32) -> Self {
        Scored { dist, id }
    }
}

impl PartialEq for Scored {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist.total_cmp(&other.dist).then(self.id.cmp(&other.id))
    }
}

/// Keeps the `k` nearest of the ids it is offered.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<Scored>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        TopK { k, heap: BinaryHeap::with_capacity(k.min(1 << 16) + 1) }
    }

    #[inline]
    pub(crate) fn offer(&mut self, id: u32, dist: f32) {
        if self.heap.len() < self.k {
            self.heap.push(Scored::new(id, dist));
        } else if let Some(mut worst) = self.heap.peek_mut() {
            let candidate = Scored::new(id, dist);
            if candidate < *worst {
                *worst = candidate;
            }
        }
    }

    /// The `k` nearest, nearest first.
    pub(crate) fn into_sorted(self) -> Vec<(u32, f32)> {
        self.heap.into_sorted_vec().into_iter().map(|s| (s.id, s.dist)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_nearest_in_order() {
        let mut top = TopK::new(3);
        for (id, d) in [(0, 5.0), (1, 1.0), (2, 4.0), (3, 0.5), (4, 9.0), (5, 1.0)] {
            top.offer(id, d);
        }
        assert_eq!(top.into_sorted(), vec![(3, 0.5), (1, 1.0), (5, 1.0)]);
        let mut none = TopK::new(0);
        none.offer(1, 1.0);
        assert!(none.into_sorted().is_empty());
    }
}
