//! Documents to text: plain text in any common encoding, Markdown, HTML, PDF, DOCX, and record
//! files (`.jsonl`, `.csv`) in the BEIR layout. The format comes from the content; the file name
//! is only a hint. Every parser runs isolated (panics caught, time bounded, input and
//! decompressed sizes capped), so a hostile file is reported, never fatal.
//!
//! What comes out is a [`Document`]: the extracted text that every chunk span refers to, its
//! title, its headings and (for PDF) where each page starts.
//!
//! ```no_run
//! # fn main() -> kin_extract::Result<()> {
//! use kin_extract::{extract, read_file, Limits};
//! let limits = Limits::default();
//! let path = std::path::Path::new("report.pdf");
//! let doc = extract(read_file(path, &limits)?, path.to_str(), &limits)?;
//! println!("{} pages, title {:?}", doc.pages.len(), doc.title);
//! # Ok(()) }
//! ```

mod docx;
mod document;
mod error;
mod html;
mod isolate;
mod limits;
mod markdown;
mod pdf;
mod records;
mod sniff;
mod text;
mod zipdir;

#[cfg(any(test, feature = "testdata"))]
pub mod testdata;

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub use document::{Document, Format, Heading};
pub use error::{ExtractError, Result};
pub use limits::Limits;
pub use pdf::PAGE_SEPARATOR;
pub use records::{records, MAX_RECORD_BYTES};
pub use sniff::sniff;
pub use text::{decode_text, TextEncoding};

use limits::Deadline;

/// Whether files of `format` hold many documents, read with [`records`] (not [`extract`]).
pub fn is_records(format: Format) -> bool {
    format.is_records()
}

/// A file's bytes, refused from its size before anything is read when it is over
/// `limits.max_bytes` (and refused again should it grow past that while being read).
pub fn read_file(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    let io = |source| ExtractError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io)?;
    let declared = file.metadata().map_err(io)?.len();
    if declared > limits.max_bytes {
        return Err(ExtractError::TooLarge { bytes: declared, limit: limits.max_bytes });
    }
    let mut bytes = Vec::with_capacity(declared as usize);
    file.take(limits.max_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(ExtractError::TooLarge { bytes: bytes.len() as u64, limit: limits.max_bytes });
    }
    Ok(bytes)
}

/// One document from one file's bytes, isolated: the parser runs on its own thread with its
/// panics caught, and is waited for at most `limits.timeout` (then [`ExtractError::Timeout`],
/// and the thread is let go). `name` (a file name) only breaks ties between formats. Record
/// files give [`ExtractError::Records`]: read them with [`records`].
pub fn extract(bytes: Vec<u8>, name: Option<&str>, limits: &Limits) -> Result<Document> {
    if bytes.len() as u64 > limits.max_bytes {
        return Err(ExtractError::TooLarge { bytes: bytes.len() as u64, limit: limits.max_bytes });
    }
    if bytes.is_empty() {
        return Err(ExtractError::Empty);
    }
    let format = sniff(&bytes, name).ok_or_else(|| ExtractError::Binary { looks_like: sniff::looks_like(&bytes) })?;
    if format.is_records() {
        return Err(ExtractError::Records { format });
    }
    let limits = limits.clone();
    let deadline = Deadline::after(limits.timeout);
    let timeout = limits.timeout;
    let doc = isolate::isolated(format, timeout, move || match format {
        Format::Text => Ok(text::extract(bytes)),
        Format::Markdown => Ok(markdown::extract(bytes)),
        Format::Html => html::extract(bytes, &limits, deadline),
        Format::Pdf => pdf::extract(&bytes, &limits),
        Format::Docx => docx::extract(&bytes, &limits, deadline),
        Format::Jsonl | Format::Csv => Err(ExtractError::Records { format }),
    })?;
    if doc.text.trim().is_empty() {
        return Err(ExtractError::NoText { format });
    }
    tracing::debug!(%format, name, bytes = doc.text.len(), headings = doc.headings.len(), pages = doc.pages.len(), "extracted");
    Ok(doc)
}
