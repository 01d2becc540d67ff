//! CLIP's text tower: token and position embeddings, causal pre-norm layers, the final
//! LayerNorm at the end-of-text token, and the projection into the shared space.

use std::path::Path;

use crate::clip::config::ClipTextConfig;
use crate::linear::Linear;
use crate::prenorm::{run_prenorm_layers, Activation, PreNormLayer, CLIP_NAMES};
use crate::transformer::{Exec, LayerNorm, Mask, Packed};
use crate::weights::Weights;
use crate::{Error, Result};

pub struct ClipText {
    token_embedding: Vec<f32>,
    position_embedding: Vec<f32>,
    layers: Vec<PreNormLayer>,
    final_norm: LayerNorm,
    projection: Linear,
    cfg: ClipTextConfig,
}

impl ClipText {
    pub fn load(weights: &Weights, cfg: &ClipTextConfig, projection_dim: usize, path: &Path) -> Result<Self> {
        cfg.validate(path)?;
        let (h, dims) = (cfg.hidden_size, cfg.dims());
        let act = Activation::parse(&cfg.hidden_act, path)?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| PreNormLayer::load(weights, &format!("text_model.encoder.layers.{i}"), &CLIP_NAMES, dims, act))
            .collect::<Result<_>>()?;
        Ok(ClipText {
            token_embedding: weights.get("text_model.embeddings.token_embedding.weight", &[cfg.vocab_size, h])?,
            position_embedding: weights
                .get("text_model.embeddings.position_embedding.weight", &[cfg.max_position_embeddings, h])?,
            layers,
            final_norm: LayerNorm::load(weights, "text_model.final_layer_norm", h, cfg.layer_norm_eps)?,
            projection: Linear::load_without_bias(weights, "text_projection", h, projection_dim)?,
            cfg: cfg.clone(),
        })
    }

    /// The longest token sequence the tower takes (77 for CLIP).
    pub fn max_tokens(&self) -> usize {
        self.cfg.max_position_embeddings
    }

    /// The token whose state becomes the sequence's embedding: the first end-of-text token, or
    /// (for checkpoints whose config says `eos_token_id: 2`) the token with the highest id.
    fn pooled_position(&self, ids: &[u32]) -> usize {
        if self.cfg.eos_token_id == 2 {
            // The first of equal maxima, as `argmax` picks.
            let max = ids.iter().copied().max().unwrap_or(0);
            ids.iter().position(|&t| t == max).unwrap_or(0)
        } else {
            ids.iter().position(|&t| t == self.cfg.eos_token_id).unwrap_or(ids.len().saturating_sub(1))
        }
    }

    /// Projected (not yet normalised) embeddings of tokenised sequences, each non-empty and at
    /// most `max_tokens()` long.
    pub fn forward(&self, seqs: &[&[u32]], exec: Exec) -> Result<Vec<Vec<f32>>> {
        let h = self.cfg.hidden_size;
        let packed = Packed::from_sequences(seqs.iter().copied());
        let mut hidden = Vec::with_capacity(packed.tokens() * h);
        for (index, ids) in seqs.iter().enumerate() {
            for (pos, &id) in ids.iter().enumerate() {
                let id = id as usize;
                if id >= self.cfg.vocab_size || pos >= self.cfg.max_position_embeddings {
                    return Err(Error::Tokenize {
                        index,
                        message: format!(
                            "token {pos} (id {id}) is outside the model's {} ids or {} positions",
                            self.cfg.vocab_size, self.cfg.max_position_embeddings
                        ),
                    });
                }
                let token = &self.token_embedding[id * h..(id + 1) * h];
                let position = &self.position_embedding[pos * h..(pos + 1) * h];
                hidden.extend(token.iter().zip(position).map(|(t, p)| t + p));
            }
        }
        run_prenorm_layers(&self.layers, &mut hidden, &packed, Mask { bias: None, causal: true }, exec);
        // LayerNorm is per token, so only the pooled tokens need it.
        let mut pooled = Vec::with_capacity(seqs.len() * h);
        for (ids, range) in seqs.iter().zip(packed.ranges()) {
            let row = range.start + self.pooled_position(ids);
            pooled.extend_from_slice(&hidden[row * h..(row + 1) * h]);
        }
        self.final_norm.apply(&mut pooled, &[], exec);
        let mut projected = Vec::new();
        self.projection.forward(&pooled, seqs.len(), &mut projected, exec);
        Ok(projected.chunks_exact(self.projection.outputs()).map(<[f32]>::to_vec).collect())
    }
}
