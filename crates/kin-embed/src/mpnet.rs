//! MPNet encoders (e.g. all-mpnet-base-v2): `config.json` of `model_type` "mpnet".
//!
//! Differs from BERT in three places: positions start at `pad_token_id + 1`, there are no token
//! type embeddings, and every layer adds a learned bias per head that depends on the bucketed
//! relative distance between query and key.

use std::path::Path;

use serde::Deserialize;

use crate::backbone::{check_activation, Backbone, Positions, TokenEmbeddings};
use crate::transformer::{run_layers, Dims, EncoderLayer, Exec, LayerNames, Packed, RelativeBias};
use crate::weights::Weights;
use crate::{Error, Result};

const MAX_DISTANCE: i64 = 128;

#[derive(Debug, Clone, Deserialize)]
pub struct MpnetConfig {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_pad")]
    pub pad_token_id: usize,
    #[serde(default = "default_buckets")]
    pub relative_attention_num_buckets: usize,
}

fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}
fn default_pad() -> usize {
    1
}
fn default_buckets() -> usize {
    32
}

impl MpnetConfig {
    pub fn validate(&self, path: &Path) -> Result<()> {
        check_activation(&self.hidden_act, path)?;
        let invalid = |message: String| Err(Error::InvalidConfig { path: path.to_path_buf(), message });
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return invalid(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.max_position_embeddings <= self.pad_token_id + 1 || self.relative_attention_num_buckets < 4 {
            return invalid(
                "max_position_embeddings, pad_token_id or relative_attention_num_buckets out of range".into(),
            );
        }
        Ok(())
    }
}

const LAYER_NAMES: LayerNames = LayerNames {
    query: "attention.attn.q",
    key: "attention.attn.k",
    value: "attention.attn.v",
    attn_out: "attention.attn.o",
    attn_norm: "attention.LayerNorm",
    ffn_in: "intermediate.dense",
    ffn_out: "output.dense",
    ffn_norm: "output.LayerNorm",
};

pub struct MpnetModel {
    embeddings: TokenEmbeddings,
    layers: Vec<EncoderLayer>,
    bias: RelativeBias,
    pad_id: u32,
    hidden: usize,
}

impl MpnetModel {
    pub fn load(weights: &Weights, cfg: &MpnetConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        let eps = cfg.layer_norm_eps as f32;
        let embeddings = TokenEmbeddings::load(weights, cfg.vocab_size, cfg.max_position_embeddings, h, eps)?;
        let dims = Dims { hidden: h, heads: cfg.num_attention_heads, intermediate: cfg.intermediate_size, eps };
        let layers = (0..cfg.num_hidden_layers)
            .map(|l| EncoderLayer::load(weights, &format!("encoder.layer.{l}"), &LAYER_NAMES, dims))
            .collect::<Result<_>>()?;
        let buckets = cfg.relative_attention_num_buckets;
        let table = weights.get("encoder.relative_attention_bias.weight", &[buckets, cfg.num_attention_heads])?;
        let max_len = cfg.max_position_embeddings - (cfg.pad_token_id + 1);
        let per_head = (0..cfg.num_attention_heads)
            .map(|head| {
                (0..2 * max_len - 1)
                    .map(|k| {
                        let relative = k as i64 - (max_len as i64 - 1);
                        table[relative_position_bucket(relative, buckets as i64) * cfg.num_attention_heads + head]
                    })
                    .collect()
            })
            .collect();
        Ok(MpnetModel {
            embeddings,
            layers,
            bias: RelativeBias { table: per_head, max_len },
            pad_id: cfg.pad_token_id as u32,
            hidden: h,
        })
    }
}

/// The bucket of a key at `relative` = key − query positions, computed in `f32` exactly as the
/// reference does (its truncation of `log` ratios decides bucket edges).
pub fn relative_position_bucket(relative: i64, num_buckets: i64) -> usize {
    let half = num_buckets / 2;
    let n = -relative;
    let mut bucket = if n < 0 { half } else { 0 };
    let n = n.abs();
    let max_exact = half / 2;
    if n < max_exact {
        bucket += n;
    } else {
        let ratio = (n as f32 / max_exact as f32).ln() / ((MAX_DISTANCE as f64 / max_exact as f64).ln() as f32);
        let large = max_exact + (ratio * (half - max_exact) as f32) as i64;
        bucket += large.min(half - 1);
    }
    bucket as usize
}

impl Backbone for MpnetModel {
    fn hidden_size(&self) -> usize {
        self.hidden
    }

    fn max_tokens(&self) -> usize {
        self.bias.max_len
    }

    fn quantize(&mut self) {
        self.layers.iter_mut().for_each(EncoderLayer::quantize);
    }

    fn forward(&self, packed: &Packed, exec: Exec) -> Result<Vec<f32>> {
        let mut hidden = self.embeddings.embed(packed, Positions::AfterPadding { pad_id: self.pad_id }, &[], exec)?;
        run_layers(&self.layers, &mut hidden, packed, Some(&self.bias), exec);
        Ok(hidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_the_reference_table() {
        let golden = include_str!("../tests/golden/mpnet_buckets.txt");
        let want: Vec<usize> = golden.trim().split(',').map(|v| v.parse().unwrap()).collect();
        for (k, &w) in want.iter().enumerate() {
            let relative = k as i64 - 513;
            assert_eq!(relative_position_bucket(relative, 32), w, "relative position {relative}");
        }
    }
}
