use kin_core::Modality;

use crate::{Error, Result};

/// One row per input, in input order.
pub type Embeddings = Vec<Vec<f32>>;

/// A model that turns inputs into vectors. Synchronous, batch in / batch out, shareable across threads.
///
/// Vectors from different embedders never compare: a collection is bound to one embedder's `name()`.
pub trait Embedder: Send + Sync {
    /// The model's registry name (or its local path when it has none).
    fn name(&self) -> &str;

    /// Length of every vector this embedder returns.
    fn dim(&self) -> usize;

    /// What kinds of input this embedder takes.
    fn modalities(&self) -> &[Modality];

    /// Whether returned vectors have unit length.
    fn normalized(&self) -> bool;

    /// Embeds texts; one vector per text, in input order. An empty slice gives an empty result.
    fn embed_text(&self, texts: &[&str]) -> Result<Embeddings> {
        let _ = texts;
        Err(Error::UnsupportedModality { model: self.name().to_string(), modality: Modality::Text })
    }
}
