use serde_json::{Map, Value};

/// The formats kin extracts text from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Pdf,
    Docx,
    /// One record of a `.jsonl` file.
    Jsonl,
    /// One row of a `.csv` file.
    Csv,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "markdown",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }

    /// The name people use for the format, for messages: "PDF", "DOCX", "Markdown".
    pub fn label(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Markdown => "Markdown",
            Format::Html => "HTML",
            Format::Pdf => "PDF",
            Format::Docx => "DOCX",
            Format::Jsonl => "JSONL",
            Format::Csv => "CSV",
        }
    }

    /// Whether files of this format hold many documents, one per record, read with
    /// [`records`](crate::records) rather than [`extract`](crate::extract).
    pub fn is_records(self) -> bool {
        matches!(self, Format::Jsonl | Format::Csv)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A heading of the extracted text: `text[start..end]` is where it stands (for Markdown the whole
/// heading line, `#` marks included); `title` is its words alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    pub start: usize,
    pub end: usize,
    /// 1 for the top level (`#`, `<h1>`, Word's "Heading 1"), up to 6 (or 9 for Word).
    pub level: u8,
    pub title: String,
}

/// What extraction makes of one file or one record.
///
/// Every offset is a byte offset into `text` on a `char` boundary, and they are sorted.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document {
    /// The extracted text: what chunks are cut from, and what their spans index.
    pub text: String,
    pub format: Option<Format>,
    /// `<title>`, the first top-level heading, the PDF's or DOCX's title, a record's `title`.
    pub title: Option<String>,
    pub headings: Vec<Heading>,
    /// Where each page starts in `text` (PDF only; page `n` starts at `pages[n - 1]`, and
    /// `pages[0] == 0`).
    pub pages: Vec<usize>,
    /// A record's id (`_id` or `id`).
    pub id: Option<String>,
    /// A record's other fields (everything but its id, title and text), kept as payload.
    pub fields: Map<String, Value>,
}

impl Document {
    /// The pages (1-based, first and last) that the byte span `start..end` touches; `None` when
    /// the document has no pages.
    pub fn pages_of(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        if self.pages.is_empty() {
            return None;
        }
        let page_at = |pos: usize| self.pages.partition_point(|&p| p <= pos).max(1);
        Some((page_at(start), page_at(end.saturating_sub(1).max(start))))
    }

    /// The heading path in force at byte `pos`: the titles of the enclosing headings, top first.
    pub fn heading_path(&self, pos: usize) -> Vec<String> {
        let mut path: Vec<&Heading> = Vec::new();
        for h in self.headings.iter().take_while(|h| h.start <= pos) {
            while path.last().is_some_and(|last| last.level >= h.level) {
                path.pop();
            }
            path.push(h);
        }
        path.into_iter().map(|h| h.title.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heading(start: usize, level: u8, title: &str) -> Heading {
        Heading { start, end: start + 1, level, title: title.into() }
    }

    #[test]
    fn heading_path_follows_levels() {
        let doc = Document {
            headings: vec![heading(0, 1, "A"), heading(10, 2, "B"), heading(20, 3, "C"), heading(30, 2, "D")],
            ..Default::default()
        };
        assert!(doc.heading_path(0).len() == 1);
        assert_eq!(doc.heading_path(25), ["A", "B", "C"]);
        assert_eq!(doc.heading_path(35), ["A", "D"]);
    }

    #[test]
    fn pages_of_span() {
        let doc = Document { pages: vec![0, 100, 200], ..Default::default() };
        assert_eq!(doc.pages_of(0, 10), Some((1, 1)));
        assert_eq!(doc.pages_of(90, 110), Some((1, 2)));
        assert_eq!(doc.pages_of(100, 100), Some((2, 2)));
        assert_eq!(doc.pages_of(250, 300), Some((3, 3)));
        assert_eq!(Document::default().pages_of(0, 1), None);
    }
}
