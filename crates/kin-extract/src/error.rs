use std::fmt;
use std::path::PathBuf;

use crate::Format;

/// Why a file or record yields no text. Messages are written for a summary line that already
/// names the file ("report.pdf: PDF is encrypted; ...").
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("cannot be read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("is {}, over the {} limit on input files", Size(*bytes), Size(*limit))]
    TooLarge { bytes: u64, limit: u64 },
    #[error("is empty")]
    Empty,
    #[error("content is binary ({looks_like}), not a document kin reads")]
    Binary { looks_like: &'static str },
    #[error("holds one {format} record per {}; read it record by record (kin_extract::records)", record_unit(*format))]
    Records { format: Format },
    #[error("PDF is encrypted; kin reads only unencrypted PDFs (or those with an empty user password)")]
    Encrypted,
    #[error("{} is damaged or not valid: {message}", format.label())]
    Corrupt { format: Format, message: String },
    #[error("{}", no_text(*format))]
    NoText { format: Format },
    #[error("{} {entry} unpacks to more than {}; refused as a likely decompression bomb", format.label(), Size(*limit))]
    ZipBomb { format: Format, entry: String, limit: u64 },
    #[error("DOCX has {entries} zip entries, more than the {limit} kin reads")]
    TooManyEntries { entries: u64, limit: u64 },
    #[error("{} nests elements deeper than {limit} levels", format.label())]
    TooDeep { format: Format, limit: usize },
    #[error("extraction took longer than {seconds:.1} s and was abandoned")]
    Timeout { seconds: f64 },
    #[error("the {} parser failed on this file (internal error: {message})", format.label())]
    Panicked { format: Format, message: String },
    #[error("cannot start a parser thread: {source}")]
    Thread {
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a record format (JSONL or CSV)", format.label())]
    NotRecords { format: Format },
    #[error("record on line {line}: {message}")]
    BadRecord { line: u64, message: String },
}

pub type Result<T, E = ExtractError> = std::result::Result<T, E>;

impl ExtractError {
    pub(crate) fn corrupt(format: Format, message: impl fmt::Display) -> Self {
        ExtractError::Corrupt { format, message: message.to_string() }
    }
}

fn record_unit(format: Format) -> &'static str {
    match format {
        Format::Csv => "row",
        _ => "line",
    }
}

fn no_text(format: Format) -> &'static str {
    match format {
        Format::Pdf => "PDF has no text layer (scanned pages?); kin does not run OCR",
        Format::Docx => "DOCX has no text",
        Format::Html => "HTML page has no visible text",
        _ => "has no text",
    }
}

/// A byte count for people: "64 MiB", "1.5 GiB", "312 bytes".
pub(crate) struct Size(pub u64);

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
        if self.0 < 1024 {
            return write!(f, "{} bytes", self.0);
        }
        let mut value = self.0 as f64 / 1024.0;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if value.fract() == 0.0 {
            write!(f, "{value:.0} {}", UNITS[unit])
        } else {
            write!(f, "{value:.1} {}", UNITS[unit])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(Size(312).to_string(), "312 bytes");
        assert_eq!(Size(64 << 20).to_string(), "64 MiB");
        assert_eq!(Size(3 << 29).to_string(), "1.5 GiB");
    }

    #[test]
    fn messages_name_the_limits() {
        let e = ExtractError::TooLarge { bytes: 1 << 30, limit: 64 << 20 };
        assert_eq!(e.to_string(), "is 1 GiB, over the 64 MiB limit on input files");
        let e = ExtractError::Corrupt { format: Format::Pdf, message: "no xref".into() };
        assert_eq!(e.to_string(), "PDF is damaged or not valid: no xref");
        assert!(ExtractError::Encrypted.to_string().starts_with("PDF is encrypted"));
        let e = ExtractError::Records { format: Format::Csv };
        assert!(e.to_string().contains("per row"), "{e}");
    }
}
