//! Minimal PDFs written by hand: one Helvetica text object per page, a correct xref table.

use std::fmt::Write as _;

/// A PDF with one page per string; each line of a string is one line of text on its page.
/// Characters outside Windows-1252 become `?`. `title` goes into the Info dictionary.
pub fn pdf(pages: &[&str], title: Option<&str>) -> Vec<u8> {
    write_pdf(pages, title, false)
}

/// [`pdf`] with a standard security handler in the trailer whose passwords are not empty: a
/// file that cannot be read without a password.
pub fn encrypted_pdf(pages: &[&str]) -> Vec<u8> {
    write_pdf(pages, None, true)
}

fn write_pdf(pages: &[&str], title: Option<&str>, encrypt: bool) -> Vec<u8> {
    // Objects 1..: catalog, page tree, font, then a page and its content stream per page.
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let page_id = |i: usize| 4 + 2 * i;
    let kids: String = (0..pages.len()).map(|i| format!("{} 0 R ", page_id(i))).collect();
    objects.push(b"<< /Type /Catalog /Pages 2 0 R >>".to_vec());
    objects.push(format!("<< /Type /Pages /Kids [{kids}] /Count {} >>", pages.len()).into_bytes());
    objects.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec());
    for (i, page) in pages.iter().enumerate() {
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                page_id(i) + 1
            )
            .into_bytes(),
        );
        let mut content = b"BT /F1 11 Tf 14 TL 72 740 Td\n".to_vec();
        for (n, line) in page.split('\n').enumerate() {
            if n > 0 {
                content.extend(b"T*\n");
            }
            content.push(b'(');
            content.extend(pdf_string(line));
            content.extend(b") Tj\n");
        }
        content.extend(b"ET");
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend(content);
        stream.extend(b"\nendstream");
        objects.push(stream);
    }
    let mut trailer_extra = String::new();
    if let Some(title) = title {
        let mut info = b"<< /Producer (kin testdata) /Title (".to_vec();
        info.extend(pdf_string(title));
        info.extend(b") >>");
        objects.push(info);
        let _ = write!(trailer_extra, " /Info {} 0 R", objects.len());
    }
    if encrypt {
        let o = "A1".repeat(32);
        let u = "5C".repeat(32);
        objects.push(format!("<< /Filter /Standard /V 1 /R 2 /O <{o}> /U <{u}> /P -44 >>").into_bytes());
        let _ = write!(
            trailer_extra,
            " /Encrypt {} 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]",
            objects.len()
        );
    }
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).into_bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref_at = out.len();
    let mut xref = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(xref, "{offset:010} 00000 n ");
    }
    let _ = write!(
        xref,
        "trailer\n<< /Size {} /Root 1 0 R{trailer_extra} >>\nstartxref\n{xref_at}\n%%EOF\n",
        objects.len() + 1
    );
    out.extend(xref.into_bytes());
    out
}

/// A literal string's bytes (without the parentheses): Windows-1252, with `\`, `(`, `)` and
/// bytes past ASCII escaped.
fn pdf_string(text: &str) -> Vec<u8> {
    let (encoded, _, _) = encoding_rs::WINDOWS_1252.encode(text);
    let mut out = Vec::with_capacity(encoded.len());
    for &b in encoded.iter() {
        match b {
            b'\\' | b'(' | b')' => out.extend([b'\\', b]),
            b'\r' => out.extend(b"\\r"),
            0x20..=0x7E => out.push(b),
            _ => out.extend(format!("\\{b:03o}").into_bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xref_offsets_point_at_objects() {
        let bytes = pdf(&["one", "two"], Some("T"));
        let xref = memchr::memmem::find(&bytes, b"xref\n").expect("xref");
        let table = String::from_utf8_lossy(&bytes[xref..]).into_owned();
        let offsets: Vec<usize> = table
            .lines()
            .skip(3)
            .take_while(|l| l.ends_with(" n "))
            .map(|l| l[..10].parse().expect("offset"))
            .collect();
        assert_eq!(offsets.len(), 8, "catalog, pages, font, two pages and their contents, info");
        for (i, offset) in offsets.iter().enumerate() {
            assert!(bytes[*offset..].starts_with(format!("{} 0 obj", i + 1).as_bytes()), "object {}", i + 1);
        }
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(pdf_string("a(b)\\ é"), b"a\\(b\\)\\\\ \\351".to_vec());
    }
}
