//! The two ways of walking one layer: greedy descent and a beam search.

use std::cmp::Reverse;

use super::distances::Distances;
use super::graph::Graph;
use super::scratch::Scratch;
use crate::topk::Scored;

/// Moves from `start` to a nearer neighbour on `layer` until there is none.
pub(crate) fn greedy(graph: &Graph, start: Scored, layer: usize, dist: &impl Distances, buf: &mut Vec<u32>) -> Scored {
    let mut best = start;
    loop {
        let from = best.id;
        graph.neighbors(from, layer, buf);
        for &n in buf.iter() {
            let d = dist.one(n);
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
        neighbors.iter().for_each(|&n| dist.prefetch(n));
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

/// Replaces `out` with the distances to `ids`, four at a time.
fn measure(dist: &impl Distances, ids: &[u32], out: &mut Vec<f32>) {
    out.clear();
    let mut fours = ids.chunks_exact(4);
    for four in &mut fours {
        out.extend(dist.four([four[0], four[1], four[2], four[3]]));
    }
    out.extend(fours.remainder().iter().map(|&id| dist.one(id)));
}
