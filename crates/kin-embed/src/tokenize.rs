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
