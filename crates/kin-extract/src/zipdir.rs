//! A ZIP file's central directory read from the raw bytes, without trusting or allocating for
//! what it declares: enough to tell a DOCX from another zip and to count entries before the
//! `zip` crate reads (and allocates for) all of them.

const EOCD_SIGNATURE: &[u8] = b"PK\x05\x06";
const ENTRY_SIGNATURE: &[u8] = b"PK\x01\x02";
const EOCD_LEN: usize = 22;
const ENTRY_LEN: usize = 46;

/// The end-of-central-directory record: how many entries, and where the directory lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CentralDirectory {
    /// `None` when the count is in a ZIP64 record (the 16-bit field is saturated).
    pub entries: Option<u64>,
    offset: usize,
    size: usize,
}

impl CentralDirectory {
    /// The last end-of-central-directory record (it lies within 64 KiB of the end).
    pub(crate) fn find(bytes: &[u8]) -> Option<Self> {
        let search_from = bytes.len().saturating_sub(EOCD_LEN + u16::MAX as usize);
        let tail = &bytes[search_from..];
        let at = search_from + memchr::memmem::rfind(tail, EOCD_SIGNATURE)?;
        let record = bytes.get(at..at + EOCD_LEN)?;
        let entries = u16_at(record, 10)?;
        let size = u32_at(record, 12)?;
        let offset = u32_at(record, 16)?;
        Some(CentralDirectory {
            entries: (entries != u16::MAX).then_some(u64::from(entries)),
            offset: offset as usize,
            size: size as usize,
        })
    }

    /// The entry names, read in order until the directory ends or stops making sense.
    pub(crate) fn names<'a>(&self, bytes: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let dir = self.offset.checked_add(self.size).and_then(|end| bytes.get(self.offset..end)).unwrap_or(&[]);
        let mut pos = 0usize;
        std::iter::from_fn(move || {
            let header = dir.get(pos..pos + ENTRY_LEN)?;
            if &header[..4] != ENTRY_SIGNATURE {
                return None;
            }
            let name_len = usize::from(u16_at(header, 28)?);
            let extra_len = usize::from(u16_at(header, 30)?);
            let comment_len = usize::from(u16_at(header, 32)?);
            let name = dir.get(pos + ENTRY_LEN..pos + ENTRY_LEN + name_len)?;
            pos += ENTRY_LEN + name_len + extra_len + comment_len;
            Some(name)
        })
    }
}

/// Whether the zip in `bytes` has an entry called `name`. Without a readable directory (a
/// ZIP64 or damaged file) the name anywhere in the bytes will do: this only sniffs.
pub(crate) fn has_entry(bytes: &[u8], name: &str) -> bool {
    let name = name.as_bytes();
    match CentralDirectory::find(bytes) {
        Some(dir) if dir.names(bytes).next().is_some() => dir.names(bytes).any(|n| n == name),
        _ => memchr::memmem::find(bytes, name).is_some(),
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(names: &[&str]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for name in names {
            writer.start_file(*name, zip::write::SimpleFileOptions::default()).expect("start");
            writer.write_all(b"<x/>").expect("write");
        }
        writer.finish().expect("finish").into_inner()
    }

    #[test]
    fn reads_names_and_count() {
        let bytes = zip_of(&["[Content_Types].xml", "word/document.xml", "docProps/core.xml"]);
        let dir = CentralDirectory::find(&bytes).expect("directory");
        assert_eq!(dir.entries, Some(3));
        let names: Vec<&[u8]> = dir.names(&bytes).collect();
        assert_eq!(names, [&b"[Content_Types].xml"[..], b"word/document.xml", b"docProps/core.xml"]);
        assert!(has_entry(&bytes, "word/document.xml"));
        assert!(!has_entry(&bytes, "word/styles.xml"));
    }

    #[test]
    fn a_plain_zip_has_no_document() {
        let bytes = zip_of(&["notes.txt"]);
        assert!(!has_entry(&bytes, "word/document.xml"));
    }

    #[test]
    fn garbage_reads_as_nothing() {
        assert_eq!(CentralDirectory::find(b"PK\x03\x04 not really"), None);
        let mut bytes = b"PK\x05\x06".to_vec();
        bytes.extend([0xFF; 18]);
        let dir = CentralDirectory::find(&bytes).expect("record");
        assert_eq!(dir.entries, None);
        assert_eq!(dir.names(&bytes).count(), 0);
    }
}
