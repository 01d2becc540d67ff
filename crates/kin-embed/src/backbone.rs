//! What the text encoders share: the `Backbone` seam, token + position embeddings, checks.

use std::path::Path;

use crate::transformer::{Exec, LayerNorm, Packed};
use crate::weights::Weights;
use crate::{Error, Result};

/// A transformer that maps packed token ids to one hidden vector per token.
pub trait Backbone: Send + Sync {
    fn hidden_size(&self) -> usize;
    /// The longest sequence its position embeddings allow.
    fn max_tokens(&self) -> usize;
    /// `[tokens, hidden]` last hidden states.
    fn forward(&self, packed: &Packed, exec: Exec) -> Result<Vec<f32>>;
    /// Moves every dense layer of the encoder to int8 (embeddings, attention scores, softmax
    /// and layer norms stay f32).
    fn quantize(&mut self);
}

/// Only the exact, erf-based GELU is implemented; refuse silently different activations.
pub(crate) fn check_activation(act: &str, path: &Path) -> Result<()> {
    if act == "gelu" {
        Ok(())
    } else {
        Err(Error::InvalidConfig {
            path: path.to_path_buf(),
            message: format!("hidden_act {act:?} is not supported (only \"gelu\")"),
        })
    }
}

/// How a sequence's tokens are numbered for the position embeddings.
#[derive(Debug, Clone, Copy)]
pub enum Positions {
    /// `0, 1, 2, …` (BERT).
    FromZero,
    /// fairseq-style (MPNet, RoBERTa): tokens equal to `pad_id` get position `pad_id`; the others
    /// are numbered `pad_id + 1, pad_id + 2, …` counting only non-pad tokens.
    AfterPadding { pad_id: u32 },
}

impl Positions {
    fn extend(self, ids: &[u32], out: &mut Vec<usize>) {
        match self {
            Positions::FromZero => out.extend(0..ids.len()),
            Positions::AfterPadding { pad_id } => {
                let mut next = pad_id as usize;
                out.extend(ids.iter().map(|&id| {
                    if id == pad_id {
                        pad_id as usize
                    } else {
                        next += 1;
                        next
                    }
                }));
            }
        }
    }
}

/// Word and absolute position embeddings followed by LayerNorm.
pub struct TokenEmbeddings {
    words: Vec<f32>,
    positions: Vec<f32>,
    norm: LayerNorm,
    vocab: usize,
    pub max_positions: usize,
    hidden: usize,
}

impl TokenEmbeddings {
    pub fn load(weights: &Weights, vocab: usize, max_positions: usize, hidden: usize, eps: f32) -> Result<Self> {
        Ok(TokenEmbeddings {
            words: weights.get("embeddings.word_embeddings.weight", &[vocab, hidden])?,
            positions: weights.get("embeddings.position_embeddings.weight", &[max_positions, hidden])?,
            norm: LayerNorm::load(weights, "embeddings.LayerNorm", hidden, eps)?,
            vocab,
            max_positions,
            hidden,
        })
    }

    /// `LN(word[id] + extra + position[p(t)])` for every token `t` of every sequence.
    pub fn embed(&self, packed: &Packed, positions: Positions, extra: &[f32], exec: Exec) -> Result<Vec<f32>> {
        let h = self.hidden;
        if let Some(&bad) = packed.ids.iter().find(|&&id| id as usize >= self.vocab) {
            return Err(Error::Tokenize {
                index: 0,
                message: format!("token id {bad} is outside the model's vocabulary of {}", self.vocab),
            });
        }
        let mut position = Vec::with_capacity(packed.tokens());
        for r in packed.ranges() {
            positions.extend(&packed.ids[r], &mut position);
        }
        if position.iter().any(|&p| p >= self.max_positions) {
            return Err(Error::Tokenize {
                index: 0,
                message: format!("a sequence is longer than the model's {} positions", self.max_positions),
            });
        }
        let mut out = vec![0f32; packed.tokens() * h];
        exec.for_rows(&mut out, h, |t, row| {
            let (id, pos) = (packed.ids[t] as usize, position[t]);
            let w = &self.words[id * h..id * h + h];
            let p = &self.positions[pos * h..pos * h + h];
            for (k, o) in row.iter_mut().enumerate() {
                *o = (w[k] + extra.get(k).copied().unwrap_or(0.0)) + p[k];
            }
        });
        self.norm.apply(&mut out, &[], exec);
        Ok(out)
    }
}
