//! The per-query measures, each as its reference computes it. `judged` is the query's qrels
//! entry; `ranked` is already in the right order (see [`crate::ranking`]).

use std::collections::BTreeMap;

use crate::run::Hit;

/// trec_eval's `ndcg_cut` at `k` (`m_ndcg_cut.c`).
///
/// The gain of a document is its qrels grade as it stands (linear, not `2^rel - 1`); a document
/// that is unjudged or graded 0 or below gains nothing. The document at rank `r` (from 1) is
/// discounted by `log2(r + 1)`. The ideal DCG takes the query's positive grades sorted
/// descending, cut at `k` too. A query without a positive grade scores 0.
pub(crate) fn ndcg_cut(judged: &BTreeMap<String, i32>, ranked: &[Hit], k: usize) -> f64 {
    let grades = ranked.iter().map(|hit| grade(judged, hit));
    let dcg = discounted_gain(grades.take(k));
    let mut ideal: Vec<i32> = judged.values().copied().filter(|&rel| rel > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let ideal_dcg = discounted_gain(ideal.into_iter().take(k));
    if ideal_dcg > 0.0 {
        dcg / ideal_dcg
    } else {
        0.0
    }
}

/// Sum of `gain / log2(rank + 1)` over positive gains, in rank order, as trec_eval adds them.
fn discounted_gain(grades: impl Iterator<Item = i32>) -> f64 {
    let mut sum = 0.0;
    for (index, gain) in grades.enumerate() {
        if gain > 0 {
            sum += f64::from(gain) / ((index + 2) as f64).log2();
        }
    }
    sum
}

/// trec_eval's `recall` at `k` (`m_recall.c`, relevance level 1 as pytrec_eval's default):
/// relevant documents (grade ≥ 1) among the first `k`, over all relevant documents of the
/// query. A query without a relevant document scores 0.
pub(crate) fn recall(judged: &BTreeMap<String, i32>, ranked: &[Hit], k: usize) -> f64 {
    let relevant = judged.values().filter(|&&rel| rel >= 1).count();
    if relevant == 0 {
        return 0.0;
    }
    let found = ranked.iter().take(k).filter(|hit| grade(judged, hit) >= 1).count();
    found as f64 / relevant as f64
}

/// BEIR's `mrr` at `k` for one query (`beir/retrieval/custom_metrics.py`): `1 / rank` of the
/// first document among the first `k` whose grade is above 0, else 0.
pub(crate) fn reciprocal_rank(judged: &BTreeMap<String, i32>, ranked: &[Hit], k: usize) -> f64 {
    ranked.iter().take(k).position(|hit| grade(judged, hit) > 0).map_or(0.0, |index| 1.0 / (index + 1) as f64)
}

/// The document's grade, 0 when unjudged.
fn grade(judged: &BTreeMap<String, i32>, hit: &Hit) -> i32 {
    judged.get(&hit.doc_id).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(list: &[(&str, i32)]) -> BTreeMap<String, i32> {
        list.iter().map(|&(doc, rel)| (doc.to_string(), rel)).collect()
    }

    fn ranked(ids: &[&str]) -> Vec<Hit> {
        ids.iter().map(|&doc_id| Hit { doc_id: doc_id.to_string(), score: 0.0 }).collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn ndcg_uses_linear_gains_and_log2_discounts() {
        let judged = judged(&[("a", 2), ("b", 1), ("c", 0)]);
        // Ranked c, b, a, x:
        //   DCG  = 0/log2(2) + 1/log2(3) + 2/log2(4) + 0/log2(5) = 0.6309297535714574 + 1
        //   IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.6309297535714574
        //   nDCG = 1.6309297535714574 / 2.6309297535714574 = 0.6199...
        let value = ndcg_cut(&judged, &ranked(&["c", "b", "a", "x"]), 10);
        let dcg = 1.0 / 3f64.log2() + 2.0 / 4f64.log2();
        let ideal = 2.0 + 1.0 / 3f64.log2();
        assert!(close(value, dcg / ideal), "{value}");
        // 2^rel - 1 gains would give (1/log2(3) + 3/2) / (3 + 1/log2(3)) instead.
        assert!(!close(value, (1.0 / 3f64.log2() + 1.5) / (3.0 + 1.0 / 3f64.log2())));
    }

    #[test]
    fn ndcg_cuts_both_the_run_and_the_ideal_at_k() {
        let judged = judged(&[("a", 1), ("b", 1), ("c", 1)]);
        // k = 2, ranked x, a, b: DCG = 0 + 1/log2(3); IDCG = 1/log2(2) + 1/log2(3) (cut at 2).
        let value = ndcg_cut(&judged, &ranked(&["x", "a", "b"]), 2);
        let log3 = 3f64.log2();
        assert!(close(value, (1.0 / log3) / (1.0 + 1.0 / log3)), "{value}");
    }

    #[test]
    fn negative_grades_count_as_not_relevant() {
        let judged = judged(&[("a", -1), ("b", 1)]);
        // a gains nothing at rank 1, b gains 1/log2(3); the ideal is b alone: 1/log2(2).
        let list = ranked(&["a", "b"]);
        assert!(close(ndcg_cut(&judged, &list, 10), 1.0 / 3f64.log2()));
        assert!(close(recall(&judged, &list, 1), 0.0));
        assert!(close(recall(&judged, &list, 2), 1.0)); // a is not among the relevant to find
        assert!(close(reciprocal_rank(&judged, &list, 10), 0.5));
    }

    #[test]
    fn queries_without_relevant_documents_score_zero() {
        let judged = judged(&[("a", 0)]);
        let list = ranked(&["a"]);
        assert_eq!(ndcg_cut(&judged, &list, 10), 0.0);
        assert_eq!(recall(&judged, &list, 10), 0.0);
        assert_eq!(reciprocal_rank(&judged, &list, 10), 0.0);
    }

    #[test]
    fn recall_counts_relevant_documents_within_k() {
        let judged = judged(&[("a", 2), ("b", 1), ("c", 1), ("d", 0)]);
        let list = ranked(&["d", "a", "x", "b", "c"]);
        assert!(close(recall(&judged, &list, 3), 1.0 / 3.0));
        assert!(close(recall(&judged, &list, 4), 2.0 / 3.0));
        assert!(close(recall(&judged, &list, 100), 1.0));
    }

    #[test]
    fn reciprocal_rank_looks_only_at_the_first_k() {
        let judged = judged(&[("b", 1)]);
        let list = ranked(&["a", "x", "b"]);
        assert!(close(reciprocal_rank(&judged, &list, 3), 1.0 / 3.0));
        assert_eq!(reciprocal_rank(&judged, &list, 2), 0.0);
    }
}
