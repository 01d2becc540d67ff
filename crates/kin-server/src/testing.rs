//! For tests of the server (its own and its users'): a small deterministic embedder that
//! tokenizes bytes, embeds quickly, and records the size of every forward pass, and a state
//! over a temporary store that serves it as `fake-model`.

use std::time::Duration;

use kin_core::Modality;
use kin_embed::{Embedder, Embeddings};
use parking_lot::Mutex;

/// The id every sequence starts and ends with.
const SPECIAL: u32 = 300;

pub struct FakeEmbedder {
    name: String,
    dim: usize,
    delay: Duration,
    calls: Mutex<Vec<usize>>,
}

impl FakeEmbedder {
    pub fn new(dim: usize) -> Self {
        FakeEmbedder { name: "fake-model".into(), dim, delay: Duration::ZERO, calls: Mutex::new(Vec::new()) }
    }

    /// Each forward pass takes at least this long.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Inputs per forward pass, in order.
    pub fn calls(&self) -> Vec<usize> {
        self.calls.lock().clone()
    }
}

impl Embedder for FakeEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn modalities(&self) -> &[Modality] {
        &[Modality::Text]
    }

    fn normalized(&self) -> bool {
        true
    }

    fn embed_text(&self, texts: &[&str]) -> kin_embed::Result<Embeddings> {
        let ids = self.tokenize(texts)?;
        self.embed_tokenized(&ids)
    }

    fn tokenizes(&self) -> bool {
        true
    }

    fn tokenize(&self, texts: &[&str]) -> kin_embed::Result<Vec<Vec<u32>>> {
        let raw: Vec<Vec<u32>> = texts.iter().map(|t| t.bytes().map(u32::from).collect()).collect();
        self.wrap_tokens(&raw)
    }

    fn wrap_tokens(&self, tokens: &[Vec<u32>]) -> kin_embed::Result<Vec<Vec<u32>>> {
        tokens
            .iter()
            .enumerate()
            .map(|(index, t)| {
                if let Some(bad) = t.iter().find(|id| **id >= SPECIAL) {
                    return Err(kin_embed::Error::Tokenize {
                        index,
                        message: format!("token id {bad} is outside the vocabulary"),
                    });
                }
                Ok([&[SPECIAL][..], &t[..t.len().min(64)], &[SPECIAL]].concat())
            })
            .collect()
    }

    fn embed_tokenized(&self, ids: &[Vec<u32>]) -> kin_embed::Result<Embeddings> {
        std::thread::sleep(self.delay);
        if let Some(index) = ids.iter().position(|s| s.len() <= 2) {
            return Err(kin_embed::Error::Tokenize { index, message: "no tokens".into() });
        }
        self.calls.lock().push(ids.len());
        Ok(ids
            .iter()
            .map(|seq| {
                let mut v: Vec<f32> = (0..self.dim)
                    .map(|d| {
                        seq.iter()
                            .enumerate()
                            .map(|(p, &id)| ((id as f32 + 1.0) * (d as f32 + 1.0) + p as f32).sin())
                            .sum()
                    })
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
            .collect())
    }
}

/// A state over a fresh store in `dir`, serving `model` as `fake-model`, with `config`'s limits.
pub fn state_with(
    dir: &std::path::Path,
    model: std::sync::Arc<FakeEmbedder>,
    mut config: crate::ServerConfig,
) -> std::sync::Arc<crate::AppState> {
    config.data = dir.to_path_buf();
    config.models = vec!["fake-model".to_string()];
    let loader: crate::Loader = std::sync::Arc::new(move |name: &str| {
        if name == "fake-model" {
            Ok(model.clone() as std::sync::Arc<dyn Embedder>)
        } else {
            Err(kin_embed::Error::InputShape { message: format!("no model {name} in tests") })
        }
    });
    let state = crate::AppState::open(config, loader).expect("a state over a temporary store");
    state.set_ready();
    state
}
