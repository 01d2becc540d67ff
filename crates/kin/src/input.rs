//! Where `kin embed` reads its inputs: arguments, a `.txt` or `.jsonl` file, or stdin.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal};
use std::path::Path;

use serde_json::Value;

/// One input: its id (given in JSONL, else its 0-based position) and its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: Value,
    pub text: String,
}

/// A bad input, named by where it came from and its line.
#[derive(Debug)]
pub struct InputError {
    pub source_name: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.source_name, line, self.message),
            None => write!(f, "{}: {}", self.source_name, self.message),
        }
    }
}

impl std::error::Error for InputError {}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Lines,
    Jsonl,
}

/// A stream of records, read lazily so memory stays flat on any input size.
pub struct Records {
    reader: Option<Box<dyn BufRead>>,
    args: std::vec::IntoIter<String>,
    format: Format,
    name: String,
    line: usize,
    buf: Vec<u8>,
}

impl Records {
    /// Inputs from `texts`, else the file `input` (`-` is stdin), else piped stdin.
    pub fn open(texts: Vec<String>, input: Option<&Path>) -> Result<Records, InputError> {
        let from_reader = |reader: Box<dyn BufRead>, format, name: String| Records {
            reader: Some(reader),
            args: Vec::new().into_iter(),
            format,
            name,
            line: 0,
            buf: Vec::new(),
        };
        match (input, texts.is_empty()) {
            (Some(_), false) => Err(InputError {
                source_name: "arguments".into(),
                line: None,
                message: "give texts as arguments or --input, not both".into(),
            }),
            (Some(path), true) if path == Path::new("-") => {
                Ok(from_reader(Box::new(io::stdin().lock()), Format::Lines, "stdin".into()))
            }
            (Some(path), true) => {
                let name = path.display().to_string();
                let file = File::open(path).map_err(|e| InputError {
                    source_name: name.clone(),
                    line: None,
                    message: e.to_string(),
                })?;
                let format = match path.extension().and_then(|e| e.to_str()) {
                    Some("jsonl") | Some("ndjson") => Format::Jsonl,
                    _ => Format::Lines,
                };
                Ok(from_reader(Box::new(BufReader::with_capacity(1 << 20, file)), format, name))
            }
            (None, false) => Ok(Records {
                reader: None,
                args: texts.into_iter(),
                format: Format::Lines,
                name: "arguments".into(),
                line: 0,
                buf: Vec::new(),
            }),
            (None, true) if io::stdin().is_terminal() => Err(InputError {
                source_name: "input".into(),
                line: None,
                message: "nothing to embed: give texts as arguments, --input FILE, or pipe lines on stdin".into(),
            }),
            (None, true) => Ok(from_reader(Box::new(io::stdin().lock()), Format::Lines, "stdin".into())),
        }
    }

    fn error(&self, message: String) -> InputError {
        InputError { source_name: self.name.clone(), line: Some(self.line), message }
    }

    fn parse(&self, line: &str) -> Result<Record, InputError> {
        let position = Value::from(self.line - 1);
        match self.format {
            Format::Lines => Ok(Record { id: position, text: line.to_string() }),
            Format::Jsonl => {
                let value: Value = serde_json::from_str(line).map_err(|e| self.error(format!("invalid JSON: {e}")))?;
                let text = match value.get("text") {
                    Some(Value::String(t)) => t.clone(),
                    Some(_) => return Err(self.error("\"text\" must be a string".into())),
                    None => return Err(self.error("record has no \"text\" field".into())),
                };
                let id = match value.get("id") {
                    None | Some(Value::Null) => position,
                    Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
                    Some(_) => return Err(self.error("\"id\" must be a string or an integer".into())),
                };
                Ok(Record { id, text })
            }
        }
    }
}

impl Iterator for Records {
    type Item = Result<Record, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some(reader) = self.reader.as_mut() else {
            self.line += 1;
            return self.args.next().map(|text| Ok(Record { id: Value::from(self.line - 1), text }));
        };
        loop {
            self.buf.clear();
            match reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => return Some(Err(self.error(e.to_string()))),
            }
            self.line += 1;
            while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                self.buf.pop();
            }
            if self.format == Format::Jsonl && self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(match std::str::from_utf8(&self.buf) {
                Ok(line) => self.parse(line),
                Err(e) => Err(self.error(format!(
                    "not valid UTF-8 (byte 0x{:02x} at column {}); fix the encoding or pass --skip-invalid",
                    self.buf[e.valid_up_to()],
                    e.valid_up_to() + 1
                ))),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(content: &[u8], ext: &str) -> Vec<Result<Record, String>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("in.{ext}"));
        std::fs::write(&path, content).unwrap();
        Records::open(Vec::new(), Some(&path)).unwrap().map(|r| r.map_err(|e| e.to_string())).collect()
    }

    #[test]
    fn text_lines_keep_positions_and_name_bad_lines() {
        let got = read(b"first\r\n\nthird \xff bad\nlast", "txt");
        assert_eq!(got[0], Ok(Record { id: 0.into(), text: "first".into() }));
        assert_eq!(got[1], Ok(Record { id: 1.into(), text: "".into() }));
        let err = got[2].clone().unwrap_err();
        assert!(err.contains("in.txt:3:") && err.contains("UTF-8") && err.contains("--skip-invalid"), "{err}");
        assert_eq!(got[3], Ok(Record { id: 3.into(), text: "last".into() }));
    }

    #[test]
    fn jsonl_records() {
        let got = read(b"{\"id\": \"a\", \"text\": \"x\"}\n\n{\"text\": \"y\"}\n{\"id\": 7}\nnot json\n", "jsonl");
        assert_eq!(got[0], Ok(Record { id: "a".into(), text: "x".into() }));
        assert_eq!(got[1], Ok(Record { id: 2.into(), text: "y".into() }));
        assert!(got[2].clone().unwrap_err().contains(":4: record has no \"text\""));
        assert!(got[3].clone().unwrap_err().contains(":5: invalid JSON"));
    }

    #[test]
    fn arguments_are_records() {
        let got: Vec<_> = Records::open(vec!["a".into(), "b".into()], None).unwrap().map(Result::unwrap).collect();
        assert_eq!(got[1], Record { id: 1.into(), text: "b".into() });
    }
}
