//! kin's model registry, model sources and cache.

mod error;

pub use error::{Error, Result};
