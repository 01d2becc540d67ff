//! The two ways of walking one layer: greedy descent and a beam search.

use std::cmp::Reverse;

use super::graph::Graph;
use super::scratch::Scratch;
use crate::topk::Scored;

/// Moves from `start` to a nearer neighbour on `layer` until there is none.
pub(crate) fn greedy(
    graph: &Graph,
    start: Scored,
    layer: usize,
    dist: &impl Fn(u32) -> f32,
    buf: &mut Vec<u32>,
) -> Scored {
    let mut best = start;
    loop {
        let from = best.id;
        graph.neighbors(from, layer, buf);
        for &n in buf.iter() {
            let d = dist(n);
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
#[allow(clippy::too_many_arguments)] // the walk's inputs; bundling them would only rename them
pub(crate) fn beam(
    graph: &Graph,
    scratch: &mut Scratch,
    start: Scored,
    layer: usize,
    ef: usize,
    dist: &impl Fn(u32) -> f32,
    accept: &impl Fn(u32) -> bool,
    prefetch: &impl Fn(u32),
) -> Vec<Scored> {
    let Scratch { visited, candidates, results, neighbors } = scratch;
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
        graph.neighbors(current.id, layer, neighbors);
        // Keep the unvisited ones and start loading their vectors before the first distance.
        neighbors.retain(|&n| visited.insert(n));
        neighbors.iter().for_each(|&n| prefetch(n));
        for &n in neighbors.iter() {
            let d = dist(n);
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
