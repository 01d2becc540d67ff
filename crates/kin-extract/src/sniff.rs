//! Which format a file is, judged by its content; the name only breaks ties.

use crate::{markdown, records, zipdir, Format};

/// How much of the start of a file the textual checks look at.
const HEAD_BYTES: usize = 4096;
/// How much of a file the control-character count samples.
const SAMPLE_BYTES: usize = 64 << 10;
/// The longest first line the JSON Lines check parses.
const MAX_FIRST_LINE: usize = 1 << 20;

/// Which format `bytes` is, judged by content; `name` (a file name) only breaks ties (md vs txt,
/// csv). `None`: not a document (binary, image, audio, an archive other than DOCX...).
pub fn sniff(bytes: &[u8], name: Option<&str>) -> Option<Format> {
    if bytes.is_empty() {
        return Some(Format::Text);
    }
    if memchr::memmem::find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_some() {
        return Some(Format::Pdf);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return zipdir::has_entry(bytes, "word/document.xml").then_some(Format::Docx);
    }
    if magic(bytes).is_some() {
        return None;
    }
    let utf16 = bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF");
    if !utf16 && is_binary(bytes) {
        return None;
    }
    let head = head_text(bytes);
    let ext = extension(name);
    let ext = ext.as_deref();
    if matches!(ext, Some("html" | "htm" | "xhtml" | "shtml")) || looks_like_html(&head) {
        return Some(Format::Html);
    }
    if !utf16 {
        match ext {
            Some("csv" | "tsv") if records::csv_header_ok(first_line(bytes)) => return Some(Format::Csv),
            Some("csv" | "tsv") => return Some(Format::Text),
            _ if first_line_is_json_object(bytes) => return Some(Format::Jsonl),
            _ => {}
        }
    }
    match ext {
        Some("md" | "markdown" | "mdown" | "mkd" | "mkdn") => Some(Format::Markdown),
        Some("txt" | "text") => Some(Format::Text),
        _ if markdown::looks_like_markdown(&head) => Some(Format::Markdown),
        _ => Some(Format::Text),
    }
}

/// What a file that [`sniff`] refuses looks like, for the error message.
pub(crate) fn looks_like(bytes: &[u8]) -> &'static str {
    if bytes.starts_with(b"PK\x03\x04") {
        return zip_kind(bytes);
    }
    if bytes.starts_with(OLE) && memchr::memmem::find(bytes, ENCRYPTED_PACKAGE).is_some() {
        return "a password-protected Office document";
    }
    magic(bytes).unwrap_or("binary data")
}

/// The compound-file header of legacy Office files, and of password-protected new ones.
const OLE: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
/// The stream name (UTF-16LE) an encrypted DOCX/XLSX keeps its zip in.
const ENCRYPTED_PACKAGE: &[u8] = b"E\0n\0c\0r\0y\0p\0t\0e\0d\0P\0a\0c\0k\0a\0g\0e\0";

fn zip_kind(bytes: &[u8]) -> &'static str {
    if zipdir::has_entry(bytes, "xl/workbook.xml") {
        "an XLSX spreadsheet"
    } else if zipdir::has_entry(bytes, "ppt/presentation.xml") {
        "a PPTX presentation"
    } else if memchr::memmem::find(&bytes[..bytes.len().min(256)], b"application/epub+zip").is_some() {
        "an EPUB book"
    } else if memchr::memmem::find(&bytes[..bytes.len().min(256)], b"application/vnd.oasis.opendocument").is_some() {
        "an OpenDocument file"
    } else {
        "a ZIP archive"
    }
}

/// Known binary formats by their leading bytes.
fn magic(bytes: &[u8]) -> Option<&'static str> {
    const PREFIXES: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"II*\x00", "a TIFF image"),
        (b"MM\x00*", "a TIFF image"),
        (b"ID3", "MP3 audio"),
        (b"fLaC", "FLAC audio"),
        (b"OggS", "Ogg audio"),
        (b"\x1A\x45\xDF\xA3", "Matroska/WebM video"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"\xFD7zXZ\x00", "an xz archive"),
        (b"\x28\xB5\x2F\xFD", "a zstd archive"),
        (b"7z\xBC\xAF\x27\x1C", "a 7z archive"),
        (b"Rar!\x1A\x07", "a RAR archive"),
        (b"\x7FELF", "an ELF executable"),
        (b"SQLite format 3\x00", "an SQLite database"),
        (OLE, "a legacy Office document (DOC/XLS/PPT)"),
    ];
    if let Some((_, what)) = PREFIXES.iter().find(|(prefix, _)| bytes.starts_with(prefix)) {
        return Some(what);
    }
    if bytes.len() >= 12 && bytes.starts_with(b"RIFF") {
        return Some(match &bytes[8..12] {
            b"WEBP" => "a WebP image",
            b"WAVE" => "WAV audio",
            b"AVI " => "AVI video",
            _ => "a RIFF media file",
        });
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Some(match &bytes[8..12] {
            b"heic" | b"heix" | b"mif1" | b"avif" => "a HEIF/AVIF image",
            _ => "MP4/QuickTime media",
        });
    }
    if bytes.len() >= 2 && bytes[0] == 0xFF && matches!(bytes[1], 0xFB | 0xF3 | 0xF2) {
        return Some("MP3 audio");
    }
    None
}

/// Binary rather than text: a NUL byte anywhere, or more than 2% control characters (other
/// than tab, line ends, form feed and escape) in the first 64 KiB.
pub(crate) fn is_binary(bytes: &[u8]) -> bool {
    if memchr::memchr(0, bytes).is_some() {
        return true;
    }
    let sample = &bytes[..bytes.len().min(SAMPLE_BYTES)];
    let controls = sample
        .iter()
        .filter(|&&b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B)) || b == 0x7F)
        .count();
    controls * 50 > sample.len()
}

/// The first few KiB as text, BOM and all decoding done, for the textual checks.
fn head_text(bytes: &[u8]) -> String {
    let end = bytes.len().min(HEAD_BYTES);
    // An even cut keeps UTF-16 whole; a cut UTF-8 character only costs a replacement mark.
    crate::text::decode_text(bytes[..end - end % 2].to_vec()).0
}

fn looks_like_html(head: &str) -> bool {
    let start = head.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{FEFF}');
    if !start.starts_with('<') {
        return false;
    }
    let lower = start.get(..start.len().min(1024)).unwrap_or(start).to_ascii_lowercase();
    if ["<!doctype html", "<html", "<head", "<body"].iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    // An XML declaration or a comment first (XHTML, generated pages), then the html element.
    (lower.starts_with("<?xml") || lower.starts_with("<!--")) && lower.contains("<html")
}

fn first_line(bytes: &[u8]) -> &[u8] {
    let start = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let line = memchr::memchr(b'\n', start).map_or(start, |end| &start[..end]);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn first_line_is_json_object(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Some(line) = bytes.split(|&b| b == b'\n').take(64).map(|line| line.trim_ascii()).find(|line| !line.is_empty())
    else {
        return false;
    };
    if !line.starts_with(b"{") {
        return false;
    }
    if line.len() > MAX_FIRST_LINE {
        return true;
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

/// The file name's extension, lowercased.
fn extension(name: Option<&str>) -> Option<String> {
    let file = name?.rsplit(['/', '\\']).next()?;
    let (stem, ext) = file.rsplit_once('.')?;
    (!stem.is_empty()).then(|| ext.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_by_their_content() {
        assert_eq!(sniff(b"%PDF-1.7\n...", Some("scan.bin")), Some(Format::Pdf));
        assert_eq!(sniff(b"  \n<!DOCTYPE html><p>x", None), Some(Format::Html));
        assert_eq!(sniff(b"\xEF\xBB\xBF<HTML><body>x", Some("page.txt")), Some(Format::Html));
        assert_eq!(sniff(b"<?xml version=\"1.0\"?>\n<html xmlns=\"x\">", None), Some(Format::Html));
        assert_eq!(sniff(b"<p>fragment</p>", Some("frag.htm")), Some(Format::Html));
        assert_eq!(sniff(b"<p>fragment</p>", None), Some(Format::Text));
        assert_eq!(sniff(b"just words\n", None), Some(Format::Text));
        assert_eq!(sniff(b"", Some("empty.txt")), Some(Format::Text));
    }

    #[test]
    fn utf16_html_is_html() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "<html><body>hi</body></html>".encode_utf16() {
            bytes.extend(unit.to_le_bytes());
        }
        assert_eq!(sniff(&bytes, None), Some(Format::Html));
    }

    #[test]
    fn name_breaks_markdown_ties() {
        let md = b"Intro\n\nSome words.\n";
        assert_eq!(sniff(md, Some("notes.md")), Some(Format::Markdown));
        assert_eq!(sniff(md, Some("notes.MARKDOWN")), Some(Format::Markdown));
        assert_eq!(sniff(md, None), Some(Format::Text));
        let clear = b"# Title\n\nWords.\n\n## Part\n\nMore.\n";
        assert_eq!(sniff(clear, None), Some(Format::Markdown));
        assert_eq!(sniff(clear, Some("notes.txt")), Some(Format::Text));
    }

    #[test]
    fn records_by_first_line_and_header() {
        let jsonl = b"\n{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d2\", \"text\": \"b\"}\n";
        assert_eq!(sniff(jsonl, None), Some(Format::Jsonl));
        assert_eq!(sniff(jsonl, Some("corpus.jsonl")), Some(Format::Jsonl));
        assert_eq!(sniff(b"{\n  \"pretty\": true\n}\n", Some("x.json")), Some(Format::Text));
        assert_eq!(sniff(b"_id,title,text\nd1,T,hello\n", Some("c.csv")), Some(Format::Csv));
        assert_eq!(sniff(b"id\ttext\nd1\thello\n", Some("c.tsv")), Some(Format::Csv));
        assert_eq!(sniff(b"a,b\n1,2\n", Some("numbers.csv")), Some(Format::Text));
        assert_eq!(sniff(b"_id,text\nd1,hello\n", None), Some(Format::Text));
    }

    #[test]
    fn binary_is_not_a_document() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some("image.txt")), None);
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt ", None), None);
        assert_eq!(sniff(b"text with a \0 NUL", Some("a.txt")), None);
        let controls: Vec<u8> = (1u8..32).cycle().take(400).collect();
        assert_eq!(sniff(&controls, Some("a.txt")), None);
        assert_eq!(looks_like(b"\x89PNG\r\n\x1a\n"), "a PNG image");
        assert_eq!(looks_like(b"\x01\x02\x03"), "binary data");
        let mut encrypted = OLE.to_vec();
        encrypted.extend([0; 64]);
        encrypted.extend(ENCRYPTED_PACKAGE);
        assert_eq!(looks_like(&encrypted), "a password-protected Office document");
        assert_eq!(looks_like(OLE), "a legacy Office document (DOC/XLS/PPT)");
        // A few stray control characters in real text are fine.
        let mut text = "word ".repeat(200).into_bytes();
        text.push(0x07);
        assert_eq!(sniff(&text, None), Some(Format::Text));
    }

    #[test]
    fn extensions() {
        assert_eq!(extension(Some("dir.v2/Notes.MD")).as_deref(), Some("md"));
        assert_eq!(extension(Some(".bashrc")), None);
        assert_eq!(extension(Some("README")), None);
        assert_eq!(extension(None), None);
    }
}
