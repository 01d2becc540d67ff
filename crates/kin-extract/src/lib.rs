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

mod document;
mod docx;
mod error;
#[cfg(test)]
mod fuzz;
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use super::*;

    fn run(bytes: &[u8], name: &str) -> Result<Document> {
        extract(bytes.to_vec(), Some(name), &Limits::default())
    }

    #[test]
    fn every_format_by_content() {
        let sections: &[(&str, &[&str])] = &[("Part", &["Words here."])];
        let pdf = run(&testdata::pdf(&["pdf words"], None), "a.bin").expect("pdf");
        assert_eq!((pdf.format, pdf.text.as_str()), (Some(Format::Pdf), "pdf words"));
        let docx = run(&testdata::docx(&[(None, "docx words")], None), "a.zip").expect("docx");
        assert_eq!((docx.format, docx.text.as_str()), (Some(Format::Docx), "docx words"));
        let html = run(testdata::html("T", sections).as_bytes(), "page").expect("html");
        assert_eq!(html.format, Some(Format::Html));
        let md = run(testdata::markdown("T", sections).as_bytes(), "notes.md").expect("md");
        assert_eq!((md.format, md.title.as_deref()), (Some(Format::Markdown), Some("T")));
        let text = run(b"plain words\r\n", "a.txt").expect("text");
        assert_eq!((text.format, text.text.as_str()), (Some(Format::Text), "plain words\r\n"));
    }

    /// Documents of about 6,000 words in each format, as the pipeline's tests write them.
    #[test]
    fn long_documents_round_trip() {
        let paragraphs: Vec<String> = (0..30).map(|i| testdata::prose(200, i)).collect();
        let refs: Vec<&str> = paragraphs.iter().map(String::as_str).collect();
        let pdf = run(&testdata::pdf(&refs, Some("Long")), "long.pdf").expect("pdf");
        assert_eq!(pdf.pages.len(), 30);
        for (i, paragraph) in refs.iter().enumerate() {
            assert!(pdf.text[pdf.pages[i]..].starts_with(paragraph), "page {}", i + 1);
        }
        let styled: Vec<(Option<&str>, &str)> = refs.iter().map(|p| (None, *p)).collect();
        let docx = run(&testdata::docx(&styled, None), "long.docx").expect("docx");
        let sections: Vec<(&str, &[&str])> = refs.chunks(3).map(|c| ("Section", c)).collect();
        let html = run(testdata::html("Long", &sections).as_bytes(), "long.html").expect("html");
        let md = run(testdata::markdown("Long", &sections).as_bytes(), "long.md").expect("md");
        for doc in [&docx, &html, &md] {
            assert!(refs.iter().all(|p| doc.text.contains(p)), "{:?}", doc.format);
        }
        assert_eq!(html.headings.len(), 11);
        assert_eq!(md.headings.len(), 11);
    }

    #[test]
    fn binary_named_txt_is_not_text() {
        let cases: &[(&[u8], &str)] = &[
            (b"abc\0def\0\0\x01", "binary data"),
            (&[0x01, 0x02, 0x03, 0x1F, 0x10, 0x11, 0x12, 0x7F, 0x05, b'a'], "binary data"),
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "a PNG image"),
            (b"\xFF\xD8\xFF\xE0\0\x10JFIF", "a JPEG image"),
        ];
        for (bytes, looks_like) in cases {
            match run(bytes, "notes.txt") {
                Err(ExtractError::Binary { looks_like: got }) => assert_eq!(got, *looks_like),
                other => panic!("{looks_like}: expected Binary, got {other:?}"),
            }
        }
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("a.txt", zip::write::SimpleFileOptions::default()).expect("start");
        let plain_zip = zip.finish().expect("finish").into_inner();
        assert!(matches!(run(&plain_zip, "notes.txt"), Err(ExtractError::Binary { looks_like: "a ZIP archive" })));
        // PDF magic with nothing behind it is a broken PDF, never text.
        assert!(matches!(run(b"%PDF-1.4 junk", "notes.txt"), Err(ExtractError::Corrupt { format: Format::Pdf, .. })));
    }

    #[test]
    fn legacy_and_utf16_text() {
        let doc = run(b"na\xEFve caf\xE9", "old.txt").expect("text");
        assert_eq!(doc.text, "naïve café", "read as Windows-1252");
        let mut utf16 = vec![0xFE, 0xFF];
        for unit in "Unicode text ✓".encode_utf16() {
            utf16.extend(unit.to_be_bytes());
        }
        assert_eq!(run(&utf16, "u.txt").expect("text").text, "Unicode text ✓");
    }

    #[test]
    fn empty_blank_large_and_record_files() {
        assert!(matches!(run(b"", "e.txt"), Err(ExtractError::Empty)));
        assert!(matches!(run(b" \n\t\n", "e.txt"), Err(ExtractError::NoText { format: Format::Text })));
        let limits = Limits { max_bytes: 10, ..Limits::default() };
        assert!(matches!(extract(vec![b'a'; 11], None, &limits), Err(ExtractError::TooLarge { bytes: 11, limit: 10 })));
        assert!(matches!(
            run(b"{\"_id\": \"1\", \"text\": \"x\"}\n", "c.jsonl"),
            Err(ExtractError::Records { format: Format::Jsonl })
        ));
        assert!(is_records(Format::Csv) && !is_records(Format::Pdf));
    }

    #[test]
    fn a_zero_timeout_times_out() {
        let page = testdata::html("T", &[("S", &[testdata::prose(50_000, 1).as_str()])]);
        let limits = Limits { timeout: Duration::ZERO, ..Limits::default() };
        assert!(matches!(extract(page.into_bytes(), None, &limits), Err(ExtractError::Timeout { .. })));
    }

    #[test]
    fn read_file_refuses_a_sparse_gigabyte_from_its_size() {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        file.as_file().set_len(1 << 30).expect("sparse file");
        match read_file(file.path(), &Limits::default()) {
            Err(ExtractError::TooLarge { bytes, limit }) => assert_eq!((bytes, limit), (1 << 30, 64 << 20)),
            other => panic!("expected TooLarge, got {:?}", other.map(|b| b.len())),
        }
        // The size in the error is the file's own, so it came from the metadata, not a read.
        file.as_file().set_len(0).expect("truncate");
        file.write_all(b"small").expect("write");
        assert_eq!(read_file(file.path(), &Limits::default()).expect("read"), b"small");
    }

    #[test]
    fn read_file_errors_name_the_path() {
        let path = Path::new("/nonexistent/kin-extract/missing.txt");
        match read_file(path, &Limits::default()) {
            Err(ExtractError::Io { path: got, .. }) => assert_eq!(got, path),
            other => panic!("expected Io, got {other:?}"),
        }
    }
}
