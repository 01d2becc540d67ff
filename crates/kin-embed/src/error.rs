use std::path::PathBuf;

use kin_core::Modality;

/// Everything that can go wrong while loading a model or embedding inputs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Model(#[from] kin_models::Error),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("{path}: unreadable weights ({message}); delete the file and run `kin models pull` again")]
    CorruptWeights { path: PathBuf, message: String },

    #[error(
        "{path}: not found; a model folder needs safetensors weights (`kin models pull NAME` fetches complete folders)"
    )]
    MissingWeights { path: PathBuf },

    #[error("{path}: tensor {name:?} is missing; the checkpoint does not match its config.json")]
    MissingTensor { path: PathBuf, name: String },

    #[error("{path}: tensor {name:?} has shape {got:?}, expected {expected:?}")]
    TensorShape { path: PathBuf, name: String, expected: Vec<usize>, got: Vec<usize> },

    #[error("{path}: {source}; convert the checkpoint to safetensors")]
    Pickle {
        path: PathBuf,
        #[source]
        source: crate::pickle::PickleError,
    },

    #[error("{path}: tensor {name:?} has dtype {dtype}, which kin cannot read as floats")]
    TensorDtype { path: PathBuf, name: String, dtype: String },

    #[error("{path}: unsupported architecture {model_type:?} (kin runs bert and mpnet text encoders)")]
    UnsupportedArchitecture { path: PathBuf, model_type: String },

    #[error("{path}: {message}")]
    InvalidConfig { path: PathBuf, message: String },

    #[error("{path}: tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },

    #[error("tokenizing input {index}: {message}")]
    Tokenize { index: usize, message: String },

    #[error(transparent)]
    Image(#[from] kin_image::ImageError),

    #[error("image {index}: preprocessing gave {}x{} pixels, the model takes {}x{}", got.0, got.1, expected.0, expected.1)]
    ImageSize { index: usize, got: (usize, usize), expected: (usize, usize) },

    #[error("log-mel input has {got} values; the encoder takes {n_mels} mel bins × {frames} frames")]
    AudioShape { got: usize, n_mels: usize, frames: usize },

    #[error("{message}")]
    InputShape { message: String },

    #[error("model {model}: {precision} precision is available for local text encoders (BERT, MPNet) only")]
    UnsupportedPrecision { model: String, precision: crate::Precision },

    #[error("model {model} does not embed {modality}")]
    UnsupportedModality { model: String, modality: Modality },

    #[error("remote embedding API {url}: {message}")]
    Remote { url: String, status: Option<u16>, message: String },

    #[error("remote embedding API {url}: {message}; set OPENAI_API_KEY")]
    MissingApiKey { url: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
