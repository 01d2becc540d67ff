//! Scoring a whole run against qrels, averaged the way BEIR's `EvaluateRetrieval` averages.

use std::collections::BTreeMap;
use std::fmt;

use crate::beir::Qrels;
use crate::metrics::{ndcg_cut, recall, reciprocal_rank};
use crate::ranking::{as_beir_results, sort_beir, sort_trec_eval};
use crate::run::Run;

/// What to compute; the default is BEIR's headline figures, nDCG@10, MRR@10 and recall@100,
/// with BEIR's default `ignore_identical_ids=True`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalOptions {
    /// Cutoff for nDCG and MRR. 0 gives 0 for both.
    pub k_ndcg_mrr: usize,
    /// Cutoff for recall. 0 gives 0.
    pub k_recall: usize,
    /// Drop a retrieved document whose id equals the query id before evaluating.
    pub ignore_identical_ids: bool,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self { k_ndcg_mrr: 10, k_recall: 100, ignore_identical_ids: true }
    }
}

/// One query's figures, for a query present both in the qrels and in the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryScores {
    pub ndcg: f64,
    pub mrr: f64,
    pub recall: f64,
}

/// Mean figures over a run, at full precision (BEIR rounds to 5 decimals only to report them;
/// see [`round5`] and the `Display` impl).
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    /// Mean nDCG@`k_ndcg_mrr` over the `queries` evaluated.
    pub ndcg: f64,
    /// Sum of MRR@`k_ndcg_mrr` over the evaluated queries, divided by `judged_queries`.
    pub mrr: f64,
    /// Mean recall@`k_recall` over the `queries` evaluated.
    pub recall: f64,
    /// Queries present both in the qrels and in the run: the nDCG and recall denominator.
    pub queries: usize,
    /// Queries in the qrels: BEIR's MRR denominator.
    pub judged_queries: usize,
    pub k_ndcg_mrr: usize,
    pub k_recall: usize,
    /// Each evaluated query's figures, by query id.
    pub per_query: BTreeMap<String, QueryScores>,
}

/// [`evaluate_with`] with the given cutoffs and BEIR's default `ignore_identical_ids`.
pub fn evaluate(qrels: &Qrels, run: &Run, k_ndcg_mrr: usize, k_recall: usize) -> Scores {
    let options = EvalOptions { k_ndcg_mrr, k_recall, ..EvalOptions::default() };
    evaluate_with(qrels, run, &options)
}

/// Scores `run` against `qrels` so that the figures equal those of BEIR's
/// `EvaluateRetrieval.evaluate` (nDCG and recall, through pytrec_eval, i.e. trec_eval) and
/// `EvaluateRetrieval.evaluate_custom(..., metric="mrr")` (BEIR's own code), called in that
/// order on the run as a `dict[query_id, dict[doc_id, score]]` built in hit order:
///
/// 1. **Identical ids.** With `ignore_identical_ids` (BEIR's default) a hit whose document id
///    equals the query id is dropped. BEIR pops these from the results in place inside
///    `evaluate`, so its MRR, computed afterwards, does not see them either; nor does it here.
///    The qrels are untouched: such a document still counts in the ideal DCG and in recall's
///    denominator. A document repeated in one query's hits keeps its first place and its last
///    score, as in the dict.
/// 2. **Order.** For nDCG and recall the hits are re-sorted as trec_eval does: score
///    descending, ties by document id in *descending* byte order; the caller's order and ranks
///    are ignored. For MRR they are sorted by score descending with a stable sort, so ties
///    keep the caller's order, as Python's `sorted` does in BEIR's `mrr`.
/// 3. **Measures** (per query, see the `metrics` module): trec_eval's `ndcg_cut` (linear
///    gains, `log2(rank + 1)` discounts, ideal DCG from the query's positive grades, grades
///    ≤ 0 gain nothing); trec_eval's `recall` (relevant means grade ≥ 1); BEIR's MRR (`1 /
///    rank` of the first hit with grade > 0 within the cutoff).
/// 4. **Which queries count.** pytrec_eval scores exactly the queries present in both the qrels
///    and the run, and BEIR divides nDCG and recall sums by their number (`queries`):
///    - a query of the run that is not in the qrels is ignored (BEIR's MRR would raise a
///      `KeyError` on it);
///    - a query of the qrels that is absent from the run is left out of nDCG and recall
///      altogether, but BEIR's MRR divides by the number of queries in the qrels
///      (`judged_queries`), so there it counts as 0;
///    - a query present in the run with no hits (an empty list, or only its own id) is
///      evaluated and scores 0 on all three;
///    - a query whose judgments hold no positive grade is evaluated and scores 0 on all three
///      (trec_eval leaves recall at 0 when there is nothing to find, and nDCG at 0 when the
///      ideal DCG is 0).
///
/// Where BEIR would divide by zero (no evaluated query, or empty qrels) the mean is 0. Sums run
/// in query-id order, BEIR's in dict order, so the means may differ in the last bits.
pub fn evaluate_with(qrels: &Qrels, run: &Run, options: &EvalOptions) -> Scores {
    let mut per_query = BTreeMap::new();
    for (query_id, hits) in run.iter() {
        let Some(judged) = qrels.get(query_id) else {
            continue;
        };
        let mut trec_order = as_beir_results(query_id, hits, options.ignore_identical_ids);
        let mut beir_order = trec_order.clone();
        sort_trec_eval(&mut trec_order);
        sort_beir(&mut beir_order);
        let scores = QueryScores {
            ndcg: ndcg_cut(judged, &trec_order, options.k_ndcg_mrr),
            mrr: reciprocal_rank(judged, &beir_order, options.k_ndcg_mrr),
            recall: recall(judged, &trec_order, options.k_recall),
        };
        per_query.insert(query_id.to_string(), scores);
    }
    let queries = per_query.len();
    let sum = |measure: fn(&QueryScores) -> f64| per_query.values().map(measure).sum::<f64>();
    Scores {
        ndcg: mean(sum(|q| q.ndcg), queries),
        mrr: mean(sum(|q| q.mrr), qrels.len()),
        recall: mean(sum(|q| q.recall), queries),
        queries,
        judged_queries: qrels.len(),
        k_ndcg_mrr: options.k_ndcg_mrr,
        k_recall: options.k_recall,
        per_query,
    }
}

fn mean(sum: f64, count: usize) -> f64 {
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// Python's `round(x, 5)`, which BEIR applies to every figure it returns: the nearest multiple
/// of 10⁻⁵ to the exact binary value, halves to even.
pub fn round5(x: f64) -> f64 {
    // Rust's fixed-precision formatting rounds the exact value, halves to even, like Python.
    format!("{x:.5}").parse().unwrap_or(x)
}

impl fmt::Display for Scores {
    /// BEIR's figures as it reports them, rounded to 5 decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "NDCG@{k}: {:.5}  MRR@{k}: {:.5}  Recall@{kr}: {:.5}  ({} queries, {} judged)",
            self.ndcg,
            self.mrr,
            self.recall,
            self.queries,
            self.judged_queries,
            k = self.k_ndcg_mrr,
            kr = self.k_recall,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qrels(list: &[(&str, &[(&str, i32)])]) -> Qrels {
        list.iter()
            .map(|&(query_id, judged)| {
                let judged = judged.iter().map(|&(doc, rel)| (doc.to_string(), rel));
                (query_id.to_string(), judged.collect())
            })
            .collect()
    }

    /// The hand-worked example. Grades are 0/1/2; `log2(3) = 1.584962500721156`.
    ///
    /// - q1 judges d1:2 d2:1 d3:0 d4:1; its hits, in the caller's order, are d3 0.9, d1 0.8,
    ///   d2 0.8, q1 0.7 (its own id), d9 0.6 (unjudged), d4 0.5.
    /// - q2 judges d5:1 d6:2 d7:0 d8:2; hits d5 0.5, d7 0.5, d6 0.1.
    /// - q3 judges x:1; it is in the run with no hits.
    /// - q4 judges y:2; it is not in the run.
    /// - q5 is in the run (d1 1.0) but not in the qrels.
    /// - q6 judges d1:0 only (nothing relevant); hit d1 0.3.
    fn example() -> (Qrels, Run) {
        let qrels = qrels(&[
            ("q1", &[("d1", 2), ("d2", 1), ("d3", 0), ("d4", 1)]),
            ("q2", &[("d5", 1), ("d6", 2), ("d7", 0), ("d8", 2)]),
            ("q3", &[("x", 1)]),
            ("q4", &[("y", 2)]),
            ("q6", &[("d1", 0)]),
        ]);
        let mut run = Run::new();
        for (doc, score) in [("d3", 0.9), ("d1", 0.8), ("d2", 0.8), ("q1", 0.7), ("d9", 0.6)] {
            run.push("q1", doc, score);
        }
        run.push("q1", "d4", 0.5);
        for (doc, score) in [("d5", 0.5), ("d7", 0.5), ("d6", 0.1)] {
            run.push("q2", doc, score);
        }
        run.insert("q3", Vec::new());
        run.push("q5", "d1", 1.0);
        run.push("q6", "d1", 0.3);
        (qrels, run)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn hand_computed_example_at_3_and_5() {
        let (qrels, run) = example();
        let scores = evaluate(&qrels, &run, 3, 5);
        let log3 = 3f64.log2();
        let q = &scores.per_query;

        // q1, trec_eval order (q1 dropped; the d1/d2 tie goes to d2, the larger id):
        //   d3(0) d2(1) d1(2) d9(-) d4(1).
        //   DCG@3  = 0/log2(2) + 1/log2(3) + 2/log2(4)        = 0.6309297535714574 + 1
        //   IDCG@3 = 2/log2(2) + 1/log2(3) + 1/log2(4)        = 2 + 0.6309297535714574 + 0.5
        //   nDCG@3 = 1.6309297535714575 / 3.130929753571458 = 0.5209090851403014
        let q1_ndcg = (1.0 / log3 + 1.0) / (2.0 + 1.0 / log3 + 0.5);
        assert!(close(q["q1"].ndcg, q1_ndcg), "{}", q["q1"].ndcg);
        assert!(close(q1_ndcg, 0.5209090851403014));
        //   Recall@5: d2, d1, d4 of the 3 relevant are in the top 5 (with q1 kept, d4 is 6th).
        assert!(close(q["q1"].recall, 1.0));
        //   MRR@3, BEIR's stable order d3 d1 d2: first relevant is d1 at rank 2 -> 1/2.
        assert!(close(q["q1"].mrr, 0.5));

        // q2, trec_eval order: the d5/d7 tie goes to d7, so d7(0) d5(1) d6(2).
        //   DCG@3  = 0 + 1/log2(3) + 2/log2(4)   = 1.6309297535714575
        //   IDCG@3 = 2/log2(2) + 2/log2(3) + 1/log2(4) = 3.761859507142915 (d6, d8, then d5)
        //   nDCG@3 = 0.43354350434265104
        let q2_ndcg = (1.0 / log3 + 1.0) / (2.0 + 2.0 / log3 + 0.5);
        assert!(close(q["q2"].ndcg, q2_ndcg));
        assert!(close(q2_ndcg, 0.43354350434265104));
        //   Recall@5 = |{d5, d6}| / |{d5, d6, d8}| = 2/3.
        assert!(close(q["q2"].recall, 2.0 / 3.0));
        //   MRR@3 in BEIR's order d5 d7 d6 (the tie keeps the caller's order): d5 at rank 1.
        //   (trec_eval's order would have given 1/2.)
        assert!(close(q["q2"].mrr, 1.0));

        // q3 (no hits) and q6 (nothing relevant) are evaluated and score 0; q4 (not in the
        // run) and q5 (not in the qrels) are not evaluated.
        assert_eq!(q.keys().collect::<Vec<_>>(), ["q1", "q2", "q3", "q6"]);
        assert_eq!(q["q3"], QueryScores { ndcg: 0.0, mrr: 0.0, recall: 0.0 });
        assert_eq!(q["q6"], QueryScores { ndcg: 0.0, mrr: 0.0, recall: 0.0 });

        // Means: nDCG and recall over the 4 evaluated queries, MRR over the 5 judged ones.
        //   nDCG   = (0.5209090851403014 + 0.43354350434265104 + 0 + 0) / 4 = 0.23861314737073813
        //   Recall = (1 + 2/3 + 0 + 0) / 4 = 0.41666666666666663
        //   MRR    = (1/2 + 1 + 0 + 0 [+ 0 for q4]) / 5 = 0.3
        assert_eq!(scores.queries, 4);
        assert_eq!(scores.judged_queries, 5);
        assert!(close(scores.ndcg, 0.23861314737073813), "{}", scores.ndcg);
        assert!(close(scores.recall, 0.41666666666666663), "{}", scores.recall);
        assert!(close(scores.mrr, 0.3), "{}", scores.mrr);
        assert_eq!(scores.to_string(), "NDCG@3: 0.23861  MRR@3: 0.30000  Recall@5: 0.41667  (4 queries, 5 judged)");
    }

    #[test]
    fn hand_computed_example_at_10_and_100() {
        let (qrels, run) = example();
        let scores = evaluate(&qrels, &run, 10, 100);
        let log3 = 3f64.log2();
        // q1 at 10: d4 at rank 5 now counts: DCG = 1/log2(3) + 2/log2(4) + 1/log2(6);
        // IDCG is unchanged (q1 has only three positive grades) = 2 + 1/log2(3) + 1/log2(4).
        let q1 = (1.0 / log3 + 1.0 + 1.0 / 6f64.log2()) / (2.0 + 1.0 / log3 + 0.5);
        assert!(close(q1, 0.6444675286963276));
        assert!(close(scores.per_query["q1"].ndcg, q1));
        // q2 at 10 = q2 at 3 (only three hits, IDCG has three positive grades).
        let q2 = (1.0 / log3 + 1.0) / (2.0 + 2.0 / log3 + 0.5);
        assert!(close(scores.ndcg, (q1 + q2) / 4.0));
        assert!(close(scores.recall, (1.0 + 2.0 / 3.0) / 4.0));
        assert!(close(scores.mrr, 1.5 / 5.0));
    }

    #[test]
    fn identical_ids_count_when_not_ignored() {
        let (qrels, run) = example();
        let options = EvalOptions { k_ndcg_mrr: 10, k_recall: 5, ignore_identical_ids: false };
        let q1 = evaluate_with(&qrels, &run, &options).per_query["q1"];
        // q1 stays at rank 4 (unjudged), pushing d4 to rank 6: out of the top 5, and its gain
        // is discounted by log2(7) instead of log2(6).
        let log3 = 3f64.log2();
        assert!(close(q1.recall, 2.0 / 3.0));
        let ndcg = (1.0 / log3 + 1.0 + 1.0 / 7f64.log2()) / (2.0 + 1.0 / log3 + 0.5);
        assert!(close(q1.ndcg, ndcg));
    }

    #[test]
    fn a_query_whose_only_hit_is_itself_scores_zero_but_counts() {
        let qrels = qrels(&[("q1", &[("q1", 1), ("d1", 1)])]);
        let mut run = Run::new();
        run.push("q1", "q1", 1.0);
        let scores = evaluate(&qrels, &run, 10, 100);
        assert_eq!(scores.queries, 1);
        assert_eq!(scores.per_query["q1"], QueryScores { ndcg: 0.0, mrr: 0.0, recall: 0.0 });
    }

    #[test]
    fn nothing_to_evaluate_gives_zeros_not_nan() {
        let scores = evaluate(&Qrels::new(), &Run::new(), 10, 100);
        assert_eq!((scores.ndcg, scores.mrr, scores.recall), (0.0, 0.0, 0.0));
        assert_eq!(scores.queries, 0);
    }

    #[test]
    fn round5_matches_pythons_round() {
        // Values checked with CPython: round(x, 5).
        assert_eq!(round5(0.123455), 0.12345); // binary value lies just below the half
        assert_eq!(round5(0.0000150), 0.00002);
        assert_eq!(round5(0.000005), 0.00001);
        assert_eq!(round5(0.23861314737073813), 0.23861);
        assert_eq!(round5(2.0 / 3.0), 0.66667);
    }
}
