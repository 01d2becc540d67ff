//! Record files: `.jsonl` (one JSON object a line, the BEIR corpus layout) and `.csv`/`.tsv`
//! (a header row naming `text` and `id` or `_id`), read one record at a time.

mod delimited;
mod jsonl;

use std::io::BufRead;

use serde_json::{Map, Value};

pub(crate) use delimited::csv_header_ok;
use delimited::CsvRecords;
use jsonl::JsonlRecords;

use crate::{Document, ExtractError, Format, Result};

/// The longest record kept in memory; a longer line or row is reported, not read.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// The records of a `.jsonl` or `.csv` file, streamed: each `Ok(Document)` has format Jsonl/Csv,
/// `id` from `_id` or `id` (string or number → string), `title` from `title` (missing or empty →
/// `None`), `text` from `text`, and every other field in `fields`. A bad line gives
/// `Err(ExtractError::BadRecord { line, .. })` for that line and the iteration goes on (an I/O
/// error ends it). Blank lines are skipped. For another format the iterator yields one
/// [`ExtractError::NotRecords`].
pub fn records<R: BufRead>(reader: R, format: Format) -> impl Iterator<Item = Result<Document>> {
    match format {
        Format::Jsonl => Records::Jsonl(JsonlRecords::new(reader)),
        Format::Csv => Records::Csv(Box::new(CsvRecords::new(reader))),
        other => Records::Other(Some(ExtractError::NotRecords { format: other })),
    }
}

enum Records<R> {
    Jsonl(JsonlRecords<R>),
    Csv(Box<CsvRecords<R>>),
    Other(Option<ExtractError>),
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Records::Jsonl(jsonl) => jsonl.next(),
            Records::Csv(csv) => csv.next(),
            Records::Other(error) => error.take().map(Err),
        }
    }
}

/// A document from a record's fields, taking out the id, title and text.
fn record_document(mut fields: Map<String, Value>, format: Format) -> Result<Document, String> {
    let id = match fields.remove("_id").or_else(|| fields.remove("id")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err("the id must be a string or a number".into()),
    };
    let title = match fields.remove("title") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => (!s.trim().is_empty()).then_some(s),
        Some(_) => return Err("the title must be a string".into()),
    };
    let text = match fields.remove("text") {
        Some(Value::String(s)) => s,
        None => return Err("it has no \"text\" field".into()),
        Some(_) => return Err("its \"text\" must be a string".into()),
    };
    Ok(Document { text, format: Some(format), title, id, fields, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use serde_json::json;

    use super::*;

    fn read(input: &str, format: Format) -> Vec<Result<Document>> {
        records(Cursor::new(input.as_bytes().to_vec()), format).collect()
    }

    #[test]
    fn beir_jsonl_records() {
        let input = concat!(
            "{\"_id\": \"d1\", \"title\": \"First\", \"text\": \"alpha\", \"metadata\": {\"url\": \"u\"}}\n",
            "\n",
            "{\"id\": 7, \"title\": \"\", \"text\": \"beta\"}\r\n",
            "{\"_id\": \"d3\", \"text\": \"gamma\"}",
        );
        let docs: Vec<Document> = read(input, Format::Jsonl).into_iter().map(|r| r.expect("record")).collect();
        assert_eq!(docs.len(), 3, "the blank line is skipped");
        assert_eq!(docs[0].id.as_deref(), Some("d1"));
        assert_eq!(docs[0].title.as_deref(), Some("First"));
        assert_eq!(docs[0].text, "alpha");
        assert_eq!(docs[0].format, Some(Format::Jsonl));
        assert_eq!(docs[0].fields.get("metadata"), Some(&json!({"url": "u"})));
        assert!(!docs[0].fields.contains_key("_id") && !docs[0].fields.contains_key("text"));
        assert_eq!(docs[1].id.as_deref(), Some("7"), "a numeric id becomes a string");
        assert_eq!(docs[1].title, None, "an empty title is no title");
        assert_eq!(docs[2].text, "gamma");
    }

    #[test]
    fn bad_jsonl_lines_are_reported_and_skipped() {
        let input = "{\"_id\": \"a\", \"text\": \"ok\"}\nnot json\n[1, 2]\n{\"_id\": \"b\"}\n{\"_id\": [1], \"text\": \"x\"}\n{\"_id\": \"c\", \"text\": \"fine\"}\n";
        let got = read(input, Format::Jsonl);
        assert_eq!(got.len(), 6);
        let lines: Vec<Option<u64>> = got
            .iter()
            .map(|r| match r {
                Err(ExtractError::BadRecord { line, .. }) => Some(*line),
                _ => None,
            })
            .collect();
        assert_eq!(lines, [None, Some(2), Some(3), Some(4), Some(5), None]);
        assert!(matches!(&got[5], Ok(d) if d.id.as_deref() == Some("c")));
        match &got[3] {
            Err(e) => assert!(e.to_string().contains("no \"text\""), "{e}"),
            Ok(d) => panic!("expected an error, got {d:?}"),
        }
    }

    #[test]
    fn csv_records_with_header() {
        let input = "\u{feff}_id,Title,text,lang\nd1,One,\"hello, world\",en\n\nd2,,\"two\nlines\",fr\n";
        let docs: Vec<Document> = read(input, Format::Csv).into_iter().map(|r| r.expect("row")).collect();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].id.as_deref(), Some("d1"));
        assert_eq!(docs[0].title.as_deref(), Some("One"));
        assert_eq!(docs[0].text, "hello, world");
        assert_eq!(docs[0].fields.get("lang"), Some(&json!("en")));
        assert_eq!(docs[0].format, Some(Format::Csv));
        assert_eq!(docs[1].title, None);
        assert_eq!(docs[1].text, "two\nlines");
    }

    #[test]
    fn tsv_and_bad_rows() {
        let input = "id\ttext\nd1\tfirst\nd2\tsecond\textra\nd3\tthird\n";
        let got = read(input, Format::Csv);
        assert_eq!(got.len(), 3);
        assert!(matches!(&got[0], Ok(d) if d.text == "first"));
        assert!(matches!(&got[1], Err(ExtractError::BadRecord { line: 3, .. })), "{:?}", got[1]);
        assert!(matches!(&got[2], Ok(d) if d.id.as_deref() == Some("d3")));
    }

    #[test]
    fn csv_without_text_column_says_so_once() {
        let got = read("id,body\n1,x\n", Format::Csv);
        assert_eq!(got.len(), 1);
        assert!(matches!(&got[0], Err(ExtractError::BadRecord { line: 1, message }) if message.contains("text")));
    }

    #[test]
    fn other_formats_are_not_records() {
        let got = read("# Title\n", Format::Markdown);
        assert!(matches!(got.as_slice(), [Err(ExtractError::NotRecords { format: Format::Markdown })]));
    }
}
