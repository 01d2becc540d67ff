//! `ModelPool`: the models a server may run, loaded on first use, each with its `Batcher`.
//!
//! A caller may name any model of kin's registry (by name or alias) or one named when the
//! server started (`--model`, which may also be a local folder). Other names are refused rather
//! than fetched: a request cannot make the server download arbitrary repositories or read
//! arbitrary folders.

use std::collections::HashMap;
use std::sync::Arc;

use kin_embed::Embedder;
use kin_models::Registry;
use parking_lot::Mutex;

use crate::batcher::{BatchConfig, Batcher};
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Loads a model by name (`kin_embed::load_with` in the server; a fake in tests).
pub type Loader = Arc<dyn Fn(&str) -> kin_embed::Result<Arc<dyn Embedder>> + Send + Sync>;

pub struct ModelPool {
    loader: Loader,
    /// Names given at start, allowed beside the registry's.
    named: Vec<String>,
    loaded: Mutex<HashMap<String, Arc<Batcher>>>,
    loading: tokio::sync::Mutex<()>,
    batch: BatchConfig,
    metrics: Arc<Metrics>,
}

impl ModelPool {
    pub fn new(loader: Loader, config: &ServerConfig, metrics: Arc<Metrics>) -> ModelPool {
        ModelPool {
            loader,
            named: config.models.clone(),
            loaded: Mutex::default(),
            loading: tokio::sync::Mutex::new(()),
            batch: BatchConfig {
                queue_inputs: config.queue_inputs,
                wait: config.batch_wait,
                tokens: config.batch_tokens,
            },
            metrics,
        }
    }

    /// The model `name`, loading it (once, on a blocking thread) if needed.
    pub async fn get(&self, name: &str) -> Result<Arc<Batcher>, ApiError> {
        if let Some(b) = self.loaded.lock().get(name) {
            return Ok(b.clone());
        }
        self.check_allowed(name)?;
        let _one_at_a_time = self.loading.lock().await;
        if let Some(b) = self.loaded.lock().get(name) {
            return Ok(b.clone());
        }
        let (loader, spec) = (self.loader.clone(), name.to_string());
        let model = tokio::task::spawn_blocking(move || loader(&spec))
            .await
            .map_err(|e| ApiError::internal(format!("loading {name}: {e}")))??;
        tracing::info!(model = model.name(), dim = model.dim(), "model loaded");
        let batcher = Arc::new(Batcher::start(model.clone(), self.batch, self.metrics.clone()));
        let mut loaded = self.loaded.lock();
        loaded.insert(name.to_string(), batcher.clone());
        loaded.insert(model.name().to_string(), batcher.clone());
        Ok(batcher)
    }

    /// Names of the models loaded now.
    pub fn loaded(&self) -> Vec<String> {
        let loaded = self.loaded.lock();
        let mut names: Vec<String> = loaded.values().map(|b| b.model().name().to_string()).collect();
        names.sort();
        names.dedup();
        names
    }

    fn check_allowed(&self, name: &str) -> Result<(), ApiError> {
        let registry = Registry::builtin();
        if self.named.iter().any(|n| n == name) || registry.find(name).is_some() {
            return Ok(());
        }
        let suggestions = registry.suggest(name);
        let hint =
            if suggestions.is_empty() { String::new() } else { format!(" (did you mean {}?)", suggestions.join(", ")) };
        Err(ApiError::not_found(
            "unknown_model",
            format!("model {name:?} is not served here{hint}; GET /v1/models lists the models this server runs"),
        ))
    }

    /// Every model a caller may name: the registry's, and those named at start.
    pub fn available(&self) -> Vec<String> {
        let mut names: Vec<String> = Registry::builtin().cards().iter().map(|c| c.name.to_string()).collect();
        names.extend(self.named.iter().cloned());
        names.sort();
        names.dedup();
        names
    }
}
