//! kin-eval's error type.

use std::path::PathBuf;

/// Everything that can go wrong reading or writing evaluation files.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The file could not be opened or read (this includes text that is not UTF-8).
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing a run to its destination failed.
    #[error("cannot write the TREC run: {source}")]
    Write {
        #[source]
        source: std::io::Error,
    },
    /// One line of an input file is malformed.
    #[error("{path}, line {line}: {problem}")]
    BadLine {
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        problem: LineProblem,
    },
    /// A value cannot be written as one whitespace-free TREC run field.
    #[error("{field} {value:?} cannot be written to a TREC run: it is empty or contains whitespace")]
    NotATrecToken { field: &'static str, value: String },
}

/// What is wrong with a line, for [`EvalError::BadLine`].
#[derive(Debug, thiserror::Error)]
pub enum LineProblem {
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not a JSON object")]
    NotAnObject,
    #[error("missing field `{field}`")]
    MissingField { field: &'static str },
    #[error("field `{field}` must be {expected}")]
    WrongType { field: &'static str, expected: &'static str },
    #[error("expected {expected} fields, found {found}")]
    FieldCount { expected: &'static str, found: usize },
    #[error("relevance {value:?} is not an integer")]
    BadRelevance { value: String },
    #[error("rank {value:?} is not an integer")]
    BadRank { value: String },
    #[error("score {value:?} is not a number")]
    BadScore { value: String },
    #[error("document {doc_id:?} is listed twice for query {query_id:?}")]
    DuplicateDocument { query_id: String, doc_id: String },
}

/// kin-eval's result alias.
pub type Result<T> = std::result::Result<T, EvalError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_line_names_file_line_and_problem() {
        let err = EvalError::BadLine {
            path: PathBuf::from("qrels/test.tsv"),
            line: 7,
            problem: LineProblem::BadRelevance { value: "high".to_string() },
        };
        assert_eq!(err.to_string(), "qrels/test.tsv, line 7: relevance \"high\" is not an integer");
    }
}
