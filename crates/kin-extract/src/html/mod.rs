//! HTML, streamed through html5ever's tokenizer (no tree: a page nested 100,000 deep costs what
//! a flat one does). Visible text is kept; scripts, styles, navigation, headers, footers, forms
//! and the like are dropped; a page with `<main>` or `<article>` keeps only what is inside them.
//! Blocks are separated by blank lines, `<br>`, `<li>` and `<tr>` by line breaks, and runs of
//! whitespace become one space except in `<pre>`. `<h1>`..`<h6>` become [`Heading`]s whose
//! offsets slice to their words in the text. The title is `<title>`, else the first `<h1>`.
//!
//! `<header>` and `<footer>` inside `<main>`/`<article>` are kept: there they hold the
//! article's own title and byline rather than the site's banner.

mod collect;
mod elements;

use std::cell::RefCell;

use encoding_rs::Encoding;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};
use html5ever::TokenizerResult;

use self::collect::{Break, Collector};
use self::elements::{block_break, heading_level, is_dropped, is_void};
use crate::limits::Deadline;
use crate::text::decode_with_fallback;
use crate::{Document, Format, Limits, Result};

/// How much text the tokenizer gets between two looks at the clock.
const CHUNK_BYTES: usize = 64 << 10;

/// A page's text, headings and title.
pub(crate) fn extract(bytes: Vec<u8>, limits: &Limits, deadline: Deadline) -> Result<Document> {
    let source = decode(bytes);
    let tokenizer =
        Tokenizer::new(Sink { state: RefCell::new(State::new(limits.max_depth)) }, TokenizerOpts::default());
    let queue = BufferQueue::default();
    let mut rest = source.as_str();
    while !rest.is_empty() {
        let mut cut = rest.len().min(CHUNK_BYTES);
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (chunk, after) = rest.split_at(cut);
        rest = after;
        queue.push_back(StrTendril::from_slice(chunk));
        // `Script` and `EncodingIndicator` pause the tokenizer; ours has nothing to do then.
        while !matches!(tokenizer.feed(&queue), TokenizerResult::Done) {}
        deadline.check()?;
    }
    tokenizer.end();
    Ok(tokenizer.sink.state.into_inner().finish())
}

/// The page's characters: a BOM decides, else UTF-8 when valid, else the `<meta charset>`
/// label when there is one, else Windows-1252.
fn decode(bytes: Vec<u8>) -> String {
    let declared = declared_charset(&bytes[..bytes.len().min(1024)])
        .filter(|enc| *enc != encoding_rs::UTF_16LE && *enc != encoding_rs::UTF_16BE && *enc != encoding_rs::UTF_8);
    decode_with_fallback(bytes, declared.unwrap_or(encoding_rs::WINDOWS_1252)).0
}

fn declared_charset(head: &[u8]) -> Option<&'static Encoding> {
    let lower = head.to_ascii_lowercase();
    let at = memchr::memmem::find(&lower, b"charset")? + b"charset".len();
    let rest = lower[at..].trim_ascii_start().strip_prefix(b"=")?.trim_ascii_start();
    let rest = rest.strip_prefix(b"\"").or_else(|| rest.strip_prefix(b"'")).unwrap_or(rest);
    let end = rest.iter().position(|b| !(b.is_ascii_alphanumeric() || b"-_:.".contains(b))).unwrap_or(rest.len());
    Encoding::for_label(&rest[..end])
}

struct Sink {
    state: RefCell<State>,
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut state = self.state.borrow_mut();
        match token {
            Token::TagToken(tag) => return state.tag(&tag),
            Token::CharacterTokens(text) => state.characters(&text),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Where the stream is: which elements are open, as counters (no stack to grow).
struct State {
    all: Collector,
    main: Collector,
    /// Open `<main>`/`<article>` elements, and whether there ever was one.
    in_main: u32,
    seen_main: bool,
    /// Open dropped elements (`nav`, `aside`...); their text is not kept.
    dropped: u32,
    /// `<header>`/`<footer>` opened inside main, and so kept.
    kept_banners: u32,
    /// Inside a raw-text element whose text is dropped (`script`, `style`...).
    raw_dropped: bool,
    in_head: bool,
    in_title: bool,
    /// Whether the open `<title>` is the page's (not an SVG's, not a second one).
    title_wanted: bool,
    title: String,
    title_done: bool,
    in_pre: u32,
    /// At the start of a `<pre>`, whose first line break is not content.
    pre_start: bool,
    depth: usize,
    max_depth: usize,
}

impl State {
    fn new(max_depth: usize) -> Self {
        State {
            all: Collector::default(),
            main: Collector::default(),
            in_main: 0,
            seen_main: false,
            dropped: 0,
            kept_banners: 0,
            raw_dropped: false,
            in_head: false,
            in_title: false,
            title_wanted: false,
            title: String::new(),
            title_done: false,
            in_pre: 0,
            pre_start: false,
            depth: 0,
            max_depth,
        }
    }

    fn each(&mut self, f: impl Fn(&mut Collector)) {
        f(&mut self.all);
        f(&mut self.main);
    }

    fn tag(&mut self, tag: &Tag) -> TokenSinkResult<()> {
        let name: &str = &tag.name;
        match tag.kind {
            TagKind::StartTag => self.start(name, tag.self_closing),
            TagKind::EndTag => {
                self.end(name);
                TokenSinkResult::Continue
            }
        }
    }

    fn start(&mut self, name: &str, self_closing: bool) -> TokenSinkResult<()> {
        if !self_closing && !is_void(name) {
            self.depth += 1;
            if self.depth == self.max_depth + 1 {
                tracing::debug!(max_depth = self.max_depth, "HTML nests deeper than the limit; streaming on");
            }
        }
        match name {
            "title" if !self_closing => {
                self.in_title = true;
                self.title_wanted = self.dropped == 0 && !self.title_done;
                return TokenSinkResult::RawData(RawKind::Rcdata);
            }
            "script" if !self_closing => {
                self.raw_dropped = true;
                return TokenSinkResult::RawData(RawKind::ScriptData);
            }
            "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" if !self_closing => {
                self.raw_dropped = true;
                return TokenSinkResult::RawData(RawKind::Rawtext);
            }
            "textarea" if !self_closing => {
                self.raw_dropped = true;
                return TokenSinkResult::RawData(RawKind::Rcdata);
            }
            "plaintext" => return TokenSinkResult::Plaintext,
            "head" => self.in_head = true,
            "body" => self.in_head = false,
            _ => {}
        }
        if self_closing && !is_void(name) {
            // `<svg/>`, `<div/>`: opens nothing.
            return TokenSinkResult::Continue;
        }
        if is_dropped(name) {
            if self.in_main > 0 && matches!(name, "header" | "footer") && self.dropped == 0 {
                self.kept_banners += 1;
            } else {
                self.dropped += 1;
            }
            return TokenSinkResult::Continue;
        }
        if self.dropped > 0 || self.in_head {
            return TokenSinkResult::Continue;
        }
        match name {
            "main" | "article" => {
                self.in_main += 1;
                self.seen_main = true;
                self.each(|c| c.block(Break::Paragraph));
            }
            "pre" => {
                self.in_pre += 1;
                self.pre_start = true;
                self.each(|c| c.block(Break::Paragraph));
            }
            "td" | "th" => self.each(Collector::space),
            _ => {
                if let Some(level) = heading_level(name) {
                    self.each(|c| c.open_heading(level));
                } else if let Some(kind) = block_break(name) {
                    self.each(|c| c.block(kind));
                }
            }
        }
        TokenSinkResult::Continue
    }

    fn end(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        if self.raw_dropped {
            // In a raw-text state the tokenizer emits no end tag but the element's own.
            self.raw_dropped = false;
            return;
        }
        match name {
            "title" => {
                self.in_title = false;
                self.title_done |= !self.title.trim().is_empty();
                return;
            }
            "head" => self.in_head = false,
            "body" | "html" => {
                self.dropped = 0;
                self.in_head = false;
            }
            _ => {}
        }
        if is_dropped(name) {
            if matches!(name, "header" | "footer") && self.kept_banners > 0 && self.dropped == 0 {
                self.kept_banners -= 1;
            } else {
                self.dropped = self.dropped.saturating_sub(1);
            }
            return;
        }
        if self.dropped > 0 || self.in_head {
            return;
        }
        match name {
            "main" | "article" => {
                self.in_main = self.in_main.saturating_sub(1);
                self.each(|c| c.block(Break::Paragraph));
            }
            "pre" => {
                self.in_pre = self.in_pre.saturating_sub(1);
                self.each(|c| c.block(Break::Paragraph));
            }
            _ => {
                if heading_level(name).is_some() {
                    self.each(Collector::close_heading);
                } else if let Some(kind) = block_break(name) {
                    self.each(|c| c.block(kind));
                }
            }
        }
    }

    fn characters(&mut self, text: &str) {
        if self.raw_dropped {
            return;
        }
        if self.in_title {
            if self.title_wanted {
                self.title.push_str(text);
            }
            return;
        }
        if self.dropped > 0 || self.in_head {
            return;
        }
        if self.in_pre > 0 {
            let text = if std::mem::take(&mut self.pre_start) { text.strip_prefix('\n').unwrap_or(text) } else { text };
            self.all.verbatim(text);
            if self.in_main > 0 {
                self.main.verbatim(text);
            }
        } else {
            self.all.words(text);
            if self.in_main > 0 {
                self.main.words(text);
            }
        }
    }

    fn finish(self) -> Document {
        let use_main = self.seen_main && !self.main.is_empty();
        let (text, headings) = if use_main { self.main.finish() } else { self.all.finish() };
        let title = self.title.split_whitespace().collect::<Vec<_>>().join(" ");
        let title = if title.is_empty() {
            headings.iter().find(|h| h.level == 1).map(|h| h.title.clone())
        } else {
            Some(title)
        };
        Document { text, format: Some(Format::Html), title, headings, ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::testdata;

    fn read(page: &str) -> Document {
        extract(page.as_bytes().to_vec(), &Limits::default(), Deadline::after(Duration::from_secs(60))).expect("html")
    }

    fn slices(doc: &Document) -> Vec<(&str, u8)> {
        doc.headings.iter().map(|h| (&doc.text[h.start..h.end], h.level)).collect()
    }

    #[test]
    fn visible_text_blocks_and_headings() {
        let doc = read(concat!(
            "<!doctype html><html><head><title> The   Page </title><style>p { color: red }</style>",
            "<script>if (a < b) { document.write('<p>no</p>') }</script></head><body>",
            "<h1>Main &amp; Only</h1><p>First   paragraph,\n spread out.</p><div>Block<br>next line</div>",
            "<ul><li>one</li><li>two</li></ul><table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>",
            "<pre>\n  keep   this\n  layout</pre><noscript>enable js</noscript><template><p>tpl</p></template>",
            "<h2>Caf&eacute; &#x263A;</h2><p>x<span>y</span> z</p></body></html>",
        ));
        assert_eq!(
            doc.text,
            "Main & Only\n\nFirst paragraph, spread out.\n\nBlock\nnext line\n\none\ntwo\n\na b\nc\n\n  keep   this\n  layout\n\nCafé ☺\n\nxy z"
        );
        assert_eq!(slices(&doc), [("Main & Only", 1), ("Café ☺", 2)]);
        assert_eq!(doc.headings[1].title, "Café ☺");
        assert_eq!(doc.title.as_deref(), Some("The Page"));
    }

    #[test]
    fn boilerplate_is_dropped_and_main_wins() {
        let doc = read(concat!(
            "<html><body><header><h1>Site Name</h1></header><nav><a>Home</a></nav>",
            "<aside>Related</aside><form><label>Search</label><button>Go</button></form>",
            "<main><article><header><h1>Article Title</h1></header><p>The story.</p></article></main>",
            "<p>Outside main</p><footer>Copyright</footer></body></html>",
        ));
        assert_eq!(doc.text, "Article Title\n\nThe story.");
        assert_eq!(doc.title.as_deref(), Some("Article Title"), "no <title>: the first h1");
        assert_eq!(slices(&doc), [("Article Title", 1)]);
    }

    #[test]
    fn without_main_the_body_is_kept() {
        let doc = read("<body><nav>menu</nav><p>Alpha</p><p>Beta</p><footer>foot</footer></body>");
        assert_eq!(doc.text, "Alpha\n\nBeta");
    }

    #[test]
    fn unclosed_head_ends_at_body() {
        let doc = read("<html><head><title>T</title><body><p>Body text</p>");
        assert_eq!(doc.text, "Body text");
        assert_eq!(doc.title.as_deref(), Some("T"));
    }

    #[test]
    fn svg_title_is_not_the_page_title() {
        let doc = read("<body><svg><title>icon</title><text>drawn</text></svg><h1>Real</h1><p>t</p></body>");
        assert_eq!(doc.title.as_deref(), Some("Real"));
        assert_eq!(doc.text, "Real\n\nt");
    }

    #[test]
    fn nested_100_000_deep_streams_through() {
        let depth = 100_000;
        let page = format!(
            "<html><body>{}deep text{}<p>after</p></body></html>",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let doc = read(&page);
        assert_eq!(doc.text, "deep text\n\nafter");
    }

    #[test]
    fn charset_declared_for_legacy_bytes() {
        let mut bytes = b"<html><head><meta charset=\"iso-8859-7\"></head><body><p>".to_vec();
        bytes.extend(b"\xE1\xE2\xE3"); // alpha beta gamma in ISO-8859-7
        bytes.extend(b"</p></body></html>");
        let doc = extract(bytes, &Limits::default(), Deadline::after(Duration::from_secs(60))).expect("html");
        assert_eq!(doc.text, "αβγ");
        let mut bytes = b"<p>caf".to_vec();
        bytes.extend(b"\xE9</p>");
        let doc = extract(bytes, &Limits::default(), Deadline::after(Duration::from_secs(60))).expect("html");
        assert_eq!(doc.text, "café", "no declaration: Windows-1252");
    }

    #[test]
    fn past_its_deadline_the_parser_stops() {
        let page = "<p>words</p>".repeat(20_000);
        let got = extract(page.into_bytes(), &Limits::default(), Deadline::after(Duration::ZERO));
        assert!(matches!(got, Err(crate::ExtractError::Timeout { .. })));
    }

    #[test]
    fn testdata_page_round_trips() {
        let sections: &[(&str, &[&str])] = &[("Alpha", &["First words.", "Second words."]), ("Beta", &["Third."])];
        let doc = read(&testdata::html("Doc & Title", sections));
        assert_eq!(doc.title.as_deref(), Some("Doc & Title"));
        assert_eq!(doc.text, "Doc & Title\n\nAlpha\n\nFirst words.\n\nSecond words.\n\nBeta\n\nThird.");
        assert_eq!(slices(&doc), [("Doc & Title", 1), ("Alpha", 2), ("Beta", 2)]);
    }
}
