//! Text to token ids with the checkpoint's own `tokenizer.json`, truncated like
//! sentence-transformers: longest-first to `max_seq_length` including the special tokens, with
//! the truncation and padding settings stored in `tokenizer.json` (128 in several published
//! checkpoints) replaced by kin's own.

use std::path::Path;

use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

use crate::{Error, Result};

pub struct TextTokenizer {
    inner: Tokenizer,
    /// The same tokenizer without truncation, for counting and cutting whole documents.
    full: Tokenizer,
    lowercase: bool,
    max_tokens: usize,
    /// The special tokens the template puts before and after a text (`[CLS]` and `[SEP]`).
    prefix: Vec<u32>,
    suffix: Vec<u32>,
}

impl TextTokenizer {
    pub fn load(path: &Path, max_tokens: usize, lowercase: bool) -> Result<Self> {
        let err = |message: String| Error::Tokenizer { path: path.to_path_buf(), message };
        if !path.exists() {
            return Err(err("file not found; the model folder needs a tokenizer.json (fast tokenizer)".into()));
        }
        let mut inner = Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
        let mut full = inner.clone();
        full.with_truncation(None).map_err(|e| err(e.to_string()))?;
        full.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams { max_length: max_tokens, ..Default::default() }))
            .map_err(|e| err(e.to_string()))?;
        inner.with_padding(None);
        // The template's special tokens: what an empty text becomes, split where a one-word text
        // differs from it.
        let ids = |text: &str| inner.encode(text, true).map(|e| e.get_ids().to_vec()).map_err(|e| err(e.to_string()));
        let (empty, word) = (ids("")?, ids("a")?);
        let split = empty.iter().zip(&word).take_while(|(a, b)| a == b).count();
        let (prefix, suffix) = (empty[..split].to_vec(), empty[split..].to_vec());
        Ok(TextTokenizer { inner, full, lowercase, max_tokens, prefix, suffix })
    }

    /// The most tokens the model reads, special tokens included.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// How many special tokens the template adds around every text (`[CLS]` and `[SEP]`: 2).
    pub fn special_tokens(&self) -> usize {
        self.prefix.len() + self.suffix.len()
    }

    /// Tokens of `text` as the model would read it untruncated, special tokens included.
    pub fn count(&self, text: &str) -> Result<usize> {
        let encoding = self.full.encode(self.cased(text), true);
        encoding.map(|e| e.len()).map_err(|e| Error::Tokenize { index: 0, message: e.to_string() })
    }

    /// Byte spans in `text` of its tokens, in order, without special tokens and untruncated.
    /// Spans of tokens that share a character (byte-level pieces) may repeat or overlap.
    pub fn token_spans(&self, text: &str) -> Result<Vec<(usize, usize)>> {
        let encoding = self.full.encode(self.cased(text), false);
        let encoding = encoding.map_err(|e| Error::Tokenize { index: 0, message: e.to_string() })?;
        Ok(encoding.get_offsets().to_vec())
    }

    /// The text as the model's pipeline hands it to the tokenizer: lower-cased where the
    /// checkpoint asks for it and that keeps every byte offset (other texts are left as they are).
    fn cased<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        if self.lowercase {
            let lower = text.to_lowercase();
            if lower.len() == text.len() {
                return lower.into();
            }
        }
        text.into()
    }

    /// A caller's token ids (the model's vocabulary, no special tokens) as `encode` would give
    /// them: the template's special tokens added, truncated to the model's length.
    pub fn wrap(&self, index: usize, tokens: &[u32]) -> Result<Vec<u32>> {
        let vocab = self.inner.get_vocab_size(true) as u32;
        if let Some(bad) = tokens.iter().find(|t| **t >= vocab) {
            return Err(Error::Tokenize {
                index,
                message: format!("token id {bad} is outside the vocabulary of {vocab}"),
            });
        }
        if tokens.is_empty() {
            return Err(Error::Tokenize { index, message: "no tokens".into() });
        }
        let room = self.max_tokens.saturating_sub(self.prefix.len() + self.suffix.len()).max(1);
        let mut out = Vec::with_capacity(self.prefix.len() + tokens.len().min(room) + self.suffix.len());
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(&tokens[..tokens.len().min(room)]);
        out.extend_from_slice(&self.suffix);
        Ok(out)
    }

    /// Token ids of each text, special tokens included.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        texts
            .par_iter()
            .enumerate()
            .map(|(index, text)| {
                let encoding = if self.lowercase {
                    self.inner.encode(text.to_lowercase(), true)
                } else {
                    self.inner.encode(*text, true)
                };
                encoding.map(|e| e.get_ids().to_vec()).map_err(|e| Error::Tokenize { index, message: e.to_string() })
            })
            .collect()
    }
}
