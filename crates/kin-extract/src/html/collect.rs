//! The text of a page as it streams by: paragraphs between blocks, whitespace collapsed, and
//! headings recorded at their offsets in the text being built.

use crate::Heading;

/// What separates the next text from what came before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(super) enum Break {
    #[default]
    None,
    /// A line break (`<br>`, `<li>`, `<tr>`).
    Line,
    /// A blank line (the end of a block).
    Paragraph,
}

/// Builds one text; [`super`] keeps two (the whole page, and `<main>`/`<article>` alone).
#[derive(Debug, Default)]
pub(super) struct Collector {
    text: String,
    headings: Vec<Heading>,
    pending: Break,
    pending_space: bool,
    /// An open `<hN>`: its level, and where its text starts once some has come.
    heading: Option<(u8, Option<usize>)>,
}

impl Collector {
    /// The next text starts a new line or paragraph (whichever is more).
    pub(super) fn block(&mut self, kind: Break) {
        self.pending = self.pending.max(kind);
        self.pending_space = false;
    }

    /// The next text is separated by a space (table cells).
    pub(super) fn space(&mut self) {
        self.pending_space = true;
    }

    /// Text outside `<pre>`: runs of whitespace become one space.
    pub(super) fn words(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() {
                self.pending_space = true;
            } else {
                self.flush();
                self.text.push(c);
            }
        }
    }

    /// Text inside `<pre>`: kept as it is.
    pub(super) fn verbatim(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        self.flush();
        self.text.push_str(s);
    }

    pub(super) fn open_heading(&mut self, level: u8) {
        self.close_heading();
        self.block(Break::Paragraph);
        self.heading = Some((level, None));
    }

    pub(super) fn close_heading(&mut self) {
        if let Some((level, Some(start))) = self.heading.take() {
            let end = self.text.len();
            let title = self.text[start..end].trim().to_string();
            if !title.is_empty() {
                self.headings.push(Heading { start, end, level, title });
            }
            self.block(Break::Paragraph);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The text (trailing whitespace dropped) and its headings.
    pub(super) fn finish(mut self) -> (String, Vec<Heading>) {
        self.close_heading();
        let kept = self.text.trim_end().len();
        self.text.truncate(kept);
        for h in &mut self.headings {
            h.end = h.end.min(kept);
        }
        (self.text, self.headings)
    }

    /// Writes what separates the coming text from the last, and starts an open heading there.
    fn flush(&mut self) {
        if !self.text.is_empty() {
            match self.pending {
                Break::Paragraph => self.text.push_str("\n\n"),
                Break::Line => self.text.push('\n'),
                Break::None if self.pending_space => self.text.push(' '),
                Break::None => {}
            }
        }
        self.pending = Break::None;
        self.pending_space = false;
        if let Some((_, start @ None)) = &mut self.heading {
            *start = Some(self.text.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_collapses_and_blocks_separate() {
        let mut c = Collector::default();
        c.block(Break::Paragraph);
        c.words("  Hello,\n\t  world ");
        c.words(" again");
        c.block(Break::Paragraph);
        c.words("Second");
        c.block(Break::Line);
        c.words("line");
        c.space();
        c.words("cell");
        c.block(Break::Paragraph);
        let (text, headings) = c.finish();
        assert_eq!(text, "Hello, world again\n\nSecond\nline cell");
        assert!(headings.is_empty());
    }

    #[test]
    fn headings_slice_to_their_words() {
        let mut c = Collector::default();
        c.words("Intro");
        c.open_heading(2);
        c.words("  The  Part ");
        c.close_heading();
        c.words("Body");
        c.open_heading(3);
        c.close_heading();
        let (text, headings) = c.finish();
        assert_eq!(text, "Intro\n\nThe Part\n\nBody");
        assert_eq!(headings.len(), 1, "an empty heading is not recorded");
        let h = &headings[0];
        assert_eq!((&text[h.start..h.end], h.level, h.title.as_str()), ("The Part", 2, "The Part"));
    }

    #[test]
    fn verbatim_keeps_layout() {
        let mut c = Collector::default();
        c.words("Code:");
        c.block(Break::Paragraph);
        c.verbatim("fn main() {\n    x  y\n}\n");
        let (text, _) = c.finish();
        assert_eq!(text, "Code:\n\nfn main() {\n    x  y\n}");
    }
}
