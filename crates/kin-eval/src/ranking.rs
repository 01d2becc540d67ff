//! How BEIR's two evaluators see one query's hits: the dict BEIR builds, then trec_eval's
//! order (for nDCG and recall) or BEIR's own order (for MRR).

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::run::Hit;

/// The query's hits as the Python dict `results[query_id]` that BEIR evaluates: built from the
/// hits in order, so a repeated document keeps its first position and its last score; with
/// `ignore_identical_ids` (BEIR's default) a document whose id equals the query id is dropped.
pub(crate) fn as_beir_results(query_id: &str, hits: &[Hit], ignore_identical_ids: bool) -> Vec<Hit> {
    let mut results: Vec<Hit> = Vec::with_capacity(hits.len());
    let mut position: HashMap<&str, usize> = HashMap::with_capacity(hits.len());
    for hit in hits {
        if ignore_identical_ids && hit.doc_id == query_id {
            continue;
        }
        match position.get(hit.doc_id.as_str()) {
            Some(&index) => results[index].score = hit.score,
            None => {
                position.insert(&hit.doc_id, results.len());
                results.push(hit.clone());
            }
        }
    }
    results
}

/// trec_eval's ranking (`comp_sim_docno` in `form_res_rels.c`), which pytrec_eval applies to
/// every query: score descending, ties by document id in descending byte order. The order the
/// hits came in, and any rank the caller gave, play no part.
pub(crate) fn sort_trec_eval(hits: &mut [Hit]) {
    hits.sort_by(|a, b| by_score_descending(a.score, b.score).then_with(|| b.doc_id.cmp(&a.doc_id)));
}

/// BEIR's ranking for MRR (`custom_metrics.mrr`): Python's stable
/// `sorted(..., key=score, reverse=True)`, so ties keep the order the hits came in.
pub(crate) fn sort_beir(hits: &mut [Hit]) {
    hits.sort_by(|a, b| by_score_descending(a.score, b.score));
}

/// Higher scores first; equal scores (including `-0.0` and `0.0`) compare equal, as they do
/// in C and Python. NaN, which neither orders, is placed by [`f64::total_cmp`] (a positive NaN
/// first, a negative one last) so that the order stays total.
fn by_score_descending(a: f64, b: f64) -> Ordering {
    b.partial_cmp(&a).unwrap_or_else(|| b.total_cmp(&a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(list: &[(&str, f64)]) -> Vec<Hit> {
        list.iter().map(|&(doc_id, score)| Hit { doc_id: doc_id.to_string(), score }).collect()
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|hit| hit.doc_id.as_str()).collect()
    }

    #[test]
    fn trec_eval_breaks_ties_by_descending_doc_id_and_ignores_input_order() {
        let mut ranked = hits(&[("d1", 0.5), ("d10", 0.5), ("d2", 0.9), ("d9", 0.5), ("a", 0.1)]);
        sort_trec_eval(&mut ranked);
        // Byte order: "d9" > "d10" > "d1" (strcmp, not numeric).
        assert_eq!(ids(&ranked), ["d2", "d9", "d10", "d1", "a"]);
    }

    #[test]
    fn beir_keeps_input_order_among_ties() {
        let mut ranked = hits(&[("d1", 0.5), ("d10", 0.5), ("d2", 0.9), ("d9", 0.5), ("a", 0.1)]);
        sort_beir(&mut ranked);
        assert_eq!(ids(&ranked), ["d2", "d1", "d10", "d9", "a"]);
    }

    #[test]
    fn signed_zeros_tie_and_nan_keeps_the_order_total() {
        let mut ranked = hits(&[("a", -0.0), ("b", 0.0), ("c", f64::NAN), ("d", 1.0)]);
        sort_trec_eval(&mut ranked);
        assert_eq!(ids(&ranked), ["c", "d", "b", "a"]);
    }

    #[test]
    fn identical_ids_are_dropped_only_when_asked() {
        let list = hits(&[("q1", 0.9), ("d1", 0.8)]);
        assert_eq!(ids(&as_beir_results("q1", &list, true)), ["d1"]);
        assert_eq!(ids(&as_beir_results("q1", &list, false)), ["q1", "d1"]);
    }

    #[test]
    fn a_repeated_doc_keeps_its_first_place_and_last_score() {
        let list = hits(&[("d1", 0.9), ("d2", 0.8), ("d1", 0.1)]);
        let results = as_beir_results("q", &list, true);
        assert_eq!(results, hits(&[("d1", 0.1), ("d2", 0.8)]));
    }
}
