//! CLIP: a text tower and an image tower whose projections share one space, so a sentence
//! finds pictures. Loads Hugging Face `CLIPModel` checkpoints (`openai/clip-vit-base-patch32`,
//! `openai/clip-vit-large-patch14`, …).

mod config;
mod text;
mod vision;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use kin_core::Modality;
use kin_image::{Image, Pixels, PreprocessConfig};
use rayon::prelude::*;

use config::ClipConfig;
use text::ClipText;
use vision::ClipVision;

use crate::batch::plan_batches;
use crate::image::{load_preprocessor, preprocess_checked, stack, CLIP_PREPROCESSOR};
use crate::kernels::normalize;
use crate::sbert::read_json;
use crate::tokenize::TextTokenizer;
use crate::transformer::Exec;
use crate::weights::{model_weights_path, Weights};
use crate::{Embedder, Embeddings, Error, Result};

/// Images per forward pass of the image tower.
const IMAGE_BATCH: usize = 16;
/// Tokens per forward pass of the text tower.
const TEXT_TOKEN_BUDGET: usize = 4096;

/// A CLIP checkpoint loaded from a folder holding `config.json`, `model.safetensors` and
/// `tokenizer.json`.
///
/// Each tower is read from the checkpoint the first time it is used, so a text query does not
/// pay for the image tower and a batch of images not for the text tower.
pub struct ClipModel {
    name: String,
    dir: PathBuf,
    cfg: ClipConfig,
    weights: Weights,
    text: OnceLock<(ClipText, TextTokenizer)>,
    vision: OnceLock<ClipVision>,
    preprocess: PreprocessConfig,
    dim: usize,
}

impl ClipModel {
    pub fn load(dir: &Path, name: &str) -> Result<Self> {
        let config_path = dir.join("config.json");
        let cfg: ClipConfig = read_json(&config_path)?;
        let weights_path = model_weights_path(dir)?;
        let weights = Weights::open(&weights_path, &[])?;
        cfg.text_config.validate(&config_path)?;
        cfg.vision_config.validate(&config_path)?;
        // The towers load lazily; their projections are checked now so a mismatched checkpoint
        // fails at once.
        for (tensor, hidden) in [
            ("text_projection.weight", cfg.text_config.hidden_size),
            ("visual_projection.weight", cfg.vision_config.hidden_size),
        ] {
            let expected = vec![cfg.projection_dim, hidden];
            match weights.shape(tensor) {
                None => return Err(Error::MissingTensor { path: weights_path, name: tensor.into() }),
                Some(got) if got != expected => {
                    return Err(Error::TensorShape { path: weights_path, name: tensor.into(), expected, got })
                }
                Some(_) => {}
            }
        }
        let preprocess = load_preprocessor(dir, CLIP_PREPROCESSOR)?;
        tracing::debug!(model = name, dim = cfg.projection_dim, "CLIP opened");
        Ok(ClipModel {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            dim: cfg.projection_dim,
            cfg,
            weights,
            text: OnceLock::new(),
            vision: OnceLock::new(),
            preprocess,
        })
    }

    /// The text tower and its tokenizer, read on first use.
    fn text(&self) -> Result<&(ClipText, TextTokenizer)> {
        if let Some(loaded) = self.text.get() {
            return Ok(loaded);
        }
        let config_path = self.dir.join("config.json");
        let text = ClipText::load(&self.weights, &self.cfg.text_config, self.cfg.projection_dim, &config_path)?;
        // CLIP's tokenizer lower-cases in its own normaliser.
        let tokenizer = TextTokenizer::load(&self.dir.join("tokenizer.json"), text.max_tokens(), false)?;
        Ok(self.text.get_or_init(|| (text, tokenizer)))
    }

    /// The image tower, read on first use.
    fn vision(&self) -> Result<&ClipVision> {
        if let Some(loaded) = self.vision.get() {
            return Ok(loaded);
        }
        let config_path = self.dir.join("config.json");
        let vision = ClipVision::load(&self.weights, &self.cfg.vision_config, self.cfg.projection_dim, &config_path)?;
        Ok(self.vision.get_or_init(|| vision))
    }

    /// Token ids per text, as the text tower sees them (start and end tokens included, truncated).
    pub fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        self.text()?.1.encode(texts)
    }

    /// The square side, in pixels, the image tower takes.
    pub fn image_size(&self) -> usize {
        self.cfg.vision_config.image_size
    }

    /// Normalised embeddings of already tokenised texts.
    pub fn embed_ids(&self, ids: &[Vec<u32>]) -> Result<Embeddings> {
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let batches = plan_batches(&lengths, TEXT_TOKEN_BUDGET, 256);
        let run = |batch: &Vec<usize>, exec| {
            let seqs: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
            self.text().and_then(|(text, _)| text.forward(&seqs, exec))
        };
        let vectors: Vec<Vec<Vec<f32>>> = if batches.len() > 1 {
            batches.par_iter().map(|b| run(b, Exec::Sequential)).collect::<Result<_>>()?
        } else {
            batches.iter().map(|b| run(b, Exec::Parallel)).collect::<Result<_>>()?
        };
        let mut out = vec![Vec::new(); ids.len()];
        for (batch, vs) in batches.iter().zip(vectors) {
            for (&i, mut v) in batch.iter().zip(vs) {
                normalize(&mut v);
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Normalised embeddings of `n` preprocessed images (CHW `f32`, `image_size()` square, laid
    /// end to end). Batches of images run side by side, one per thread.
    pub fn embed_pixel_data(&self, pixels: &[f32], n: usize) -> Result<Embeddings> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let vision = self.vision()?;
        let per_image = pixels.len() / n;
        let chunks: Vec<&[f32]> = pixels.chunks(per_image * IMAGE_BATCH).collect();
        let run = |chunk: &&[f32], exec| vision.forward(chunk, chunk.len() / per_image, exec);
        let batches: Vec<Embeddings> = if chunks.len() > 1 {
            chunks.par_iter().map(|c| run(c, Exec::Sequential)).collect()
        } else {
            chunks.iter().map(|c| run(c, Exec::Parallel)).collect()
        };
        let mut out: Embeddings = batches.into_iter().flatten().collect();
        out.iter_mut().for_each(|v| normalize(v));
        Ok(out)
    }
}

impl Embedder for ClipModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn modalities(&self) -> &[Modality] {
        &[Modality::Text, Modality::Image]
    }

    fn normalized(&self) -> bool {
        true
    }

    fn embed_text(&self, texts: &[&str]) -> Result<Embeddings> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ClipModel::tokenize(self, texts)?;
        self.embed_tokenized(&ids)
    }

    fn text_tokenizer(&self) -> Option<&TextTokenizer> {
        self.text().ok().map(|(_, tokenizer)| tokenizer)
    }

    fn tokenizes(&self) -> bool {
        true
    }

    fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        ClipModel::tokenize(self, texts)
    }

    fn wrap_tokens(&self, tokens: &[Vec<u32>]) -> Result<Vec<Vec<u32>>> {
        let tokenizer = &self.text()?.1;
        tokens.iter().enumerate().map(|(i, t)| tokenizer.wrap(i, t)).collect()
    }

    fn embed_tokenized(&self, ids: &[Vec<u32>]) -> Result<Embeddings> {
        if let Some(index) = ids.iter().position(Vec::is_empty) {
            return Err(Error::Tokenize { index, message: "the tokenizer produced no tokens".into() });
        }
        self.embed_ids(ids)
    }

    fn preprocess_image(&self, image: &Image) -> Result<Pixels> {
        preprocess_checked(image, &self.preprocess, Some(self.image_size()))
    }

    fn embed_pixels(&self, pixels: &[Pixels]) -> Result<Embeddings> {
        let (data, height, width) = stack(pixels)?;
        let side = self.image_size();
        if !pixels.is_empty() && (height, width) != (side, side) {
            return Err(Error::ImageSize { index: 0, got: (height, width), expected: (side, side) });
        }
        self.embed_pixel_data(&data, pixels.len())
    }
}
