//! A run: what a retrieval system returned for each query, and its TREC run file form.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;

use crate::error::{EvalError, LineProblem, Result};
use crate::lines::for_each_line;

/// One retrieved document and its score (higher is better).
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub doc_id: String,
    pub score: f64,
}

/// For each query id, the documents a system returned, in the order it returned them.
///
/// The order matters only for breaking score ties in BEIR's MRR (see [`crate::evaluate`]);
/// trec_eval re-sorts by score and ignores it. A query with an empty list is present in the
/// run and is evaluated (it scores 0); an absent query is not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Run {
    rankings: BTreeMap<String, Vec<Hit>>,
}

impl Run {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one hit to the query's list, creating the query if needed.
    pub fn push(&mut self, query_id: impl Into<String>, doc_id: impl Into<String>, score: f64) {
        self.rankings.entry(query_id.into()).or_default().push(Hit { doc_id: doc_id.into(), score });
    }

    /// Sets the query's whole list (possibly empty), returning the one it replaces.
    pub fn insert(&mut self, query_id: impl Into<String>, hits: Vec<Hit>) -> Option<Vec<Hit>> {
        self.rankings.insert(query_id.into(), hits)
    }

    /// The query's hits, or `None` when the run has no entry for it.
    pub fn hits(&self, query_id: &str) -> Option<&[Hit]> {
        self.rankings.get(query_id).map(Vec::as_slice)
    }

    /// Queries in id order, each with its hits.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Hit])> {
        self.rankings.iter().map(|(query_id, hits)| (query_id.as_str(), hits.as_slice()))
    }

    /// Number of queries in the run.
    pub fn len(&self) -> usize {
        self.rankings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rankings.is_empty()
    }
}

/// Writes `run` as TREC run lines `qid Q0 docid rank score tag`, queries in id order, each
/// query's hits in their stored order with ranks from 1. Scores are written in the shortest
/// form that reads back to the same `f64`. A query with no hits writes no line, so it is
/// absent (not empty) once read back.
///
/// Fails with [`EvalError::NotATrecToken`] when the tag, a query id or a document id is empty
/// or contains whitespace, since the line could not be split back.
pub fn write_trec(run: &Run, tag: &str, out: impl Write) -> Result<()> {
    check_token("tag", tag)?;
    let mut out = std::io::BufWriter::new(out);
    let write_error = |source| EvalError::Write { source };
    for (query_id, hits) in run.iter() {
        check_token("query id", query_id)?;
        for (index, hit) in hits.iter().enumerate() {
            check_token("document id", &hit.doc_id)?;
            let rank = index + 1;
            writeln!(out, "{query_id} Q0 {} {rank} {} {tag}", hit.doc_id, hit.score).map_err(write_error)?;
        }
    }
    out.flush().map_err(write_error)
}

fn check_token(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() || value.contains(char::is_whitespace) {
        return Err(EvalError::NotATrecToken { field, value: value.to_string() });
    }
    Ok(())
}

/// Reads a TREC run file (`qid Q0 docid rank score tag`, whitespace-separated). Hits keep the
/// file's order; the rank and tag fields are checked but not kept (trec_eval ignores ranks
/// too). A document listed twice for one query is an error, as it is for trec_eval.
pub fn read_trec(path: &Path) -> Result<Run> {
    let mut run = Run::new();
    let mut seen = HashSet::new();
    for_each_line(path, |_, line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [query_id, _q0, doc_id, rank, score, _tag] = fields[..] else {
            return Err(LineProblem::FieldCount { expected: "6", found: fields.len() });
        };
        if rank.parse::<i64>().is_err() {
            return Err(LineProblem::BadRank { value: rank.to_string() });
        }
        let Ok(score) = score.parse::<f64>() else {
            return Err(LineProblem::BadScore { value: score.to_string() });
        };
        if !seen.insert((query_id.to_string(), doc_id.to_string())) {
            return Err(LineProblem::DuplicateDocument { query_id: query_id.to_string(), doc_id: doc_id.to_string() });
        }
        run.push(query_id, doc_id, score);
        Ok(())
    })?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Run {
        let mut run = Run::new();
        run.push("q2", "d9", 0.1 + 0.2); // 0.30000000000000004 must survive the round trip
        run.push("q1", "d3", 12.5);
        run.push("q1", "d1", -1e-7);
        run.push("7", "42", 3.0);
        run
    }

    #[test]
    fn trec_lines_have_ranks_from_one_in_stored_order() {
        let mut out = Vec::new();
        write_trec(&sample(), "kin", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "7 Q0 42 1 3 kin\n\
             q1 Q0 d3 1 12.5 kin\n\
             q1 Q0 d1 2 -0.0000001 kin\n\
             q2 Q0 d9 1 0.30000000000000004 kin\n"
        );
    }

    #[test]
    fn write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.trec");
        let run = sample();
        write_trec(&run, "kin", std::fs::File::create(&path).unwrap()).unwrap();
        assert_eq!(read_trec(&path).unwrap(), run);
    }

    #[test]
    fn empty_queries_write_no_lines() {
        let mut run = sample();
        run.insert("q0", Vec::new());
        let mut out = Vec::new();
        write_trec(&run, "kin", &mut out).unwrap();
        assert!(!String::from_utf8(out).unwrap().contains("q0"));
    }

    #[test]
    fn ids_with_whitespace_are_refused() {
        let mut run = Run::new();
        run.push("q1", "doc one", 1.0);
        let err = write_trec(&run, "kin", Vec::new()).unwrap_err();
        assert!(matches!(err, EvalError::NotATrecToken { field: "document id", .. }));
        let err = write_trec(&Run::new(), "my run", Vec::new()).unwrap_err();
        assert!(matches!(err, EvalError::NotATrecToken { field: "tag", .. }));
    }

    #[test]
    fn bad_run_lines_are_named_with_their_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.trec");
        let cases = [
            ("q1 Q0 d2 2 0.5", "expected 6 fields, found 5"),
            ("q1 Q0 d2 two 0.5 kin", "rank \"two\" is not an integer"),
            ("q1 Q0 d2 2 high kin", "score \"high\" is not a number"),
            ("q1 Q0 d1 2 0.5 kin", "document \"d1\" is listed twice for query \"q1\""),
        ];
        for (bad, message) in cases {
            std::fs::write(&path, format!("q1 Q0 d1 1 0.9 kin\n{bad}\n")).unwrap();
            let err = read_trec(&path).unwrap_err();
            assert!(matches!(err, EvalError::BadLine { line: 2, .. }), "{err:?}");
            assert!(err.to_string().ends_with(message), "{err}");
        }
    }
}
