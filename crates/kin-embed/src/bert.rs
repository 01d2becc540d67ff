//! BERT encoders (e.g. all-MiniLM-L6-v2): `config.json` of `model_type` "bert".

use std::path::Path;

use serde::Deserialize;

use crate::backbone::{check_activation, Backbone, Positions, TokenEmbeddings};
use crate::transformer::{run_layers, Dims, EncoderLayer, Exec, LayerNames, Packed};
use crate::weights::Weights;
use crate::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub vocab_size: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default)]
    pub position_embedding_type: Option<String>,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_act() -> String {
    "gelu".into()
}

impl BertConfig {
    pub fn validate(&self, path: &Path) -> Result<()> {
        check_activation(&self.hidden_act, path)?;
        if let Some(p) = self.position_embedding_type.as_deref().filter(|p| *p != "absolute") {
            return Err(Error::InvalidConfig {
                path: path.to_path_buf(),
                message: format!("position_embedding_type {p:?} is not supported (only \"absolute\")"),
            });
        }
        if self.num_attention_heads == 0 || !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(Error::InvalidConfig {
                path: path.to_path_buf(),
                message: format!(
                    "hidden_size {} is not divisible by num_attention_heads {}",
                    self.hidden_size, self.num_attention_heads
                ),
            });
        }
        Ok(())
    }
}

const LAYER_NAMES: LayerNames = LayerNames {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    attn_out: "attention.output.dense",
    attn_norm: "attention.output.LayerNorm",
    ffn_in: "intermediate.dense",
    ffn_out: "output.dense",
    ffn_norm: "output.LayerNorm",
};

pub struct BertModel {
    embeddings: TokenEmbeddings,
    token_type: Vec<f32>,
    layers: Vec<EncoderLayer>,
    hidden: usize,
}

impl BertModel {
    pub fn load(weights: &Weights, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        let eps = cfg.layer_norm_eps as f32;
        let embeddings = TokenEmbeddings::load(weights, cfg.vocab_size, cfg.max_position_embeddings, h, eps)?;
        let token_type = weights.get("embeddings.token_type_embeddings.weight", &[cfg.type_vocab_size, h])?;
        let dims = Dims { hidden: h, heads: cfg.num_attention_heads, intermediate: cfg.intermediate_size, eps };
        let layers = (0..cfg.num_hidden_layers)
            .map(|l| EncoderLayer::load(weights, &format!("encoder.layer.{l}"), &LAYER_NAMES, dims))
            .collect::<Result<_>>()?;
        Ok(BertModel { embeddings, token_type: token_type[..h].to_vec(), layers, hidden: h })
    }
}

impl Backbone for BertModel {
    fn hidden_size(&self) -> usize {
        self.hidden
    }

    fn max_tokens(&self) -> usize {
        self.embeddings.max_positions
    }

    fn quantize(&mut self) {
        self.layers.iter_mut().for_each(EncoderLayer::quantize);
    }

    fn forward(&self, packed: &Packed, exec: Exec) -> Result<Vec<f32>> {
        // Positions count from 0 in each sequence; every token has token type 0.
        let mut hidden = self.embeddings.embed(packed, Positions::FromZero, &self.token_type, exec)?;
        run_layers(&self.layers, &mut hidden, packed, None, exec);
        Ok(hidden)
    }
}
