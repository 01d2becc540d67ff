//! Choosing a node's neighbours: the "keep diverse neighbours" heuristic of the HNSW paper
//! (algorithm 4), in the form hnswlib uses.

use crate::topk::Scored;

/// Picks up to `m` of `candidates` (sorted nearest first, `dist` measured from the base node).
///
/// A candidate is kept only if it is nearer to the base than to every neighbour kept before it,
/// so the kept links point in different directions instead of crowding into the nearest
/// cluster. Fewer than `m` candidates are all kept.
pub(crate) fn select_diverse(candidates: &[Scored], m: usize, between: impl Fn(u32, u32) -> f32) -> Vec<Scored> {
    if candidates.len() < m {
        return candidates.to_vec();
    }
    let mut kept: Vec<Scored> = Vec::with_capacity(m);
    for &candidate in candidates {
        if kept.len() >= m {
            break;
        }
        if kept.iter().all(|k| between(candidate.id, k.id) >= candidate.dist) {
            kept.push(candidate);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a line: the base at 0, candidates at their id's position.
    fn on_a_line(ids: &[u32]) -> Vec<Scored> {
        ids.iter().map(|&id| Scored::new(id, id as f32)).collect()
    }

    #[test]
    fn keeps_one_neighbour_per_direction() {
        // Candidates 1, 2, 3 lie in the same direction; 1 shadows 2 and 3.
        let kept = select_diverse(&on_a_line(&[1, 2, 3]), 2, |a, b| (a as f32 - b as f32).abs());
        assert_eq!(kept.iter().map(|s| s.id).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn keeps_far_apart_candidates() {
        // Two points on opposite sides of the base, distances 1 and 2, 3 apart.
        let candidates = vec![Scored::new(10, 1.0), Scored::new(20, 2.0)];
        let kept = select_diverse(&candidates, 2, |_, _| 3.0);
        assert_eq!(kept.len(), 2);
        let capped = select_diverse(&candidates, 1, |_, _| 3.0);
        assert_eq!(capped.iter().map(|s| s.id).collect::<Vec<_>>(), vec![10]);
    }

    #[test]
    fn fewer_than_m_are_all_kept() {
        let kept = select_diverse(&on_a_line(&[1, 2]), 3, |_, _| 0.0);
        assert_eq!(kept.len(), 2);
    }
}
