//! Markdown: the source is the text (spans index the user's own file); headings come from ATX
//! lines (`## Title`) and setext underlines (`===`, `---`) outside fenced code, the title from
//! YAML front matter or the first level-1 heading.

use crate::{Document, Format, Heading};

/// A line of the source: where its content starts and ends (line break excluded).
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    start: usize,
    content: &'a str,
}

impl Line<'_> {
    fn end(&self) -> usize {
        self.start + self.content.len()
    }
}

fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let mut start = 0;
    text.split_inclusive('\n').map(move |raw| {
        let line = Line { start, content: raw.trim_end_matches('\n').trim_end_matches('\r') };
        start += raw.len();
        line
    })
}

/// A Markdown document from its (decoded) source.
pub(crate) fn extract(bytes: Vec<u8>) -> Document {
    let (text, _) = crate::text::decode_text(bytes);
    let (front_title, body_from) = front_matter(&text);
    let headings = headings(&text, body_from);
    let title = front_title.or_else(|| headings.iter().find(|h| h.level == 1).map(|h| h.title.clone()));
    Document { text, format: Some(Format::Markdown), title, headings, ..Default::default() }
}

/// The `title:` of a YAML front matter block, and the byte where the body after it starts.
fn front_matter(text: &str) -> (Option<String>, usize) {
    let mut all = lines(text);
    if all.next().is_none_or(|first| first.content != "---") {
        return (None, 0);
    }
    let mut title = None;
    for line in all {
        if line.content == "---" || line.content == "..." {
            let body = text[line.end()..].find('\n').map_or(text.len(), |nl| line.end() + nl + 1);
            return (title, body);
        }
        if let Some(value) = line.content.strip_prefix("title:") {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            title = (!unquoted.is_empty()).then(|| unquoted.to_string());
        }
    }
    // No closing line: it was a thematic break, not front matter.
    (None, 0)
}

/// An opened code fence: its character and length.
type Fence = (char, usize);

/// What a line is, as far as headings care.
#[derive(Debug, PartialEq)]
enum Kind {
    Blank,
    Fence(Fence),
    Atx(u8, String),
    /// A setext underline: `=` gives level 1, `-` level 2.
    Underline(u8),
    /// A line that can be the text of a setext heading.
    Paragraph,
    /// Anything else (list item, quote, indented code).
    Other,
}

fn classify(line: &str) -> Kind {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let rest = line.trim_start_matches(' ');
    if rest.trim().is_empty() {
        return Kind::Blank;
    }
    if indent > 3 {
        return Kind::Other;
    }
    for fence in ['`', '~'] {
        let run = rest.len() - rest.trim_start_matches(fence).len();
        if run >= 3 && !(fence == '`' && rest[run..].contains('`')) {
            return Kind::Fence((fence, run));
        }
    }
    let hashes = rest.len() - rest.trim_start_matches('#').len();
    if (1..=6).contains(&hashes) {
        let after = &rest[hashes..];
        if after.is_empty() || after.starts_with([' ', '\t']) {
            return Kind::Atx(hashes as u8, atx_title(after));
        }
    }
    let trimmed = rest.trim_end();
    if trimmed.chars().all(|c| c == '=') {
        return Kind::Underline(1);
    }
    if trimmed.len() >= 2 && trimmed.chars().all(|c| c == '-') {
        return Kind::Underline(2);
    }
    let list_item = ["- ", "* ", "+ "].iter().any(|m| rest.starts_with(m))
        || rest.split_once(['.', ')']).is_some_and(|(n, after)| {
            !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit()) && after.starts_with(' ')
        });
    if list_item || rest.starts_with('>') || rest.starts_with('|') {
        Kind::Other
    } else {
        Kind::Paragraph
    }
}

/// An ATX heading's words: the closing `#` run (after a space) and the padding dropped.
fn atx_title(after_hashes: &str) -> String {
    let words = after_hashes.trim();
    let without_closing = words.trim_end_matches('#');
    if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
        without_closing.trim_end().to_string()
    } else {
        words.to_string()
    }
}

fn headings(text: &str, body_from: usize) -> Vec<Heading> {
    let mut found = Vec::new();
    let mut fence: Option<Fence> = None;
    // The previous line, when it could be the text of a setext heading.
    let mut paragraph: Option<Line<'_>> = None;
    for line in lines(text).filter(|l| l.start >= body_from) {
        let kind = classify(line.content);
        if let Some((open_char, open_len)) = fence {
            if let Kind::Fence((c, len)) = kind {
                let closes = c == open_char && len >= open_len && line.content.trim().chars().all(|x| x == c);
                if closes {
                    fence = None;
                }
            }
            continue;
        }
        let previous = paragraph.take();
        match kind {
            Kind::Fence(opened) => fence = Some(opened),
            Kind::Atx(level, title) if !title.is_empty() => {
                found.push(Heading { start: line.start, end: line.end(), level, title });
            }
            Kind::Underline(level) => {
                if let Some(prev) = previous {
                    found.push(Heading {
                        start: prev.start,
                        end: line.end(),
                        level,
                        title: prev.content.trim().into(),
                    });
                }
            }
            Kind::Paragraph => paragraph = Some(line),
            _ => {}
        }
    }
    found
}

/// Whether text with no telling name is clearly Markdown: ATX headings of two levels, or an
/// ATX heading and a closed code fence. (A lone `# comment` line is common in scripts and
/// configuration files, so it is not enough.)
pub(crate) fn looks_like_markdown(head: &str) -> bool {
    let mut levels = [false; 7];
    let mut fences = 0;
    for line in lines(head) {
        match classify(line.content) {
            Kind::Atx(level, title) if !title.is_empty() => levels[usize::from(level)] = true,
            Kind::Fence(_) => fences += 1,
            _ => {}
        }
    }
    let distinct = levels.iter().filter(|&&seen| seen).count();
    distinct >= 2 || (distinct >= 1 && fences >= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(source: &str) -> Document {
        extract(source.as_bytes().to_vec())
    }

    #[test]
    fn atx_headings_slice_to_their_lines() {
        let source = "# Guide\r\n\r\nIntro.\r\n\r\n## Install ##\r\n\r\nRun it.\r\n   ### Deep\n#NotAHeading\n";
        let d = doc(source);
        assert_eq!(d.text, source, "the text is the source as is");
        let got: Vec<(&str, u8, &str)> =
            d.headings.iter().map(|h| (&d.text[h.start..h.end], h.level, h.title.as_str())).collect();
        assert_eq!(got, [("# Guide", 1, "Guide"), ("## Install ##", 2, "Install"), ("   ### Deep", 3, "Deep")]);
        assert_eq!(d.title.as_deref(), Some("Guide"));
        assert_eq!(d.format, Some(Format::Markdown));
    }

    #[test]
    fn fenced_code_hides_headings() {
        let source = "# Top\n\n```sh\n# not a heading\n```\n\n~~~~\n## nor this\n~~~\n## still code\n~~~~\n## Real\n";
        let d = doc(source);
        let titles: Vec<&str> = d.headings.iter().map(|h| h.title.as_str()).collect();
        assert_eq!(titles, ["Top", "Real"]);
    }

    #[test]
    fn setext_headings_cover_both_lines() {
        let source = "Title Here\n==========\n\nSome text.\n\nPart Two\n--------\n\n- item\n---\n\n---\n";
        let d = doc(source);
        let got: Vec<(&str, u8, &str)> =
            d.headings.iter().map(|h| (&d.text[h.start..h.end], h.level, h.title.as_str())).collect();
        assert_eq!(got, [("Title Here\n==========", 1, "Title Here"), ("Part Two\n--------", 2, "Part Two")]);
        assert_eq!(d.title.as_deref(), Some("Title Here"));
    }

    #[test]
    fn front_matter_title_wins_and_hides_its_lines() {
        let source = "---\ntitle: \"The Real Title\"\ntags: [a]\n---\n# Heading One\n\nBody.\n";
        let d = doc(source);
        assert_eq!(d.title.as_deref(), Some("The Real Title"));
        assert_eq!(d.headings.len(), 1);
        assert_eq!(&d.text[d.headings[0].start..d.headings[0].end], "# Heading One");
        // An unclosed `---` is a thematic break, not front matter.
        assert_eq!(front_matter("---\ntitle: x\n"), (None, 0));
    }

    #[test]
    fn no_level_one_heading_means_no_title() {
        let d = doc("## Only a section\n\nText.\n");
        assert_eq!(d.title, None);
        assert_eq!(d.headings.len(), 1);
    }

    #[test]
    fn markdown_by_content() {
        assert!(looks_like_markdown("# Title\n\n## Part\n"));
        assert!(looks_like_markdown("# Title\n\n```\ncode\n```\n"));
        assert!(!looks_like_markdown("# just a comment\nkey = value\n"));
        assert!(!looks_like_markdown("plain words\n"));
    }
}
