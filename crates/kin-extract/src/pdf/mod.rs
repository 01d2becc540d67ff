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
        other => ExtractError::corrupt(Format::Pdf, other),
    }
}

fn trailer_names_encrypt(bytes: &[u8]) -> bool {
    memchr::memmem::rfind(bytes, b"trailer")
        .or_else(|| memchr::memmem::rfind(bytes, b"/XRef"))
        .is_some_and(|at| memchr::memmem::find(&bytes[at..], b"/Encrypt").is_some())
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
