//! Delimited rows (CSV, TSV) under a header row.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::{record_document, MAX_RECORD_BYTES};
use crate::error::Size;
use crate::{Document, ExtractError, Format, Result};

/// The header names that mean id, title and text, matched without case or padding.
fn canonical(header: &str) -> Option<&'static str> {
    match header.trim().to_ascii_lowercase().as_str() {
        "_id" => Some("_id"),
        "id" => Some("id"),
        "title" => Some("title"),
        "text" => Some("text"),
        _ => None,
    }
}

/// The delimiter a header line uses: tab when it has more tabs than commas.
fn delimiter(header: &[u8]) -> u8 {
    let count = |c: u8| header.iter().filter(|&&b| b == c).count();
    if count(b'\t') > count(b',') {
        b'\t'
    } else {
        b','
    }
}

/// Whether a CSV header line names a `text` column and an `id` or `_id` one.
pub(crate) fn csv_header_ok(line: &[u8]) -> bool {
    let names: Vec<Option<&str>> = line
        .split(|&b| b == delimiter(line))
        .map(|field| std::str::from_utf8(field).ok().map(|f| f.trim().trim_matches('"')).and_then(canonical))
        .collect();
    names.contains(&Some("text")) && (names.contains(&Some("id")) || names.contains(&Some("_id")))
}

/// Counts the bytes the CSV parser pulls and fails once one record would pass
/// [`MAX_RECORD_BYTES`], so that a quote never closed cannot grow a field without bound.
struct Guarded<R> {
    inner: R,
    read: u64,
    record_start: Arc<AtomicU64>,
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.read.saturating_sub(self.record_start.load(Ordering::Relaxed)) > MAX_RECORD_BYTES as u64 {
            return Err(io::Error::other(format!(
                "a record is longer than {} (an unclosed quote?)",
                Size(MAX_RECORD_BYTES as u64)
            )));
        }
        let n = self.inner.read(out)?;
        self.read += n as u64;
        Ok(n)
    }
}

pub(super) struct CsvRecords<R> {
    reader: Option<csv::Reader<Guarded<R>>>,
    record_start: Arc<AtomicU64>,
    /// Each column's key in `fields`: id, title and text canonical, the rest as written.
    keys: Vec<String>,
    record: csv::StringRecord,
    pending: Option<ExtractError>,
}

impl<R: BufRead> CsvRecords<R> {
    pub(super) fn new(mut reader: R) -> Self {
        // Peek at the header to choose the delimiter, and drop a UTF-8 BOM.
        let (bom, delim) = match reader.fill_buf() {
            Ok(head) => {
                let bom = head.starts_with(b"\xEF\xBB\xBF");
                let line = memchr::memchr(b'\n', head).map_or(head, |end| &head[..end]);
                (bom, delimiter(line))
            }
            Err(_) => (false, b','),
        };
        if bom {
            reader.consume(3);
        }
        let record_start = Arc::new(AtomicU64::new(0));
        let guarded = Guarded { inner: reader, read: 0, record_start: Arc::clone(&record_start) };
        let mut csv = csv::ReaderBuilder::new().delimiter(delim).has_headers(true).from_reader(guarded);
        let mut records = CsvRecords {
            reader: None,
            record_start,
            keys: Vec::new(),
            record: csv::StringRecord::new(),
            pending: None,
        };
        match csv.headers() {
            Ok(headers) => {
                records.keys =
                    headers.iter().map(|h| canonical(h).map_or_else(|| h.to_string(), str::to_string)).collect();
                if records.keys.iter().any(|k| k == "text") {
                    records.reader = Some(csv);
                } else {
                    records.pending = Some(ExtractError::BadRecord {
                        line: 1,
                        message: "the header row has no \"text\" column".into(),
                    });
                }
            }
            Err(e) => {
                records.pending =
                    Some(ExtractError::BadRecord { line: 1, message: format!("the header row cannot be read: {e}") })
            }
        }
        records
    }
}

impl<R: BufRead> Iterator for CsvRecords<R> {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.pending.take() {
            return Some(Err(error));
        }
        let reader = self.reader.as_mut()?;
        loop {
            let outcome = reader.read_record(&mut self.record);
            self.record_start.store(reader.position().byte(), Ordering::Relaxed);
            let line = self.record.position().map_or(reader.position().line(), csv::Position::line);
            match outcome {
                Ok(false) => {
                    self.reader = None;
                    return None;
                }
                Ok(true) => {
                    if self.record.iter().all(|field| field.trim().is_empty()) {
                        continue;
                    }
                    let fields: Map<String, Value> = self
                        .keys
                        .iter()
                        .zip(self.record.iter())
                        .map(|(key, value)| (key.clone(), Value::String(value.to_string())))
                        .collect();
                    return Some(
                        record_document(fields, Format::Csv)
                            .map_err(|message| ExtractError::BadRecord { line, message }),
                    );
                }
                Err(e) => {
                    let message = match e.kind() {
                        csv::ErrorKind::Io(io) => {
                            self.reader = None;
                            format!("reading failed: {io}")
                        }
                        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8".to_string(),
                        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
                            format!("the row has {len} fields where the header has {expected_len}")
                        }
                        _ => e.to_string(),
                    };
                    let line = e.position().map_or(line, csv::Position::line);
                    return Some(Err(ExtractError::BadRecord { line, message }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn headers_that_make_a_corpus() {
        assert!(csv_header_ok(b"_id,title,text"));
        assert!(csv_header_ok(b"\"ID\" , \"Text\""));
        assert!(csv_header_ok(b"id\ttext\tscore"));
        assert!(!csv_header_ok(b"id,body"));
        assert!(!csv_header_ok(b"text,score"));
        assert_eq!(delimiter(b"a\tb,c\td"), b'\t');
        assert_eq!(delimiter(b"a,b"), b',');
    }

    #[test]
    fn an_unclosed_quote_stops_at_the_record_bound() {
        let mut input = b"id,text\n1,\"never closed ".to_vec();
        input.resize(MAX_RECORD_BYTES + (1 << 20), b'x');
        let got: Vec<Result<Document>> = CsvRecords::new(Cursor::new(input)).collect();
        assert_eq!(got.len(), 1);
        assert!(matches!(&got[0], Err(ExtractError::BadRecord { message, .. }) if message.contains("longer")));
    }
}
