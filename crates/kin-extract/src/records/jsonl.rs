//! JSON Lines: one object a line.

use std::io::{self, BufRead};

use serde_json::Value;

use super::{record_document, MAX_RECORD_BYTES};
use crate::error::Size;
use crate::{Document, ExtractError, Format, Result};

/// One line read with a bound: its bytes, or the news that it was longer than the bound.
enum BoundedLine {
    Line,
    TooLong,
}

/// Reads up to the next `\n` into `buf` (cleared first, line break dropped), keeping at most
/// `max` bytes. `Ok(None)` at the end of input.
fn read_line_bounded<R: BufRead>(reader: &mut R, max: usize, buf: &mut Vec<u8>) -> io::Result<Option<BoundedLine>> {
    buf.clear();
    let mut started = false;
    let mut too_long = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            break;
        }
        started = true;
        let (chunk, used, ends) = match memchr::memchr(b'\n', available) {
            Some(at) => (&available[..at], at + 1, true),
            None => (available, available.len(), false),
        };
        if !too_long && buf.len() + chunk.len() > max {
            too_long = true;
            *buf = Vec::new();
        }
        if !too_long {
            buf.extend_from_slice(chunk);
        }
        reader.consume(used);
        if ends {
            break;
        }
    }
    Ok(match (started, too_long) {
        (false, _) => None,
        (true, true) => Some(BoundedLine::TooLong),
        (true, false) => Some(BoundedLine::Line),
    })
}

pub(super) struct JsonlRecords<R> {
    reader: R,
    line: u64,
    buf: Vec<u8>,
    done: bool,
}

impl<R> JsonlRecords<R> {
    pub(super) fn new(reader: R) -> Self {
        JsonlRecords { reader, line: 0, buf: Vec::new(), done: false }
    }
}

impl<R: BufRead> Iterator for JsonlRecords<R> {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let read = read_line_bounded(&mut self.reader, MAX_RECORD_BYTES, &mut self.buf);
            self.line += 1;
            let line = self.line;
            let bad = |message: String| Some(Err(ExtractError::BadRecord { line, message }));
            match read {
                Ok(None) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return bad(format!("reading failed: {e}"));
                }
                Ok(Some(BoundedLine::TooLong)) => {
                    return bad(format!("the line is longer than {}", Size(MAX_RECORD_BYTES as u64)))
                }
                Ok(Some(BoundedLine::Line)) => {
                    let mut bytes = self.buf.trim_ascii();
                    if line == 1 {
                        bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
                    }
                    if bytes.is_empty() {
                        continue;
                    }
                    return match serde_json::from_slice::<Value>(bytes) {
                        Ok(Value::Object(fields)) => Some(
                            record_document(fields, Format::Jsonl)
                                .map_err(|message| ExtractError::BadRecord { line, message }),
                        ),
                        Ok(_) => bad("the line is JSON but not an object".into()),
                        Err(e) => bad(format!("the line is not valid JSON: {e}")),
                    };
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Cursor};

    use super::*;

    #[test]
    fn bounded_lines_split_and_refuse_long_ones() {
        let input = format!("short\n{}\nafter", "x".repeat(100));
        // A tiny buffer makes lines span many fill_buf calls.
        let mut reader = BufReader::with_capacity(7, Cursor::new(input.into_bytes()));
        let mut buf = Vec::new();
        assert!(matches!(read_line_bounded(&mut reader, 50, &mut buf), Ok(Some(BoundedLine::Line))));
        assert_eq!(buf, b"short");
        assert!(matches!(read_line_bounded(&mut reader, 50, &mut buf), Ok(Some(BoundedLine::TooLong))));
        assert!(buf.capacity() <= 64, "a refused line is not kept");
        assert!(matches!(read_line_bounded(&mut reader, 50, &mut buf), Ok(Some(BoundedLine::Line))));
        assert_eq!(buf, b"after");
        assert!(matches!(read_line_bounded(&mut reader, 50, &mut buf), Ok(None)));
    }

    #[test]
    fn an_overlong_record_is_one_error_and_reading_goes_on() {
        let mut input = vec![b'{'];
        input.resize(MAX_RECORD_BYTES + 10, b' ');
        input.extend(b"}\n{\"text\": \"next\"}\n");
        let got: Vec<Result<Document>> = JsonlRecords::new(Cursor::new(input)).collect();
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[0], Err(ExtractError::BadRecord { line: 1, message }) if message.contains("longer")));
        assert!(matches!(&got[1], Ok(d) if d.text == "next"));
    }
}
