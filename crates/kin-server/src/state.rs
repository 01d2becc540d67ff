//! `AppState`: what every handler shares: the store, the models, uploaded files, the metrics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kin_store::{Backend, Store};

use crate::config::ServerConfig;
use crate::files::FileStore;
use crate::metrics::Metrics;
use crate::models::{Loader, ModelPool};
use crate::Result;

pub struct AppState {
    pub config: ServerConfig,
    /// Where collections live: the embedded store or a vector database server.
    pub store: Arc<dyn Backend>,
    pub models: ModelPool,
    pub files: FileStore,
    pub metrics: Arc<Metrics>,
    /// Multipart uploads in progress, at most `config.max_uploads`.
    pub uploads: Arc<tokio::sync::Semaphore>,
    ready: AtomicBool,
}

impl AppState {
    /// Opens the embedded store under `config.data`; models load on first use through `loader`.
    pub fn open(config: ServerConfig, loader: Loader) -> Result<Arc<AppState>> {
        config.validate()?;
        let store: Arc<dyn Backend> = Arc::new(Store::open(&config.data)?);
        AppState::open_with(config, store, loader)
    }

    /// As `open`, over `store` (uploaded files still live under `config.data`).
    pub fn open_with(config: ServerConfig, store: Arc<dyn Backend>, loader: Loader) -> Result<Arc<AppState>> {
        config.validate()?;
        let files = FileStore::open(&config.data.join("files"), config.max_files_bytes)?;
        let metrics = Arc::new(Metrics::default());
        let models = ModelPool::new(loader, &config, metrics.clone());
        let ready = AtomicBool::new(config.models.is_empty());
        let uploads = Arc::new(tokio::sync::Semaphore::new(config.max_uploads));
        Ok(Arc::new(AppState { config, store, models, files, metrics, uploads, ready }))
    }

    /// Whether the models named at start are loaded.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub(crate) fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}
