//! `word/document.xml`, streamed: paragraphs (`w:p`) joined by blank lines, runs' text (`w:t`)
//! concatenated, `w:tab` a tab, `w:br` a line break; headings and the title from paragraph
//! styles.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::styles::{Role, Styles};
use super::xml::{attr, reference};
use crate::limits::Deadline;
use crate::{ExtractError, Format, Heading, Result};

/// Events between two looks at the clock.
const EVENTS_PER_CHECK: u32 = 4096;

/// What the body yields.
#[derive(Debug, Default)]
pub(super) struct Body {
    pub text: String,
    pub headings: Vec<Heading>,
    /// The first paragraph styled "Title".
    pub title: Option<String>,
}

/// A paragraph being read.
#[derive(Debug, Default)]
struct Paragraph {
    text: String,
    style: Option<String>,
    /// From a direct `w:outlineLvl` (0-based in the file, 1-based here).
    outline: Option<u8>,
}

pub(super) fn parse(xml: &str, styles: &Styles, max_depth: usize, deadline: Deadline) -> Result<Body> {
    let mut reader = Reader::from_str(xml);
    let mut body = Body::default();
    // Open paragraphs: a text box puts paragraphs inside a paragraph.
    let mut open: Vec<Paragraph> = Vec::new();
    let mut depth = 0usize;
    let mut in_text = false;
    let mut in_properties = false;
    // Inside `mc:Fallback`, which repeats its `mc:Choice` for older readers.
    let mut fallback = 0u32;
    let mut events = 0u32;
    loop {
        events += 1;
        if events.is_multiple_of(EVENTS_PER_CHECK) {
            deadline.check()?;
        }
        let event = reader.read_event().map_err(|e| {
            ExtractError::corrupt(Format::Docx, format!("word/document.xml at byte {}: {e}", reader.error_position()))
        })?;
        match event {
            Event::Start(e) => {
                depth += 1;
                if depth > max_depth {
                    return Err(ExtractError::TooDeep { format: Format::Docx, limit: max_depth });
                }
                match e.name().as_ref() {
                    "w:p" => open.push(Paragraph::default()),
                    "w:pPr" => in_properties = true,
                    "w:t" => in_text = fallback == 0,
                    "mc:Fallback" => fallback += 1,
                    _ => properties(&e, in_properties, open.last_mut()),
                }
            }
            Event::Empty(e) => {
                let Some(paragraph) = open.last_mut() else { continue };
                if fallback > 0 {
                    continue;
                }
                match e.name().as_ref() {
                    "w:tab" if !in_properties => paragraph.text.push('\t'),
                    "w:br" | "w:cr" => paragraph.text.push('\n'),
                    "w:noBreakHyphen" => paragraph.text.push('-'),
                    _ => properties(&e, in_properties, Some(paragraph)),
                }
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                match e.name().as_ref() {
                    "w:p" => {
                        if let Some(paragraph) = open.pop() {
                            finish(&mut body, paragraph, styles);
                        }
                    }
                    "w:pPr" => in_properties = false,
                    "w:t" => in_text = false,
                    "mc:Fallback" => fallback = fallback.saturating_sub(1),
                    _ => {}
                }
            }
            Event::Text(t) if in_text => {
                if let Some(paragraph) = open.last_mut() {
                    paragraph.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) if in_text => {
                if let Some(paragraph) = open.last_mut() {
                    paragraph.text.extend(reference(&r));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(body)
}

/// Paragraph properties that matter: the style and a direct outline level.
fn properties(e: &BytesStart<'_>, in_properties: bool, paragraph: Option<&mut Paragraph>) {
    let Some(paragraph) = paragraph.filter(|_| in_properties) else { return };
    match e.name().as_ref() {
        "w:pStyle" => paragraph.style = attr(e, "w:val"),
        "w:outlineLvl" => {
            paragraph.outline = attr(e, "w:val").and_then(|v| v.parse::<u8>().ok()).filter(|l| *l < 9).map(|l| l + 1);
        }
        _ => {}
    }
}

/// Appends a finished paragraph (if it has words), recording it as a heading or the title.
fn finish(body: &mut Body, paragraph: Paragraph, styles: &Styles) {
    let words = paragraph.text.trim();
    if words.is_empty() {
        return;
    }
    if !body.text.is_empty() {
        body.text.push_str("\n\n");
    }
    let start = body.text.len() + (paragraph.text.len() - paragraph.text.trim_start().len());
    body.text.push_str(&paragraph.text);
    let role = paragraph.style.as_deref().and_then(|s| styles.role(s));
    match (role, paragraph.outline) {
        (Some(Role::Title), _) => {
            body.title.get_or_insert_with(|| words.to_string());
        }
        (Some(Role::Heading(level)), _) | (None, Some(level)) => {
            body.headings.push(Heading { start, end: start + words.len(), level, title: words.to_string() });
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn run(paragraphs: &str) -> Result<Body> {
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="w" xmlns:mc="mc"><w:body>{paragraphs}</w:body></w:document>"#
        );
        parse(&xml, &Styles::default(), 512, Deadline::after(Duration::from_secs(60)))
    }

    #[test]
    fn runs_tabs_and_breaks() {
        let body = run(concat!(
            r#"<w:p><w:r><w:t xml:space="preserve">Hello, </w:t></w:r><w:r><w:t>world</w:t><w:tab/><w:t>x</w:t><w:br/><w:t>y &amp; z</w:t></w:r></w:p>"#,
            r#"<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr><w:r><w:t>Second</w:t></w:r></w:p>"#,
            r#"<w:p></w:p>"#,
        ))
        .expect("parse");
        assert_eq!(body.text, "Hello, world\tx\ny & z\n\nSecond");
    }

    #[test]
    fn headings_and_title_from_styles() {
        let body = run(concat!(
            r#"<w:p><w:pPr><w:pStyle w:val="Title"/></w:pPr><w:r><w:t>The Report</w:t></w:r></w:p>"#,
            r#"<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Intro</w:t></w:r></w:p>"#,
            r#"<w:p><w:r><w:t>Body text.</w:t></w:r></w:p>"#,
            r#"<w:p><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t> Detail </w:t></w:r></w:p>"#,
        ))
        .expect("parse");
        assert_eq!(body.title.as_deref(), Some("The Report"));
        let got: Vec<(&str, u8)> = body.headings.iter().map(|h| (&body.text[h.start..h.end], h.level)).collect();
        assert_eq!(got, [("Intro", 1), ("Detail", 2)]);
    }

    #[test]
    fn fallback_content_is_not_repeated() {
        let body = run(concat!(
            r#"<w:p><w:r><mc:AlternateContent><mc:Choice><w:p><w:r><w:t>boxed</w:t></w:r></w:p></mc:Choice>"#,
            r#"<mc:Fallback><w:p><w:r><w:t>boxed</w:t></w:r></w:p></mc:Fallback></mc:AlternateContent></w:r><w:r><w:t>outer</w:t></w:r></w:p>"#,
        ))
        .expect("parse");
        assert_eq!(body.text, "boxed\n\nouter");
    }

    #[test]
    fn nesting_past_the_limit_is_refused() {
        let deep = format!("{}{}", "<w:sdt>".repeat(600), "</w:sdt>".repeat(600));
        assert!(matches!(run(&deep), Err(ExtractError::TooDeep { format: Format::Docx, limit: 512 })));
    }

    #[test]
    fn broken_xml_is_corrupt() {
        assert!(matches!(run("<w:p><w:r></w:p>"), Err(ExtractError::Corrupt { format: Format::Docx, .. })));
    }
}
