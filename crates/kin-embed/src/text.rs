//! `TextEncoder`: a local transformer text model (BERT or MPNet) behind the `Embedder` seam.

use std::path::Path;

use kin_core::Modality;
use rayon::prelude::*;
use serde::Deserialize;

use crate::backbone::Backbone;
use crate::batch::{plan_batches, DEFAULT_TOKEN_BUDGET};
use crate::bert::{BertConfig, BertModel};
use crate::kernels::normalize;
use crate::mpnet::{MpnetConfig, MpnetModel};
use crate::precision::Precision;
use crate::sbert::{read_json, SentencePipeline};
use crate::tokenize::TextTokenizer;
use crate::transformer::{Exec, Packed};
use crate::weights::{model_weights_path, Weights};
use crate::{Embedder, Embeddings, Error, Result};

/// Upper bound on sequences in one forward pass.
const MAX_BATCH_ITEMS: usize = 512;

#[derive(Deserialize)]
struct ArchitectureProbe {
    model_type: Option<String>,
}

/// A sentence-transformers (or plain Hugging Face) text encoder loaded from a folder.
pub struct TextEncoder {
    name: String,
    tokenizer: TextTokenizer,
    backbone: Box<dyn Backbone>,
    pipeline: SentencePipeline,
    token_budget: usize,
    max_items: usize,
}

impl TextEncoder {
    /// Loads a model folder; `config.json`'s `model_type` picks the architecture.
    pub fn load(dir: &Path, name: &str) -> Result<Self> {
        let config_path = dir.join("config.json");
        let probe: ArchitectureProbe = read_json(&config_path)?;
        let weights_path = model_weights_path(dir)?;
        let model_type = probe.model_type.unwrap_or_default();
        let backbone: Box<dyn Backbone> = match model_type.as_str() {
            "bert" => {
                let cfg: BertConfig = read_json(&config_path)?;
                cfg.validate(&config_path)?;
                Box::new(BertModel::load(&Weights::open(&weights_path, &["bert."])?, &cfg)?)
            }
            "mpnet" => {
                let cfg: MpnetConfig = read_json(&config_path)?;
                cfg.validate(&config_path)?;
                Box::new(MpnetModel::load(&Weights::open(&weights_path, &["mpnet."])?, &cfg)?)
            }
            _ => return Err(Error::UnsupportedArchitecture { path: config_path, model_type }),
        };
        let pipeline = SentencePipeline::load(dir)?;
        let max_tokens = pipeline.max_seq_length.unwrap_or(usize::MAX).min(backbone.max_tokens());
        let tokenizer = TextTokenizer::load(&dir.join("tokenizer.json"), max_tokens, pipeline.lowercase)?;
        tracing::debug!(model = name, ?pipeline, max_tokens, "text encoder loaded");
        Ok(TextEncoder {
            name: name.to_string(),
            tokenizer,
            backbone,
            pipeline,
            token_budget: DEFAULT_TOKEN_BUDGET,
            max_items: MAX_BATCH_ITEMS,
        })
    }

    /// Moves the encoder's dense layers to int8; the name gains `@int8`, so that its vectors
    /// never mix with the f32 model's.
    pub fn quantized(mut self) -> Self {
        self.backbone.quantize();
        self.name = Precision::Int8.apply(&self.name);
        self
    }

    /// Bounds each forward pass to `tokens` tokens and `items` sequences.
    pub fn with_batch_limits(mut self, tokens: usize, items: usize) -> Self {
        self.token_budget = tokens.max(1);
        self.max_items = items.max(1);
        self
    }

    /// Token ids per text, as the model sees them (special tokens included, truncated).
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        self.tokenizer.encode(texts)
    }

    fn pooled_dim(&self) -> usize {
        self.backbone.hidden_size() * self.pipeline.pooling.len()
    }

    /// Embeds already tokenised sequences (each non-empty).
    ///
    /// Several batches run side by side, one per thread, each on its own thread only: no
    /// synchronisation inside a forward pass. A single batch spreads over all threads instead.
    fn embed_ids(&self, ids: &[Vec<u32>]) -> Result<Embeddings> {
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let batches = plan_batches(&lengths, self.token_budget, self.max_items);
        let pooled: Vec<Vec<Vec<f32>>> = if batches.len() > 1 && rayon::current_num_threads() > 1 {
            batches.par_iter().map(|b| self.embed_batch(ids, b, Exec::Sequential)).collect::<Result<_>>()?
        } else {
            batches.iter().map(|b| self.embed_batch(ids, b, Exec::Parallel)).collect::<Result<_>>()?
        };
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); ids.len()];
        for (batch, vectors) in batches.into_iter().zip(pooled) {
            for (i, v) in batch.into_iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Pooled (and normalised) vectors of the sequences `batch` of `ids`, in batch order.
    fn embed_batch(&self, ids: &[Vec<u32>], batch: &[usize], exec: Exec) -> Result<Vec<Vec<f32>>> {
        let h = self.backbone.hidden_size();
        let packed = Packed::from_sequences(batch.iter().map(|&i| ids[i].as_slice()));
        let hidden = self.backbone.forward(&packed, exec)?;
        Ok(packed
            .ranges()
            .map(|r| {
                let mut v = Vec::with_capacity(self.pooled_dim());
                for p in &self.pipeline.pooling {
                    p.pool(&hidden[r.start * h..r.end * h], h, &mut v);
                }
                if self.pipeline.normalize {
                    normalize(&mut v);
                }
                v
            })
            .collect())
    }
}

impl Embedder for TextEncoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.pooled_dim()
    }

    fn modalities(&self) -> &[Modality] {
        &[Modality::Text]
    }

    fn normalized(&self) -> bool {
        self.pipeline.normalize
    }

    fn embed_text(&self, texts: &[&str]) -> Result<Embeddings> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let ids = TextEncoder::tokenize(self, texts)?;
        self.embed_tokenized(&ids)
    }

    fn text_tokenizer(&self) -> Option<&TextTokenizer> {
        Some(&self.tokenizer)
    }

    fn tokenizes(&self) -> bool {
        true
    }

    fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        TextEncoder::tokenize(self, texts)
    }

    fn wrap_tokens(&self, tokens: &[Vec<u32>]) -> Result<Vec<Vec<u32>>> {
        tokens.iter().enumerate().map(|(i, t)| self.tokenizer.wrap(i, t)).collect()
    }

    fn embed_tokenized(&self, ids: &[Vec<u32>]) -> Result<Embeddings> {
        if let Some(index) = ids.iter().position(Vec::is_empty) {
            return Err(Error::Tokenize { index, message: "the tokenizer produced no tokens".into() });
        }
        self.embed_ids(ids)
    }
}
