//! DOCX: a zip whose `word/document.xml` holds the body. Entries are read through a bound on
//! unpacked bytes (declared sizes are not trusted), and the entry count is checked from the
//! raw central directory before the zip reader allocates for it.

mod body;
mod styles;
mod xml;

use std::io::{Cursor, Read};

use zip::result::ZipError;
use zip::ZipArchive;

use self::styles::Styles;
use crate::limits::Deadline;
use crate::zipdir::CentralDirectory;
use crate::{Document, ExtractError, Format, Limits, Result};

/// More entries than this and the file is not read (a DOCX has a few dozen).
pub const MAX_ENTRIES: u64 = 10_000;

pub(crate) fn extract(bytes: &[u8], limits: &Limits, deadline: Deadline) -> Result<Document> {
    let declared = CentralDirectory::find(bytes).and_then(|dir| dir.entries);
    if let Some(entries) = declared.filter(|n| *n > MAX_ENTRIES) {
        return Err(ExtractError::TooManyEntries { entries, limit: MAX_ENTRIES });
    }
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| ExtractError::corrupt(Format::Docx, e))?;
    if archive.len() as u64 > MAX_ENTRIES {
        return Err(ExtractError::TooManyEntries { entries: archive.len() as u64, limit: MAX_ENTRIES });
    }
    let mut budget = Budget { left: limits.max_unpacked, limit: limits.max_unpacked };
    let document = budget
        .read(&mut archive, "word/document.xml")?
        .ok_or_else(|| ExtractError::corrupt(Format::Docx, "it has no word/document.xml"))?;
    let styles = budget.read(&mut archive, "word/styles.xml")?.map(|xml| Styles::parse(&xml)).unwrap_or_default();
    let core_title = budget.read(&mut archive, "docProps/core.xml")?.and_then(|xml| styles::core_title(&xml));
    let body = body::parse(&document, &styles, limits.max_depth, deadline)?;
    let title =
        body.title.or(core_title).or_else(|| body.headings.iter().find(|h| h.level == 1).map(|h| h.title.clone()));
    Ok(Document { text: body.text, format: Some(Format::Docx), title, headings: body.headings, ..Default::default() })
}

/// What is left of `Limits::max_unpacked` for the entries still to read.
struct Budget {
    left: u64,
    limit: u64,
}

impl Budget {
    /// Entry `name` as text (`None` when absent), refused once the unpacked bytes pass the
    /// budget: the entry is read through `take(left + 1)`, never sized from its header.
    fn read(&mut self, archive: &mut ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Option<String>> {
        let entry = match archive.by_name(name) {
            Ok(entry) => entry,
            Err(ZipError::FileNotFound) => return Ok(None),
            Err(e) => return Err(ExtractError::corrupt(Format::Docx, format!("{name}: {e}"))),
        };
        let mut bytes = Vec::new();
        entry
            .take(self.left.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| ExtractError::corrupt(Format::Docx, format!("{name}: {e}")))?;
        if bytes.len() as u64 > self.left {
            return Err(ExtractError::ZipBomb { format: Format::Docx, entry: name.into(), limit: self.limit });
        }
        self.left -= bytes.len() as u64;
        Ok(Some(crate::text::decode_text(bytes).0))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testdata;

    fn read(bytes: &[u8], limits: &Limits) -> Result<Document> {
        extract(bytes, limits, Deadline::after(Duration::from_secs(60)))
    }

    #[test]
    fn paragraphs_headings_and_title_round_trip() {
        let paragraphs = [
            (Some("Heading1"), "Introduction"),
            (None, "First paragraph, with a tab\there."),
            (Some("Heading2"), "Details & More"),
            (None, "Line one\nline two"),
        ];
        let doc = read(&testdata::docx(&paragraphs, Some("Core Title")), &Limits::default()).expect("docx");
        assert_eq!(doc.format, Some(Format::Docx));
        for (_, text) in paragraphs {
            assert!(doc.text.contains(text), "{text:?} in {:?}", doc.text);
        }
        assert_eq!(doc.text.matches("\n\n").count(), 3, "paragraphs are separated by blank lines");
        let headings: Vec<(&str, u8, &str)> =
            doc.headings.iter().map(|h| (&doc.text[h.start..h.end], h.level, h.title.as_str())).collect();
        assert_eq!(headings, [("Introduction", 1, "Introduction"), ("Details & More", 2, "Details & More")]);
        assert_eq!(doc.title.as_deref(), Some("Core Title"));
    }

    #[test]
    fn title_style_beats_core_properties_and_headings_stand_in() {
        let styled = testdata::docx(&[(Some("Title"), "Styled Title"), (None, "x")], Some("Core"));
        assert_eq!(read(&styled, &Limits::default()).expect("docx").title.as_deref(), Some("Styled Title"));
        let plain = testdata::docx(&[(Some("Heading1"), "First Heading"), (None, "x")], None);
        assert_eq!(read(&plain, &Limits::default()).expect("docx").title.as_deref(), Some("First Heading"));
    }

    #[test]
    fn zip_bomb_is_refused_at_the_unpacked_limit() {
        // A gigabyte of zeros deflates to about a megabyte; reading stops past 16 MiB.
        let bomb = testdata::docx_bomb(1 << 30);
        assert!(bomb.len() < 8 << 20, "the bomb is small: {} bytes", bomb.len());
        let mut archive = ZipArchive::new(Cursor::new(&bomb[..])).expect("zip");
        assert_eq!(archive.by_name("word/document.xml").expect("entry").size(), 1 << 30, "it unpacks to 1 GiB");
        let limits = Limits { max_unpacked: 16 << 20, ..Limits::default() };
        match read(&bomb, &limits) {
            Err(ExtractError::ZipBomb { format: Format::Docx, entry, limit }) => {
                assert_eq!(entry, "word/document.xml");
                assert_eq!(limit, 16 << 20);
            }
            other => panic!("expected ZipBomb, got {other:?}"),
        }
    }

    #[test]
    fn a_zip_without_a_body_is_corrupt() {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("word/other.xml", zip::write::SimpleFileOptions::default()).expect("start");
        let bytes = zip.finish().expect("finish").into_inner();
        assert!(matches!(read(&bytes, &Limits::default()), Err(ExtractError::Corrupt { format: Format::Docx, .. })));
        let garbage = b"PK\x03\x04 truncated zip".to_vec();
        assert!(matches!(read(&garbage, &Limits::default()), Err(ExtractError::Corrupt { format: Format::Docx, .. })));
    }

    #[test]
    fn too_many_entries_are_refused_before_reading() {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for i in 0..=MAX_ENTRIES {
            zip.start_file(format!("f{i}"), options).expect("start");
        }
        let bytes = zip.finish().expect("finish").into_inner();
        match read(&bytes, &Limits::default()) {
            Err(ExtractError::TooManyEntries { entries, limit }) => {
                assert_eq!((entries, limit), (MAX_ENTRIES + 1, MAX_ENTRIES))
            }
            other => panic!("expected TooManyEntries, got {other:?}"),
        }
    }
}
