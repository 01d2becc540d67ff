//! kin's embedders.
//!
//! ```no_run
//! let model = kin_embed::load("all-MiniLM-L6-v2")?;
//! let vectors = model.embed_text(&["a sentence", "another one"])?;
//! # Ok::<(), kin_embed::Error>(())
//! ```

mod backbone;
mod batch;
mod bert;
mod clip;
mod conv;
mod embedder;
mod error;
mod image;
mod int8;
mod kernels;
mod linear;
mod load;
mod mpnet;
mod perceiver;
mod pickle;
mod pooling;
mod precision;
mod prenorm;
mod remote;
mod resnet;
mod sbert;
mod state_dict;
mod text;
mod tokenize;
mod transformer;
mod weights;
mod whisper;

pub use batch::{plan_batches, DEFAULT_TOKEN_BUDGET};
pub use clip::ClipModel;
pub use embedder::{Embedder, Embeddings, VideoClip};
pub use error::{Error, Result};
pub use image::ResNetEncoder;
pub use int8::{int8_kernel_level, Activations, QuantizedWeights};
pub use kernels::{gemm_level, kernel_level};
pub use load::{load, load_with, LoadOptions};
pub use perceiver::{PerceiverConfig, PerceiverEmbedder, PerceiverEncoder};
pub use pickle::PickleError;
pub use pooling::Pooling;
pub use precision::Precision;
pub use remote::{RemoteConfig, RemoteEmbedder};
pub use resnet::{ResNet, ResNetConfig};
pub use text::TextEncoder;
pub use tokenize::TextTokenizer;
pub use transformer::Exec;
pub use whisper::{WhisperConfig, WhisperEmbedder, WhisperEncoder};
