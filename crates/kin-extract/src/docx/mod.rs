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
    let title = body
        .title
        .or(core_title)
        .or_else(|| body.headings.iter().find(|h| h.level == 1).map(|h| h.title.clone()));
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
