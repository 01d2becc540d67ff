//! Text to token ids with the checkpoint's own `tokenizer.json`, truncated like
//! sentence-transformers: surrounding whitespace stripped, longest-first to `max_seq_length`
//! including the special tokens.

use std::path::Path;

use rayon::prelude::*;
use tokenizers::{Tokenizer, TruncationParams};

use crate::{Error, Result};

pub struct TextTokenizer {
    inner: Tokenizer,
    lowercase: bool,
}

impl TextTokenizer {
    pub fn load(path: &Path, max_tokens: usize, lowercase: bool) -> Result<Self> {
        let err = |message: String| Error::Tokenizer { path: path.to_path_buf(), message };
        if !path.exists() {
            return Err(err("file not found; the model folder needs a tokenizer.json (fast tokenizer)".into()));
        }
        let mut inner = Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
        inner
            .with_truncation(Some(TruncationParams { max_length: max_tokens, ..Default::default() }))
            .map_err(|e| err(e.to_string()))?;
        inner.with_padding(None);
        Ok(TextTokenizer { inner, lowercase })
    }

    /// Token ids of each text, special tokens included.
    pub fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        texts
            .par_iter()
            .enumerate()
            .map(|(index, text)| {
                let text = python_strip(text);
                let encoding = if self.lowercase {
                    self.inner.encode(text.to_lowercase(), true)
                } else {
                    self.inner.encode(text, true)
                };
                encoding.map(|e| e.get_ids().to_vec()).map_err(|e| Error::Tokenize { index, message: e.to_string() })
            })
            .collect()
    }
}

/// Python's `str.strip()`: Unicode whitespace plus the ASCII separators U+001C–U+001F.
fn python_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_like_python() {
        assert_eq!(python_strip(" \t\n a b \u{3000}\u{1f}"), "a b");
        assert_eq!(python_strip("\u{200b}x"), "\u{200b}x");
    }
}
