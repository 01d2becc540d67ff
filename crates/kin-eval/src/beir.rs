//! Reading BEIR's query and relevance-judgment files.
//!
//! A BEIR data set is a folder with `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv`.
//! [`read_queries`] reads the queries, [`read_qrels`] the judgments, in BEIR's tab-separated
//! layout or in the TREC qrels layout.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{LineProblem, Result};
use crate::lines::for_each_line;

/// One query of `queries.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: String,
    pub text: String,
}

/// Relevance judgments: query id → document id → graded relevance.
///
/// Grades are BEIR's integers: 0 means judged not relevant, 1 and up relevant, negative values
/// (rare) mean "in the pool but not judged" to trec_eval and count as not relevant.
pub type Qrels = BTreeMap<String, BTreeMap<String, i32>>;

/// Reads BEIR's `queries.jsonl`: one JSON object a line with the id in `_id` (or `id`), a
/// string or a number, and the text in `text`; other fields are ignored, blank lines skipped.
/// Queries come back in file order.
pub fn read_queries(path: &Path) -> Result<Vec<Query>> {
    let mut queries = Vec::new();
    for_each_line(path, |_, line| {
        queries.push(parse_query(line)?);
        Ok(())
    })?;
    Ok(queries)
}

fn parse_query(line: &str) -> std::result::Result<Query, LineProblem> {
    let value: Value = serde_json::from_str(line)?;
    let object = value.as_object().ok_or(LineProblem::NotAnObject)?;
    let (field, id) = match (object.get("_id"), object.get("id")) {
        (Some(id), _) => ("_id", id),
        (None, Some(id)) => ("id", id),
        (None, None) => return Err(LineProblem::MissingField { field: "_id" }),
    };
    let id = match id {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        _ => return Err(LineProblem::WrongType { field, expected: "a string or a number" }),
    };
    let text = match object.get("text") {
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err(LineProblem::WrongType { field: "text", expected: "a string" }),
        None => return Err(LineProblem::MissingField { field: "text" }),
    };
    Ok(Query { id, text })
}

/// Reads relevance judgments in either layout, line by line:
///
/// - BEIR's `qrels/<split>.tsv`: `query-id<TAB>corpus-id<TAB>score`, with a header line;
/// - TREC qrels: `qid iteration docid relevance`, separated by spaces or tabs, no header.
///
/// A line is split on tabs when that gives three or four non-empty fields, the last without
/// whitespace (so tab-separated ids may hold spaces, as BEIR's csv reader allows), otherwise on
/// runs of whitespace; three fields are read as BEIR's layout, four as TREC's. The first line is taken for a header, and
/// skipped, when its relevance field is not an integer (BEIR's own loader skips the first
/// line unconditionally, so a header-less BEIR file loses its first judgment there, not here).
/// A pair judged twice keeps the last grade, as BEIR's loader does.
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let mut qrels = Qrels::new();
    let mut first = true;
    for_each_line(path, |_, line| {
        let is_first = std::mem::replace(&mut first, false);
        let mut fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        let tab_separated = (3..=4).contains(&fields.len())
            && !fields.iter().any(|field| field.is_empty())
            && fields.last().is_some_and(|rel| !rel.contains(char::is_whitespace));
        if !tab_separated {
            fields = line.split_whitespace().collect();
        }
        let (query_id, doc_id, relevance) = match fields[..] {
            [query_id, doc_id, relevance] => (query_id, doc_id, relevance),
            [query_id, _iteration, doc_id, relevance] => (query_id, doc_id, relevance),
            _ => return Err(LineProblem::FieldCount { expected: "3 (BEIR) or 4 (TREC)", found: fields.len() }),
        };
        let Ok(relevance) = relevance.parse::<i32>() else {
            if is_first {
                return Ok(()); // the header: `query-id corpus-id score`
            }
            return Err(LineProblem::BadRelevance { value: relevance.to_string() });
        };
        qrels.entry(query_id.to_string()).or_default().insert(doc_id.to_string(), relevance);
        Ok(())
    })?;
    Ok(qrels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EvalError;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn bad_line(err: EvalError) -> (usize, LineProblem) {
        match err {
            EvalError::BadLine { line, problem, .. } => (line, problem),
            other => panic!("expected a bad line, got {other:?}"),
        }
    }

    #[test]
    fn queries_accept_string_and_numeric_ids_and_ignore_other_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "queries.jsonl",
            concat!(
                r#"{"_id": "q1", "text": "what is kin", "metadata": {}}"#,
                "\n\n",
                r#"{"_id": 42, "text": "numeric id"}"#,
                "\n",
                r#"{"id": "q3", "text": "plain id"}"#,
                "\n",
            ),
        );
        let queries = read_queries(&path).unwrap();
        let ids: Vec<&str> = queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["q1", "42", "q3"]);
        assert_eq!(queries[0].text, "what is kin");
    }

    #[test]
    fn bad_query_lines_are_named_with_their_number() {
        let dir = tempfile::tempdir().unwrap();
        let ok = r#"{"_id": "q1", "text": "a"}"#;
        let cases = [
            ("not json", "not valid JSON"),
            (r#"["q1", "a"]"#, "not a JSON object"),
            (r#"{"text": "a"}"#, "missing field `_id`"),
            (r#"{"_id": "q2"}"#, "missing field `text`"),
            (r#"{"_id": true, "text": "a"}"#, "field `_id` must be a string or a number"),
            (r#"{"_id": "q2", "text": 3}"#, "field `text` must be a string"),
        ];
        for (bad, message) in cases {
            let path = write(&dir, "queries.jsonl", &format!("{ok}\n\n{bad}\n"));
            let err = read_queries(&path).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("queries.jsonl, line 3: "), "{text}");
            assert!(text.contains(message), "{text}");
            assert_eq!(bad_line(err).0, 3);
        }
    }

    #[test]
    fn beir_qrels_with_header_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\n\n7\t12\t0\n");
        let qrels = read_qrels(&path).unwrap();
        assert_eq!(qrels.len(), 2);
        assert_eq!(qrels["q1"]["d1"], 1);
        assert_eq!(qrels["q1"]["d2"], 2);
        assert_eq!(qrels["7"]["12"], 0);
    }

    #[test]
    fn tab_separated_ids_may_hold_spaces() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "test.tsv", "query-id\tcorpus-id\tscore\nq 1\tdoc one\t1\n");
        assert_eq!(read_qrels(&path).unwrap()["q 1"]["doc one"], 1);
    }

    #[test]
    fn qrels_without_header_keep_their_first_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "test.tsv", "q1\td1\t1\nq2\td9\t2\n");
        let qrels = read_qrels(&path).unwrap();
        assert_eq!(qrels["q1"]["d1"], 1);
        assert_eq!(qrels["q2"]["d9"], 2);
    }

    #[test]
    fn trec_qrels_are_read_and_a_repeated_pair_keeps_the_last_grade() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "qrels.txt",
            "301 0 FBIS3-10082 1\n301  0\tFBIS3-10169 0\n302\t0\tLA01 2\n301 0 FBIS3-10082 -1\n",
        );
        let qrels = read_qrels(&path).unwrap();
        assert_eq!(qrels["301"].len(), 2);
        assert_eq!(qrels["301"]["FBIS3-10082"], -1);
        assert_eq!(qrels["301"]["FBIS3-10169"], 0);
        assert_eq!(qrels["302"]["LA01"], 2);
    }

    #[test]
    fn bad_qrels_lines_are_named_with_their_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\tyes\n");
        let (line, problem) = bad_line(read_qrels(&path).unwrap_err());
        assert_eq!(line, 3);
        assert!(matches!(problem, LineProblem::BadRelevance { ref value } if value == "yes"));

        let path = write(&dir, "test.tsv", "q1\td1\t1\n\nq1 d2\n");
        let (line, problem) = bad_line(read_qrels(&path).unwrap_err());
        assert_eq!(line, 3);
        assert!(matches!(problem, LineProblem::FieldCount { found: 2, .. }));
    }
}
