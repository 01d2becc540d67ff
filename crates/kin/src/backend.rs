//! Where collections live: the embedded store in `--data` (the default), or a vector database
//! server named by `--backend` / `KIN_BACKEND`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use kin_store::{Backend, Store};

/// The backend of `--backend` (or `KIN_BACKEND`), else the embedded store in `data`.
pub fn open(backend: Option<&str>, data: &Path) -> Result<Arc<dyn Backend>> {
    match backend.map(str::trim).filter(|b| !b.is_empty()) {
        None => Ok(Arc::new(Store::open(data)?)),
        Some(url) => open_url(url),
    }
}

/// A backend by URL: `milvus://…`, or a directory for the embedded store.
pub fn open_url(url: &str) -> Result<Arc<dyn Backend>> {
    if url.starts_with("milvus://") || url.starts_with("milvus+tls://") {
        return Ok(Arc::new(kin_milvus::MilvusBackend::connect(&kin_milvus::MilvusTarget::parse(url)?)?));
    }
    if url.contains("://") {
        anyhow::bail!("unknown backend {url:?}: expected milvus://HOST[:PORT] or a data directory");
    }
    Ok(Arc::new(Store::open(Path::new(url))?))
}
