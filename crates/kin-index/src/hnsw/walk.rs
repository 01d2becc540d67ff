//! The two ways of walking one layer: greedy descent and a beam search.

use std::cmp::Reverse;

use super::distances::Distances;
use super::graph::Graph;
use super::scratch::Scratch;
use crate::topk::Scored;

/// Moves from `start` to a nearer neighbour on `layer` until there is none.
///
/// A node's neighbours are measured together, four at a time, after their vectors were asked
/// for, as in [`beam`]: the upper layers' lists are short, and one at a time their loads would
/// wait on each other.
pub(crate) fn greedy(
    graph: &Graph,
    start: Scored,
    layer: usize,
    dist: &impl Distances,
    scratch: &mut Scratch,
) -> Scored {
    let Scratch { neighbors, distances, .. } = scratch;
    let mut best = start;
    loop {
        let from = best.id;
        graph.neighbors(from, layer, neighbors);
        measure(dist, neighbors, distances);
        for (&n, &d) in neighbors.iter().zip(distances.iter()) {
            if d < best.dist {
                best = Scored::new(n, d);
            }
        }
        if best.id == from {
            return best;
        }
    }
}

/// Beam search of width `ef` on `layer` from `start`; returns up to `ef` accepted nodes, nearest
/// first.
///
/// Every reachable node is walked through, but only nodes that `accept` are collected. Until
/// `ef` nodes are collected every neighbour seen is queued, so under a selective filter the walk
/// keeps widening until it has `ef` matches or has run out of graph around the query.
///
/// The unvisited neighbours of a node are measured together, four at a time, after their
/// vectors were asked for, so that their loads overlap.
pub(crate) fn beam(
    graph: &Graph,
    scratch: &mut Scratch,
    start: Scored,
    layer: usize,
    ef: usize,
    dist: &impl Distances,
    accept: &impl Fn(u32) -> bool,
) -> Vec<Scored> {
    let Scratch { visited, candidates, results, neighbors, distances } = scratch;
    visited.clear();
    candidates.clear();
    results.clear();
    let ef = ef.max(1);

    visited.insert(start.id);
    candidates.push(Reverse(start));
    if accept(start.id) {
        results.push(start);
    }
    while let Some(Reverse(current)) = candidates.pop() {
        if results.len() >= ef && results.peek().is_some_and(|worst| current.dist > worst.dist) {
            break;
        }
        if layer == 0 {
            if let Some(Reverse(next)) = candidates.peek() {
                graph.prefetch_list(next.id);
            }
        }
        graph.neighbors(current.id, layer, neighbors);
        // Keep the unvisited ones and start loading their vectors before the first distance.
        neighbors.retain(|&n| visited.insert(n));
        measure(dist, neighbors, distances);
        for (&n, &d) in neighbors.iter().zip(distances.iter()) {
            let full = results.len() >= ef;
            if full && results.peek().is_some_and(|worst| d >= worst.dist) {
                continue;
            }
            let found = Scored::new(n, d);
            candidates.push(Reverse(found));
            if accept(n) {
                results.push(found);
                if results.len() > ef {
                    results.pop();
                }
            }
        }
    }
    let mut found: Vec<Scored> = results.drain().collect();
    found.sort_unstable();
    found
}

/// Replaces `out` with the distances to `ids`, four at a time, after asking for every id's
/// vector, so that their loads overlap. A remainder of two or three is measured as four with the
/// last id repeated: the repeat is already in cache, and one four-row pass costs less than two
/// or three single ones.
pub(crate) fn measure(dist: &impl Distances, ids: &[u32], out: &mut Vec<f32>) {
    ids.iter().for_each(|&id| dist.prefetch(id));
    out.clear();
    let mut fours = ids.chunks_exact(4);
    for four in &mut fours {
        out.extend(dist.four([four[0], four[1], four[2], four[3]]));
    }
    match *fours.remainder() {
        [] => {}
        [a] => out.push(dist.one(a)),
        [a, b] => out.extend(&dist.four([a, b, b, b])[..2]),
        [a, b, c, ..] => out.extend(&dist.four([a, b, c, c])[..3]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance of node `id` is `id / 2`; four at a time counts its calls.
    struct Halves(std::cell::Cell<usize>);

    impl Distances for Halves {
        fn one(&self, id: u32) -> f32 {
            id as f32 / 2.0
        }

        fn four(&self, ids: [u32; 4]) -> [f32; 4] {
            self.0.set(self.0.get() + 1);
            ids.map(|id| self.one(id))
        }
    }

    #[test]
    fn measure_gives_one_distance_per_id_in_order() {
        for len in 0..10u32 {
            let ids: Vec<u32> = (0..len).map(|i| 7 * i + 3).collect();
            let dist = Halves(std::cell::Cell::new(0));
            let mut out = vec![99.0];
            measure(&dist, &ids, &mut out);
            let expected: Vec<f32> = ids.iter().map(|&id| dist.one(id)).collect();
            assert_eq!(out, expected, "{len} ids");
            let fours = len / 4 + u32::from(len % 4 >= 2);
            assert_eq!(dist.0.get(), fours as usize, "{len} ids: a remainder of two or three is one pass");
        }
    }
}
