//! Cutting a document into chunks with the collection model's own tokenizer.
//!
//! The text is tokenised once (in pieces cut at whitespace, so memory stays bounded and the
//! tokens are those of the whole text). A chunk is a run of whole tokens: it ends at the best
//! break that its token budget allows (a heading, then a paragraph, a line, a sentence, a word;
//! never inside a word unless a single word is longer than a chunk), and the next chunk starts a
//! few sentences or words back, to overlap. Every chunk is then counted again on its own, special
//! tokens included, and shortened if it would not fit: no chunk exceeds the model's input limit.

use kin_embed::TextTokenizer;
use kin_extract::Document;

use crate::{IngestError, Result};

/// Chunk size in tokens, special tokens included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkConfig {
    /// Tokens per chunk at most (clamped to what the model reads).
    pub target: usize,
    /// Tokens that neighbouring chunks share, roughly (cut at a sentence or word start).
    pub overlap: usize,
}

impl ChunkConfig {
    /// The card's sizes, or sizes that suit a model reading `limit` tokens.
    pub fn for_model(card: Option<kin_models::Chunking>, limit: usize) -> Self {
        match card {
            Some(c) => ChunkConfig { target: c.target as usize, overlap: c.overlap as usize },
            None => ChunkConfig { target: limit.min(512), overlap: limit.min(512) / 8 },
        }
    }

    pub fn validate(&self) -> Result<()> {
        if self.target < 8 {
            return Err(IngestError::Settings(format!("chunk size {} is below 8 tokens", self.target)));
        }
        if self.overlap * 2 > self.target {
            return Err(IngestError::Settings(format!(
                "chunk overlap {} is more than half the chunk size {}",
                self.overlap, self.target
            )));
        }
        Ok(())
    }
}

/// One chunk of a document: `text[start..end]` of the extracted text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Byte span in the extracted text.
    pub start: usize,
    pub end: usize,
    /// Character span in the extracted text.
    pub char_start: usize,
    pub char_end: usize,
    /// Tokens the model reads for this chunk, special tokens included.
    pub tokens: usize,
}

/// How tokens are counted: the model's tokenizer, or (for models whose tokenizer kin does not
/// hold, such as remote APIs) words and punctuation marks, which over-count sub-word tokens.
#[derive(Clone, Copy)]
pub enum Tokens<'t> {
    Model(&'t TextTokenizer),
    Words { limit: usize },
}

impl Tokens<'_> {
    /// The most tokens the model reads, special tokens included.
    pub fn limit(&self) -> usize {
        match self {
            Tokens::Model(t) => t.max_tokens(),
            Tokens::Words { limit } => *limit,
        }
    }

    fn specials(&self) -> usize {
        match self {
            Tokens::Model(t) => t.special_tokens(),
            Tokens::Words { .. } => 0,
        }
    }

    /// Tokens of `text`, special tokens included.
    pub fn count(&self, text: &str) -> Result<usize> {
        match self {
            Tokens::Model(t) => Ok(t.count(text)?),
            Tokens::Words { .. } => Ok(word_spans(text).len()),
        }
    }

    fn spans(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        match self {
            Tokens::Model(t) => Ok(t.token_spans(text)?),
            Tokens::Words { .. } => Ok(word_spans(text)),
        }
    }
}

/// Tokenised in pieces of about this many bytes, cut at whitespace.
const PIECE_BYTES: usize = 16 << 10;

pub struct Chunker<'t> {
    tokens: Tokens<'t>,
    config: ChunkConfig,
}

impl<'t> Chunker<'t> {
    pub fn new(tokens: Tokens<'t>, config: ChunkConfig) -> Result<Self> {
        config.validate()?;
        Ok(Chunker { tokens, config })
    }

    pub fn config(&self) -> ChunkConfig {
        self.config
    }

    pub fn tokens(&self) -> Tokens<'t> {
        self.tokens
    }

    /// The chunks of `doc`, in order. `reserve` tokens of each chunk's budget are kept for a
    /// prefix embedded with it (a record's title).
    pub fn chunks(&self, doc: &Document, reserve: usize) -> Result<Vec<Chunk>> {
        let text = doc.text.as_str();
        let spans = self.token_spans(text)?;
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let limit = self.tokens.limit();
        let specials = self.tokens.specials();
        let room = self.config.target.min(limit).saturating_sub(specials + reserve).max(1);
        let breaks = Breaks::new(doc, &spans);
        let mut chunks = Vec::new();
        let mut chars = CharCounter::new(text);
        let mut a = 0usize;
        while a < spans.len() {
            let mut b = if spans.len() - a <= room { spans.len() } else { breaks.best_end(a, a + room) };
            // Counted alone, a chunk may take a token more than its share of the whole text
            // (pieces merge differently at its edges): shorten it until it fits.
            let (start, end, tokens) = loop {
                let (start, end) = (spans[a].0, spans[b - 1].1);
                let tokens = self.tokens.count(&text[start..end])?;
                if tokens + reserve <= limit || b == a + 1 {
                    break (start, end, tokens);
                }
                b = breaks.best_end(a, b - 1).min(b - 1).max(a + 1);
            };
            chunks.push(Chunk { start, end, char_start: chars.at(start), char_end: chars.at(end), tokens });
            if b >= spans.len() {
                break;
            }
            a = breaks.next_start(a, b, self.config.overlap);
        }
        Ok(chunks)
    }

    fn token_spans(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        let mut spans = Vec::new();
        let mut base = 0usize;
        while base < text.len() {
            let end = piece_end(text, base);
            for (s, e) in self.tokens.spans(&text[base..end])? {
                let (s, e) = (base + s, base + e);
                // Pieces of one character (byte-level tokens) share its span: keep it once.
                if e > s && spans.last().is_none_or(|&(_, last_end)| s >= last_end) {
                    spans.push((s, e));
                }
            }
            base = end;
        }
        Ok(spans)
    }
}

/// Where the piece starting at `base` ends: after whitespace near `PIECE_BYTES` on, or the end.
fn piece_end(text: &str, base: usize) -> usize {
    if text.len() - base <= PIECE_BYTES {
        return text.len();
    }
    let mut cut = base + PIECE_BYTES;
    while !text.is_char_boundary(cut) {
        cut += 1;
    }
    match text[cut..].find(char::is_whitespace) {
        // A piece never ends inside a word; one long word makes one long piece.
        Some(ws) => cut + ws + text[cut + ws..].chars().next().map_or(0, char::len_utf8),
        None => text.len(),
    }
}

/// Words and single punctuation marks: the token count for models without a tokenizer.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut word: Option<usize> = None;
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            word.get_or_insert(i);
            continue;
        }
        if let Some(s) = word.take() {
            spans.push((s, i));
        }
        if !c.is_whitespace() {
            spans.push((i, i + c.len_utf8()));
        }
    }
    if let Some(s) = word {
        spans.push((s, text.len()));
    }
    spans
}

/// How good a place to cut each token boundary is: `level[i]` for a cut before token `i`.
struct Breaks {
    level: Vec<u8>,
}

/// Levels of a cut, strongest last.
const INSIDE_WORD: u8 = 0;
const PUNCTUATION: u8 = 1;
const WORD: u8 = 2;
const SENTENCE: u8 = 3;
const LINE: u8 = 4;
const PARAGRAPH: u8 = 5;
const HEADING: u8 = 6;

impl Breaks {
    fn new(doc: &Document, spans: &[(usize, usize)]) -> Self {
        let text = doc.text.as_str();
        let mut starts: Vec<usize> = doc.headings.iter().map(|h| h.start).chain(doc.pages.iter().copied()).collect();
        starts.sort_unstable();
        let mut headings = starts.into_iter().peekable();
        let mut level = Vec::with_capacity(spans.len());
        level.push(HEADING);
        for w in spans.windows(2) {
            let (prev, next) = (w[0], w[1]);
            let gap = &text[prev.1..next.0];
            while headings.peek().is_some_and(|&h| h <= prev.1) {
                headings.next();
            }
            let l = if headings.peek().is_some_and(|&h| h <= next.0) {
                HEADING
            } else if gap.contains("\n\n") || gap.contains("\r\n\r\n") || gap.contains('\x0c') {
                PARAGRAPH
            } else if gap.contains('\n') {
                LINE
            } else if !gap.is_empty() && ends_sentence(&text[prev.0..prev.1]) {
                SENTENCE
            } else if !gap.is_empty() {
                WORD
            } else {
                let before = text[..prev.1].chars().next_back();
                let after = text[next.0..].chars().next();
                let wordy = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() && !is_cjk(c));
                if wordy(before) && wordy(after) {
                    INSIDE_WORD
                } else {
                    PUNCTUATION
                }
            };
            level.push(l);
        }
        Breaks { level }
    }

    /// The end (exclusive token index) of a chunk starting at `a` that may end at `max` at
    /// the latest: the strongest break in the second half of the room, the latest of those.
    fn best_end(&self, a: usize, max: usize) -> usize {
        let max = max.min(self.level.len());
        if max <= a + 1 {
            return (a + 1).min(self.level.len());
        }
        let half = a + (max - a).div_ceil(2);
        let pick = |from: usize, min_level: u8| -> Option<usize> {
            let best = (from..=max).filter(|&b| b < self.level.len()).map(|b| self.level[b]).max()?;
            (best >= min_level).then(|| (from..=max).rev().find(|&b| b < self.level.len() && self.level[b] == best))?
        };
        pick(half, WORD).or_else(|| pick(a + 1, PUNCTUATION)).unwrap_or(max)
    }

    /// Where the chunk after `a..b` starts: `overlap` tokens back at most, at the earliest
    /// sentence start (else word start) there; no overlap after a heading or without a clean start.
    fn next_start(&self, a: usize, b: usize, overlap: usize) -> usize {
        if overlap == 0 || self.level.get(b) == Some(&HEADING) {
            return b;
        }
        let from = b.saturating_sub(overlap).max(a + 1);
        for min_level in [SENTENCE, WORD] {
            if let Some(s) = (from..b).find(|&s| self.level[s] >= min_level) {
                return s;
            }
        }
        b
    }
}

fn ends_sentence(token: &str) -> bool {
    let trimmed = token.trim_end_matches(['"', '\'', ')', ']', '”', '’']);
    trimmed.ends_with(['.', '!', '?', '。', '！', '？'])
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af | 0xf900..=0xfaff)
}

/// Byte offsets to character offsets, for offsets that only grow (or stay put).
struct CharCounter<'a> {
    text: &'a str,
    byte: usize,
    chars: usize,
}

impl<'a> CharCounter<'a> {
    fn new(text: &'a str) -> Self {
        CharCounter { text, byte: 0, chars: 0 }
    }

    fn at(&mut self, byte: usize) -> usize {
        if byte < self.byte {
            // Overlapping chunks step back a little: count that stretch again.
            return self.text[..byte].chars().count();
        }
        self.chars += self.text[self.byte..byte].chars().count();
        self.byte = byte;
        self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kin_extract::Heading;

    fn doc(text: &str) -> Document {
        Document { text: text.to_string(), ..Default::default() }
    }

    fn words(limit: usize) -> Tokens<'static> {
        Tokens::Words { limit }
    }

    #[test]
    fn spans_slice_to_the_chunk_and_fit() {
        let text = "One sentence here. Another one follows! A third? ".repeat(40);
        let d = doc(&text);
        let chunker = Chunker::new(words(32), ChunkConfig { target: 32, overlap: 4 }).unwrap();
        let chunks = chunker.chunks(&d, 0).unwrap();
        assert!(chunks.len() > 5);
        for c in &chunks {
            let slice = &text[c.start..c.end];
            assert!(c.tokens <= 32, "{c:?}");
            assert_eq!(word_spans(slice).len(), c.tokens);
            assert_eq!(text.chars().skip(c.char_start).take(c.char_end - c.char_start).collect::<String>(), slice);
            // Cut at sentence ends: every chunk ends with a sentence mark.
            assert!(slice.ends_with(['.', '!', '?']), "{slice:?}");
        }
        // Overlap: each chunk starts before the previous one ends, and they move forward.
        for w in chunks.windows(2) {
            assert!(w[1].start < w[0].end && w[1].start > w[0].start);
        }
        assert_eq!(chunks.last().unwrap().end, text.trim_end().len());
    }

    #[test]
    fn never_inside_a_word_and_headings_start_chunks() {
        let mut text = String::new();
        let mut headings = Vec::new();
        for s in 0..5 {
            headings.push(Heading { start: text.len(), end: text.len() + 10, level: 1, title: format!("S{s}") });
            text.push_str(&format!("# Section {s}\n\n"));
            text.push_str(&"alpha beta gamma delta ".repeat(8));
            text.push_str("\n\n");
        }
        let d = Document { text: text.clone(), headings, ..Default::default() };
        let chunker = Chunker::new(words(48), ChunkConfig { target: 48, overlap: 6 }).unwrap();
        for c in chunker.chunks(&d, 0).unwrap() {
            let before = text[..c.start].chars().next_back();
            let after = text[c.end..].chars().next();
            assert!(before.is_none_or(|c| !c.is_alphanumeric()), "{c:?}");
            assert!(after.is_none_or(|c| !c.is_alphanumeric()), "{c:?}");
            assert!(c.tokens <= 48);
        }
        let starts: Vec<usize> = chunker.chunks(&d, 0).unwrap().iter().map(|c| c.start).collect();
        for h in &d.headings {
            assert!(starts.contains(&h.start), "a chunk starts at the heading at {}", h.start);
        }
    }

    #[test]
    fn one_long_word_is_cut_at_token_boundaries() {
        let text = "x".repeat(10) + " " + &"é".repeat(5);
        let chunker = Chunker::new(words(8), ChunkConfig { target: 8, overlap: 0 }).unwrap();
        let chunks = chunker.chunks(&doc(&text), 0).unwrap();
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].tokens, 2);
        assert!(chunker.chunks(&doc("   \n "), 0).unwrap().is_empty());
    }

    #[test]
    fn reserve_leaves_room_for_a_prefix() {
        let text = "word ".repeat(100);
        let chunker = Chunker::new(words(20), ChunkConfig { target: 20, overlap: 0 }).unwrap();
        for c in chunker.chunks(&doc(&text), 5).unwrap() {
            assert!(c.tokens <= 15);
        }
    }

    #[test]
    fn pieces_end_after_whitespace() {
        let text = "ab ".repeat(20_000);
        let mut base = 0;
        while base < text.len() {
            let end = piece_end(&text, base);
            assert!(end == text.len() || text[..end].ends_with(' '));
            assert!(end > base);
            base = end;
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(ChunkConfig { target: 4, overlap: 0 }.validate().is_err());
        assert!(ChunkConfig { target: 100, overlap: 60 }.validate().is_err());
        assert!(ChunkConfig { target: 100, overlap: 10 }.validate().is_ok());
    }
}
