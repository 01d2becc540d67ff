//! kin's embedders.
//!
//! ```no_run
//! let model = kin_embed::load("all-MiniLM-L6-v2")?;
//! let vectors = model.embed_text(&["a sentence", "another one"])?;
//! # Ok::<(), kin_embed::Error>(())
//! ```

mod embedder;
mod error;

pub use embedder::{Embedder, Embeddings};
pub use error::{Error, Result};
