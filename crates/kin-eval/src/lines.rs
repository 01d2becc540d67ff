//! Line-by-line reading shared by the file readers: I/O errors carry the path, a bad line
//! carries the path and its 1-based number.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use crate::error::{EvalError, LineProblem, Result};

/// Calls `parse` with the 1-based number and text of every line of `path` that is not blank,
/// stopping at the first problem it reports.
pub(crate) fn for_each_line(
    path: &Path,
    mut parse: impl FnMut(usize, &str) -> std::result::Result<(), LineProblem>,
) -> Result<()> {
    let read_error = |source| EvalError::Read { path: path.to_path_buf(), source };
    let reader = BufReader::new(File::open(path).map_err(read_error)?);
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(read_error)?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        parse(index + 1, text).map_err(|problem| EvalError::BadLine {
            path: path.to_path_buf(),
            line: index + 1,
            problem,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_blank_lines_and_numbers_from_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        std::fs::write(&path, "a\n\n  \nb\r\n").unwrap();
        let mut seen = Vec::new();
        for_each_line(&path, |n, text| {
            seen.push((n, text.to_string()));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![(1, "a".to_string()), (4, "b".to_string())]);
    }

    #[test]
    fn missing_file_error_carries_the_path() {
        let err = for_each_line(Path::new("/nonexistent/kin-eval/x.tsv"), |_, _| Ok(())).unwrap_err();
        assert!(matches!(err, EvalError::Read { ref path, .. } if path.ends_with("x.tsv")));
        assert!(err.to_string().contains("/nonexistent/kin-eval/x.tsv"));
    }
}
