//! PDF: the text layer page by page, in the order the parser reads it (`pdf-extract` over
//! `lopdf`). Pages are joined by a blank line ("\n\n"); `Document::pages[i]` is the byte where
//! page `i + 1` starts. Encrypted files are refused unless their user password is empty; the
//! title is the Info dictionary's `/Title`.

mod guard;

use std::panic::{catch_unwind, AssertUnwindSafe};

use pdf_extract::{Document as Pdf, Object, OutputError, PlainTextOutput};

use crate::{Document, ExtractError, Format, Limits, Result};

/// Between two pages in the text.
pub const PAGE_SEPARATOR: &str = "\n\n";

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Document> {
    guard::check_unpacked(bytes, limits.max_unpacked)?;
    let mut pdf = Pdf::load_mem(bytes).map_err(|e| load_error(&e, bytes))?;
    if pdf.is_encrypted() {
        return Err(ExtractError::Encrypted);
    }
    guard::defuse(&mut pdf);
    let numbers: Vec<u32> = pdf.get_pages().into_keys().collect();
    if numbers.is_empty() {
        return Err(ExtractError::corrupt(Format::Pdf, "it has no pages"));
    }
    let mut text = String::new();
    let mut pages = Vec::with_capacity(numbers.len());
    let mut failed = Vec::new();
    for number in numbers {
        if !pages.is_empty() {
            text.push_str(PAGE_SEPARATOR);
        }
        pages.push(text.len());
        match page_text(&pdf, number) {
            Ok(page) => text.push_str(page.trim()),
            Err(message) => {
                tracing::warn!(page = number, %message, "PDF page unreadable; left empty");
                failed.push(message);
            }
        }
    }
    if text.trim().is_empty() {
        return Err(match failed.into_iter().next() {
            Some(message) => ExtractError::corrupt(Format::Pdf, format!("no page could be read ({message})")),
            None => ExtractError::NoText { format: Format::Pdf },
        });
    }
    Ok(Document { text, format: Some(Format::Pdf), title: info_title(&pdf), pages, ..Default::default() })
}

/// One page's text; a parser error or panic there costs only that page.
fn page_text(pdf: &Pdf, number: u32) -> Result<String, String> {
    let mut text = String::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut output = PlainTextOutput::new(&mut text);
        pdf_extract::output_doc_page(pdf, &mut output, number)
    }));
    match outcome {
        Ok(Ok(())) => Ok(text),
        Ok(Err(OutputError::PdfError(e))) => Err(e.to_string()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(payload) => Err(payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the parser panicked".into())),
    }
}

fn load_error(error: &pdf_extract::Error, bytes: &[u8]) -> ExtractError {
    use pdf_extract::Error;
    match error {
        Error::Decryption(_) | Error::InvalidPassword | Error::AlreadyEncrypted => ExtractError::Encrypted,
        // A trailer naming an encryption dictionary the loader could not make sense of.
        _ if trailer_names_encrypt(bytes) => ExtractError::Encrypted,
        other if !has_eof_marker(bytes) => {
            ExtractError::corrupt(Format::Pdf, format!("it is cut short (no %%EOF at its end): {other}"))
        }
        other => ExtractError::corrupt(Format::Pdf, other),
    }
}

fn trailer_names_encrypt(bytes: &[u8]) -> bool {
    memchr::memmem::rfind(bytes, b"trailer")
        .or_else(|| memchr::memmem::rfind(bytes, b"/XRef"))
        .is_some_and(|at| memchr::memmem::find(&bytes[at..], b"/Encrypt").is_some())
}

fn has_eof_marker(bytes: &[u8]) -> bool {
    memchr::memmem::find(&bytes[bytes.len().saturating_sub(1024)..], b"%%EOF").is_some()
}

/// The Info dictionary's `/Title`, when it has words.
fn info_title(pdf: &Pdf) -> Option<String> {
    let deref = |obj: &'_ Object| -> Option<Object> {
        match obj {
            Object::Reference(id) => pdf.get_object(*id).ok().cloned(),
            other => Some(other.clone()),
        }
    };
    let info = deref(pdf.trailer.get(b"Info").ok()?)?;
    let title = deref(info.as_dict().ok()?.get(b"Title").ok()?)?;
    let title = pdf_extract::decode_text_string(&title).ok()?;
    let title = title.trim();
    (!title.is_empty()).then(|| title.to_string())
}

#[cfg(test)]
mod tests {
    use pdf_extract::{Dictionary, Stream};

    use super::*;
    use crate::testdata;

    fn read(bytes: &[u8]) -> Result<Document> {
        extract(bytes, &Limits::default())
    }

    #[test]
    fn pages_round_trip_with_offsets_and_title() {
        let pages = ["Hello world, page one.\nA second line, café.", "Page two (with parentheses).", "", "Last page."];
        let doc = read(&testdata::pdf(&pages, Some("Quarterly Report"))).expect("pdf");
        assert_eq!(doc.format, Some(Format::Pdf));
        assert_eq!(doc.title.as_deref(), Some("Quarterly Report"));
        assert_eq!(doc.pages.len(), 4);
        assert_eq!(doc.pages[0], 0);
        for (i, page) in pages.iter().enumerate() {
            let end = doc.pages.get(i + 1).map_or(doc.text.len(), |next| next - PAGE_SEPARATOR.len());
            assert_eq!(&doc.text[doc.pages[i]..end], *page, "page {}", i + 1);
        }
        assert_eq!(doc.pages_of(doc.pages[1], doc.pages[1] + 4), Some((2, 2)));
    }

    #[test]
    fn no_title_without_info() {
        let doc = read(&testdata::pdf(&["words"], None)).expect("pdf");
        assert_eq!(doc.title, None);
    }

    #[test]
    fn encrypted_pdf_is_refused() {
        let bytes = testdata::encrypted_pdf(&["secret words"]);
        assert!(matches!(read(&bytes), Err(ExtractError::Encrypted)));
    }

    #[test]
    fn truncated_pdfs_are_corrupt() {
        let bytes = testdata::pdf(&["one page of text", "and another"], Some("T"));
        for tenth in 1..10 {
            let cut = &bytes[..bytes.len() * tenth / 10];
            match read(cut) {
                Err(ExtractError::Corrupt { format: Format::Pdf, message }) => {
                    assert!(message.contains("cut short"), "{tenth}/10: {message}")
                }
                other => panic!("{tenth}/10 of a PDF: expected Corrupt, got {other:?}"),
            }
        }
    }

    #[test]
    fn random_bytes_after_the_header_are_corrupt() {
        let mut state = 0x2545F4914F6CDD1Du64;
        let mut bytes = b"%PDF-1.7\n".to_vec();
        bytes.extend((0..64 << 10).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        }));
        bytes.extend(b"\n%%EOF\n");
        assert!(matches!(read(&bytes), Err(ExtractError::Corrupt { format: Format::Pdf, .. })));
    }

    #[test]
    fn no_text_layer_is_no_text() {
        let bytes = testdata::pdf(&["", ""], None);
        assert!(matches!(read(&bytes), Err(ExtractError::NoText { format: Format::Pdf })));
    }

    /// A page drawing a form that draws itself, and an image: without `guard::defuse` the
    /// first overflows the stack (aborting the process) and the second is read as operators.
    #[test]
    fn self_drawing_forms_and_images_are_defused() {
        let mut pdf = Pdf::load_mem(&testdata::pdf(&["visible text"], None)).expect("load");
        let form_id = pdf.new_object_id();
        let mut form_dict = Dictionary::new();
        form_dict.set("Type", Object::Name(b"XObject".to_vec()));
        form_dict.set("Subtype", Object::Name(b"Form".to_vec()));
        form_dict.set("BBox", Object::Array(vec![0.into(), 0.into(), 10.into(), 10.into()]));
        let mut loop_xobjects = Dictionary::new();
        loop_xobjects.set("Fx", Object::Reference(form_id));
        let mut form_resources = Dictionary::new();
        form_resources.set("XObject", Object::Dictionary(loop_xobjects.clone()));
        form_dict.set("Resources", Object::Dictionary(form_resources));
        pdf.objects.insert(form_id, Object::Stream(Stream::new(form_dict, b"/Fx Do".to_vec())));
        let mut image_dict = Dictionary::new();
        image_dict.set("Type", Object::Name(b"XObject".to_vec()));
        image_dict.set("Subtype", Object::Name(b"Image".to_vec()));
        let image_id = pdf.add_object(Stream::new(image_dict, b"Tj Tf ] ) BT garbage \xFF".to_vec()));
        let page_id = pdf.page_iter().next().expect("page");
        let content_id = (page_id.0 + 1, 0);
        let mut page_xobjects = loop_xobjects;
        page_xobjects.set("Im1", Object::Reference(image_id));
        let page = pdf.objects.get_mut(&page_id).and_then(|o| o.as_dict_mut().ok()).expect("page dict");
        let resources = page.get_mut(b"Resources").and_then(Object::as_dict_mut).expect("resources");
        resources.set("XObject", Object::Dictionary(page_xobjects));
        if let Some(Object::Stream(content)) = pdf.objects.get_mut(&content_id) {
            let mut bytes = content.content.clone();
            bytes.extend(b"\n/Im1 Do /Fx Do");
            content.set_content(bytes);
        }
        let mut bytes = Vec::new();
        pdf.save_to(&mut bytes).expect("save");
        let doc = read(&bytes).expect("pdf");
        assert_eq!(doc.text, "visible text");
    }
}
