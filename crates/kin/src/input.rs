//! Where `kin embed` reads its inputs: arguments, a `.txt` or `.jsonl` file, or stdin.
//!
//! An input is a text or a media file. An argument naming an existing file whose content is an
//! image (or other media) is that file; every other argument is a text. A JSONL record carries
//! `"text"` or `"path"` (relative to the current directory).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One input: its id (given in JSONL, else its 0-based position) and its content.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: Value,
    pub input: Input,
}

/// What an input is.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Text(String),
    /// A file whose bytes are embedded (an image); its modality comes from its content.
    File(PathBuf),
}

impl Record {
    fn text(id: Value, text: impl Into<String>) -> Self {
        Record { id, input: Input::Text(text.into()) }
    }
}

/// Whether a command-line argument names a media file rather than being a text.
fn names_media_file(arg: &str) -> bool {
    let path = Path::new(arg);
    if arg.len() > 4096 || !path.is_file() {
        return false;
    }
    let mut head = [0u8; 64];
    let n = File::open(path).and_then(|mut f| io::Read::read(&mut f, &mut head)).unwrap_or(0);
    matches!(kin_core::detect_modality(&head[..n]), Some(m) if m != kin_core::Modality::Text)
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
            Format::Lines => Ok(Record::text(position, line)),
            Format::Jsonl => {
                let value: Value = serde_json::from_str(line).map_err(|e| self.error(format!("invalid JSON: {e}")))?;
                let input = match (value.get("text"), value.get("path")) {
                    (Some(Value::String(t)), None) => Input::Text(t.clone()),
                    (None, Some(Value::String(p))) if !p.is_empty() => Input::File(PathBuf::from(p)),
                    (Some(_), Some(_)) => return Err(self.error("give \"text\" or \"path\", not both".into())),
                    (Some(_), None) => return Err(self.error("\"text\" must be a string".into())),
                    (None, Some(_)) => return Err(self.error("\"path\" must be a non-empty string".into())),
                    (None, None) => return Err(self.error("record has no \"text\" or \"path\" field".into())),
                };
                let id = match value.get("id") {
                    None | Some(Value::Null) => position,
                    Some(id @ (Value::String(_) | Value::Number(_))) => id.clone(),
                    Some(_) => return Err(self.error("\"id\" must be a string or an integer".into())),
                };
                Ok(Record { id, input })
            }
        }
    }
}

impl Iterator for Records {
    type Item = Result<Record, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some(reader) = self.reader.as_mut() else {
            self.line += 1;
            let id = Value::from(self.line - 1);
            return self.args.next().map(|arg| {
                Ok(if names_media_file(&arg) {
                    Record { id, input: Input::File(PathBuf::from(arg)) }
                } else {
                    Record::text(id, arg)
                })
            });
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
        assert_eq!(got[0], Ok(Record::text(0.into(), "first")));
        assert_eq!(got[1], Ok(Record::text(1.into(), "")));
        let err = got[2].clone().unwrap_err();
        assert!(err.contains("in.txt:3:") && err.contains("UTF-8") && err.contains("--skip-invalid"), "{err}");
        assert_eq!(got[3], Ok(Record::text(3.into(), "last")));
    }

    #[test]
    fn jsonl_records() {
        let got = read(
            b"{\"id\": \"a\", \"text\": \"x\"}\n\n{\"text\": \"y\"}\n{\"id\": 7}\nnot json\n{\"path\": \"p.jpg\"}\n{\"path\": 3}\n",
            "jsonl",
        );
        assert_eq!(got[0], Ok(Record::text("a".into(), "x")));
        assert_eq!(got[1], Ok(Record::text(2.into(), "y")));
        assert!(got[2].clone().unwrap_err().contains(":4: record has no \"text\" or \"path\""));
        assert!(got[3].clone().unwrap_err().contains(":5: invalid JSON"));
        assert_eq!(got[4], Ok(Record { id: 5.into(), input: Input::File("p.jpg".into()) }));
        assert!(got[5].clone().unwrap_err().contains(":7: \"path\" must be"));
    }

    #[test]
    fn arguments_are_records() {
        let got: Vec<_> = Records::open(vec!["a".into(), "b".into()], None).unwrap().map(Result::unwrap).collect();
        assert_eq!(got[1], Record::text(1.into(), "b"));
    }

    #[test]
    fn an_argument_naming_an_image_file_is_that_file() {
        let dir = tempfile::tempdir().unwrap();
        let (png, txt) = (dir.path().join("a.png"), dir.path().join("notes.txt"));
        std::fs::write(&png, b"\x89PNG\r\n\x1a\n rest").unwrap();
        std::fs::write(&txt, b"plain text").unwrap();
        let args = [png.display().to_string(), txt.display().to_string(), "a photo of a dog".into()];
        let got: Vec<_> = Records::open(args.to_vec(), None).unwrap().map(Result::unwrap).collect();
        assert_eq!(got[0].input, Input::File(png));
        assert_eq!(got[1].input, Input::Text(txt.display().to_string()));
        assert_eq!(got[2].input, Input::Text("a photo of a dog".into()));
    }
}
