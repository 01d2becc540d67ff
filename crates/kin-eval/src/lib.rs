//! kin's retrieval evaluation, in the ecosystem's formats and with the ecosystem's numbers.
//!
//! - [`read_queries`] and [`read_qrels`] read a BEIR data set's `queries.jsonl` and
//!   `qrels/<split>.tsv` (or TREC qrels);
//! - a [`Run`] holds what a system retrieved; [`write_trec`] and [`read_trec`] move it in and
//!   out of TREC run files, which trec_eval, pytrec_eval, ranx and BEIR users all read;
//! - [`evaluate`] computes nDCG@k, MRR@k and recall@k exactly as BEIR's `EvaluateRetrieval`
//!   does (trec_eval's `ndcg_cut` and `recall` through pytrec_eval, BEIR's own MRR), so kin's
//!   figures equal those a user gets by feeding the same run to BEIR. Its documentation lists
//!   the rules: identical ids, tie-breaking, gains, and which queries are averaged.
//!
//! ```
//! use kin_eval::{evaluate, Qrels, Run};
//!
//! let mut qrels = Qrels::new();
//! qrels.entry("q1".to_string()).or_default().insert("d1".to_string(), 1);
//! let mut run = Run::new();
//! run.push("q1", "d7", 0.9);
//! run.push("q1", "d1", 0.8);
//! let scores = evaluate(&qrels, &run, 10, 100);
//! assert_eq!(scores.mrr, 0.5);
//! assert_eq!(scores.recall, 1.0);
//! ```

mod beir;
mod error;
mod evaluate;
mod lines;
mod metrics;
mod ranking;
mod run;

pub use beir::{read_qrels, read_queries, Qrels, Query};
pub use error::{EvalError, LineProblem, Result};
pub use evaluate::{evaluate, evaluate_with, round5, EvalOptions, QueryScores, Scores};
pub use run::{read_trec, write_trec, Hit, Run};
