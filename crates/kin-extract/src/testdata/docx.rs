//! Minimal DOCX files: the parts Word needs, paragraphs with optional styles.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const CONTENT_TYPES: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>"#;

const RELS: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"#;

/// A DOCX with one paragraph per pair: its style id (`Some("Heading1")`, `Some("Title")`, or
/// `None` for body text) and its text, where `\t` becomes a tab and `\n` a line break. `title`
/// goes into `docProps/core.xml`.
pub fn docx(paragraphs: &[(Option<&str>, &str)], title: Option<&str>) -> Vec<u8> {
    let mut body = String::new();
    for (style, text) in paragraphs {
        body.push_str("<w:p>");
        if let Some(style) = style {
            body.push_str(&format!(r#"<w:pPr><w:pStyle w:val="{}"/></w:pPr>"#, escape(style)));
        }
        body.push_str("<w:r>");
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                body.push_str("<w:br/>");
            }
            for (j, piece) in line.split('\t').enumerate() {
                if j > 0 {
                    body.push_str("<w:tab/>");
                }
                if !piece.is_empty() {
                    body.push_str(&format!(r#"<w:t xml:space="preserve">{}</w:t>"#, escape(piece)));
                }
            }
        }
        body.push_str("</w:r></w:p>");
    }
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}<w:sectPr/></w:body></w:document>"#
    );
    let core = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>{}</dc:title></cp:coreProperties>"#,
        escape(title.unwrap_or(""))
    );
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for (name, content) in [
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", RELS),
        ("word/document.xml", document.as_str()),
        ("docProps/core.xml", core.as_str()),
    ] {
        add(&mut zip, name, content.as_bytes(), options);
    }
    finish(zip)
}

/// A DOCX whose `word/document.xml` unpacks to `unpacked` zero bytes (a gigabyte deflates to
/// about a megabyte), streamed into the zip, never held in memory.
pub fn docx_bomb(unpacked: u64) -> Vec<u8> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(unpacked >= u64::from(u32::MAX));
    add(&mut zip, "[Content_Types].xml", CONTENT_TYPES.as_bytes(), options);
    if zip.start_file("word/document.xml", options).is_err() {
        return Vec::new();
    }
    let zeros = vec![0u8; 1 << 20];
    let mut left = unpacked;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        if zip.write_all(&zeros[..n]).is_err() {
            return Vec::new();
        }
        left -= n as u64;
    }
    finish(zip)
}

fn add(zip: &mut ZipWriter<Cursor<Vec<u8>>>, name: &str, content: &[u8], options: SimpleFileOptions) {
    // Writing to memory fails only on a bug here; an empty result makes the test say so.
    if zip.start_file(name, options).is_ok() {
        let _ = zip.write_all(content);
    }
}

fn finish(zip: ZipWriter<Cursor<Vec<u8>>>) -> Vec<u8> {
    zip.finish().map(Cursor::into_inner).unwrap_or_default()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn parts_are_in_the_zip() {
        let bytes = docx(&[(Some("Heading1"), "A & B"), (None, "x\ty")], Some("T"));
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
        let mut xml = String::new();
        archive.by_name("word/document.xml").expect("document").read_to_string(&mut xml).expect("read");
        assert!(xml.contains(r#"<w:pStyle w:val="Heading1"/>"#));
        assert!(xml.contains("A &amp; B"));
        assert!(xml.contains("<w:tab/>"));
    }
}
