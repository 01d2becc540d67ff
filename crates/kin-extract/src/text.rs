//! Plain text: the bytes decoded, nothing else changed (line ends and all stay as they are, so
//! spans index what the user wrote, less a byte order mark).

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, WINDOWS_1252};

use crate::{Document, Format};

/// How the bytes of a text file were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    /// UTF-8 after a byte order mark, which was dropped.
    Utf8Bom,
    Utf16Le,
    Utf16Be,
    /// The fallback for bytes that are not UTF-8 and carry no BOM.
    Windows1252,
    /// An encoding the document declared (an HTML `<meta charset>`), by its WHATWG name.
    Declared(&'static str),
}

/// Text from bytes: a UTF-8 or UTF-16 byte order mark decides (and is dropped); else valid UTF-8
/// is taken as is; else the bytes are read as Windows-1252, the usual legacy encoding, which maps
/// every byte to a character. Malformed sequences after a BOM become U+FFFD.
pub fn decode_text(bytes: Vec<u8>) -> (String, TextEncoding) {
    decode_with_fallback(bytes, WINDOWS_1252)
}

/// [`decode_text`] with another encoding than Windows-1252 for bytes that are not UTF-8.
pub(crate) fn decode_with_fallback(bytes: Vec<u8>, fallback: &'static Encoding) -> (String, TextEncoding) {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return (String::from_utf8_lossy(rest).into_owned(), TextEncoding::Utf8Bom);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return (UTF_16LE.decode_without_bom_handling(rest).0.into_owned(), TextEncoding::Utf16Le);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return (UTF_16BE.decode_without_bom_handling(rest).0.into_owned(), TextEncoding::Utf16Be);
    }
    match String::from_utf8(bytes) {
        Ok(text) => (text, TextEncoding::Utf8),
        Err(err) => {
            let bytes = err.into_bytes();
            let text = fallback.decode_without_bom_handling(&bytes).0.into_owned();
            let used = if fallback == WINDOWS_1252 {
                TextEncoding::Windows1252
            } else {
                TextEncoding::Declared(fallback.name())
            };
            tracing::debug!(
                encoding = fallback.name(),
                "not valid UTF-8 and no byte order mark; decoded as a legacy encoding"
            );
            (text, used)
        }
    }
}

/// A plain text document: the decoded text, untouched.
pub(crate) fn extract(bytes: Vec<u8>) -> Document {
    let (text, _) = decode_text(bytes);
    Document { text, format: Some(Format::Text), ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_stays_as_is_line_ends_included() {
        let (text, enc) = decode_text(b"caf\xC3\xA9\r\nna\xC3\xAFve\n".to_vec());
        assert_eq!(text, "café\r\nnaïve\n");
        assert_eq!(enc, TextEncoding::Utf8);
    }

    #[test]
    fn utf8_bom_is_dropped() {
        let (text, enc) = decode_text(b"\xEF\xBB\xBFhello".to_vec());
        assert_eq!(text, "hello");
        assert_eq!(enc, TextEncoding::Utf8Bom);
    }

    #[test]
    fn utf16_with_bom_both_orders() {
        let words = "Grüße, 世界";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in words.encode_utf16() {
            le.extend(unit.to_le_bytes());
            be.extend(unit.to_be_bytes());
        }
        assert_eq!(decode_text(le), (words.to_string(), TextEncoding::Utf16Le));
        assert_eq!(decode_text(be), (words.to_string(), TextEncoding::Utf16Be));
    }

    #[test]
    fn invalid_utf8_falls_back_to_windows_1252() {
        // 0xE9 is é and 0x93/0x94 are curly quotes in Windows-1252; none is valid UTF-8 here.
        let (text, enc) = decode_text(b"caf\xE9 \x93quoted\x94".to_vec());
        assert_eq!(enc, TextEncoding::Windows1252);
        assert_eq!(text, "café \u{201C}quoted\u{201D}");
    }

    #[test]
    fn declared_fallback_is_named() {
        let (text, enc) = decode_with_fallback(b"\xE0\xA4".to_vec(), encoding_rs::ISO_8859_5);
        assert_eq!(enc, TextEncoding::Declared("ISO-8859-5"));
        assert_eq!(text.chars().count(), 2);
    }
}
