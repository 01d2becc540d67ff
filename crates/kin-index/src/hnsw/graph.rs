//! The layered graph: per-node state, neighbour lists per layer, node locks and the entry point.
//!
//! Neighbour lists are rows of atomics, `[count, id, id, …]`: layer 0 rows hold `2·m` ids and are
//! indexed by node id; upper-layer rows hold `m` ids and are handed out, `level` at a time, to the
//! nodes that reach above layer 0. Writers change a node's lists only while holding that node's
//! lock, storing the ids before the count with release stores; readers take no lock and load the
//! count, then the ids, with acquire loads. A reader racing a writer may see the old list, the new
//! one, or a mix of both, and every id it sees is a node that was complete before it was linked.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};

use parking_lot::{Mutex, MutexGuard};

use crate::storage::Segments;
use crate::{Error, Result};

/// Highest layer a node can reach; four bits of its state byte hold the level.
pub(crate) const MAX_LEVEL: usize = 15;

/// Bits of a node's state byte.
pub(crate) mod state {
    pub(crate) const LEVEL: u8 = 0x0F;
    /// The vector is written and the node may be read; set before it is linked.
    pub(crate) const READY: u8 = 0x10;
    /// A thread has taken on writing the node's int8 code.
    pub(crate) const CLAIMED: u8 = 0x20;
    /// The int8 code is written.
    pub(crate) const CODED: u8 = 0x40;
    /// Tombstone: the node is still walked through but never returned.
    pub(crate) const DELETED: u8 = 0x80;
}

const NO_ENTRY: u64 = u64::MAX;

pub(crate) struct Graph {
    m: usize,
    m0: usize,
    states: Segments<AtomicU8>,
    layer0: Segments<AtomicU32>,
    upper_start: Segments<AtomicU32>,
    upper: Segments<AtomicU32>,
    upper_rows: AtomicU32,
    locks: Segments<Mutex<()>>,
    /// `level << 32 | id` of the entry point, or `NO_ENTRY`.
    entry: AtomicU64,
    entry_lock: Mutex<()>,
}

/// The level of node `id`: `⌊−ln(u)·mult⌋` for `u` uniform in (0, 1], drawn from a hash of the
/// seed and the id, so it does not depend on which thread inserts the node or when.
pub(crate) fn random_level(seed: u64, id: u32, mult: f64) -> usize {
    let bits = splitmix64(seed ^ u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let u = ((bits >> 11) + 1) as f64 / (1u64 << 53) as f64;
    let level = (-u.ln() * mult).floor();
    if level >= MAX_LEVEL as f64 {
        MAX_LEVEL
    } else {
        level as usize
    }
}

pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn level_of(state: u8) -> usize {
    usize::from(state & state::LEVEL)
}

impl Graph {
    pub(crate) fn new(m: usize, m0: usize) -> Self {
        Graph {
            m,
            m0,
            states: Segments::new(1),
            layer0: Segments::new(1 + m0),
            upper_start: Segments::new(1),
            upper: Segments::new(1 + m),
            upper_rows: AtomicU32::new(0),
            locks: Segments::new(1),
            entry: AtomicU64::new(NO_ENTRY),
            entry_lock: Mutex::new(()),
        }
    }

    /// Bytes held by states, lists and locks.
    pub(crate) fn allocated_bytes(&self) -> usize {
        self.states.allocated_bytes()
            + self.layer0.allocated_bytes()
            + self.upper_start.allocated_bytes()
            + self.upper.allocated_bytes()
            + self.locks.allocated_bytes()
    }

    /// Most links a node keeps on `layer`.
    pub(crate) fn capacity(&self, layer: usize) -> usize {
        if layer == 0 {
            self.m0
        } else {
            self.m
        }
    }

    /// Allocates node `id` (reserved by the caller, not yet reachable) up to `level`, with empty lists.
    pub(crate) fn init_node(&self, id: u32, level: usize) -> Result<()> {
        let level = level.min(MAX_LEVEL);
        self.layer0.get_or_alloc(id);
        self.locks.get_or_alloc(id);
        let start_slot = &self.upper_start.get_or_alloc(id)[0];
        if level > 0 {
            let count = level as u32;
            let start = self
                .upper_rows
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |rows| rows.checked_add(count))
                .map_err(|_| Error::CapacityExceeded { capacity: u64::from(u32::MAX) })?;
            for row in start..start + count {
                self.upper.get_or_alloc(row);
            }
            start_slot.store(start, Ordering::Relaxed);
        }
        self.states.get_or_alloc(id)[0].store(level as u8, Ordering::Release);
        Ok(())
    }

    /// State byte of node `id` (0 for an id never allocated).
    #[inline]
    pub(crate) fn state(&self, id: u32) -> u8 {
        self.states.get(id).map_or(0, |s| s[0].load(Ordering::Acquire))
    }

    /// Sets `flags` on node `id` and returns its previous state. Sequentially consistent, so that
    /// the int8 coding handshake (see `codes.rs`) cannot miss a node.
    pub(crate) fn set_flags(&self, id: u32, flags: u8) -> u8 {
        self.states.get(id).map_or(0, |s| s[0].fetch_or(flags, Ordering::SeqCst))
    }

    #[inline]
    fn list(&self, id: u32, layer: usize) -> Option<&[AtomicU32]> {
        if layer == 0 {
            return self.layer0.get(id);
        }
        if layer > level_of(self.state(id)) {
            return None;
        }
        let start = self.upper_start.get(id)?[0].load(Ordering::Relaxed);
        self.upper.get(start.checked_add(layer as u32 - 1)?)
    }

    /// Replaces `out` with the neighbours of `id` on `layer`.
    #[inline]
    pub(crate) fn neighbors(&self, id: u32, layer: usize, out: &mut Vec<u32>) {
        out.clear();
        let Some((count, ids)) = self.list(id, layer).and_then(<[AtomicU32]>::split_first) else {
            return;
        };
        let n = (count.load(Ordering::Acquire) as usize).min(ids.len());
        out.extend(ids[..n].iter().map(|slot| slot.load(Ordering::Acquire)));
    }

    /// Asks the CPU to start loading node `id`'s list on layer 0 (a walk expands it soon).
    #[inline]
    pub(crate) fn prefetch_list(&self, id: u32) {
        self.layer0.prefetch(id, usize::MAX);
    }

    /// Replaces the neighbours of `id` on `layer` (truncated to the layer's capacity). The caller
    /// holds the node's lock.
    pub(crate) fn set_neighbors(&self, id: u32, layer: usize, neighbors: &[u32]) {
        let Some((count, slots)) = self.list(id, layer).and_then(<[AtomicU32]>::split_first) else {
            return;
        };
        let n = neighbors.len().min(slots.len());
        for (slot, &neighbor) in slots.iter().zip(&neighbors[..n]) {
            slot.store(neighbor, Ordering::Release);
        }
        count.store(n as u32, Ordering::Release);
    }

    /// Locks node `id` against other writers of its lists; readers are not blocked.
    pub(crate) fn lock(&self, id: u32) -> Option<MutexGuard<'_, ()>> {
        self.locks.get(id).map(|l| l[0].lock())
    }

    /// The entry point and its level, once the graph has a node.
    #[inline]
    pub(crate) fn entry(&self) -> Option<(u32, usize)> {
        let packed = self.entry.load(Ordering::Acquire);
        (packed != NO_ENTRY).then_some((packed as u32, (packed >> 32) as usize))
    }

    /// Serialises changes to the entry point.
    pub(crate) fn entry_lock(&self) -> MutexGuard<'_, ()> {
        self.entry_lock.lock()
    }

    /// Moves the entry point; the caller holds `entry_lock`.
    pub(crate) fn set_entry(&self, id: u32, level: usize) {
        self.entry.store((level as u64) << 32 | u64::from(id), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_follow_the_geometric_law() {
        let mult = 1.0 / 16f64.ln();
        let n = 200_000u32;
        let levels: Vec<usize> = (0..n).map(|id| random_level(7, id, mult)).collect();
        let above0 = levels.iter().filter(|&&l| l > 0).count() as f64 / f64::from(n);
        assert!((above0 - 1.0 / 16.0).abs() < 0.005, "P(level > 0) = {above0}");
        assert!(levels.iter().all(|&l| l <= MAX_LEVEL));
        assert_eq!(random_level(7, 42, mult), random_level(7, 42, mult));
        assert_eq!(random_level(1, 0, 1e9), MAX_LEVEL);
    }

    #[test]
    fn lists_per_layer() -> Result<()> {
        let graph = Graph::new(2, 4);
        graph.init_node(0, 0)?;
        graph.init_node(1, 2)?;
        graph.init_node(2, 1)?;
        assert_eq!(level_of(graph.state(1)), 2);
        let mut out = Vec::new();
        graph.set_neighbors(1, 0, &[0, 2, 5, 6, 7]);
        graph.neighbors(1, 0, &mut out);
        assert_eq!(out, vec![0, 2, 5, 6], "layer 0 keeps 2·m");
        graph.set_neighbors(1, 2, &[2, 0, 9]);
        graph.neighbors(1, 2, &mut out);
        assert_eq!(out, vec![2, 0]);
        graph.set_neighbors(2, 1, &[1]);
        graph.neighbors(2, 1, &mut out);
        assert_eq!(out, vec![1]);
        graph.neighbors(1, 1, &mut out);
        assert!(out.is_empty(), "distinct rows per node and layer");
        graph.neighbors(0, 1, &mut out);
        assert!(out.is_empty(), "no lists above a node's level");
        graph.set_neighbors(0, 3, &[1]);
        graph.neighbors(99, 0, &mut out);
        assert!(out.is_empty());
        Ok(())
    }

    #[test]
    fn flags_and_entry() -> Result<()> {
        let graph = Graph::new(4, 8);
        assert_eq!(graph.entry(), None);
        graph.init_node(3, 1)?;
        assert_eq!(graph.set_flags(3, state::READY) & state::READY, 0);
        assert_ne!(graph.state(3) & state::READY, 0);
        assert_eq!(level_of(graph.state(3)), 1);
        {
            let _guard = graph.entry_lock();
            graph.set_entry(3, 1);
        }
        assert_eq!(graph.entry(), Some((3, 1)));
        assert!(graph.lock(3).is_some());
        assert!(graph.lock(70_000).is_none());
        Ok(())
    }
}
