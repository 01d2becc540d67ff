use std::path::PathBuf;

/// Everything that can go wrong while building, searching, saving or loading an index.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("vector has dimension {got}, the index expects {expected}")]
    DimensionMismatch { expected: usize, got: usize },

    #[error("a batch of {len} values is not a whole number of rows of dimension {dim}")]
    RaggedBatch { len: usize, dim: usize },

    #[error("value {index} of the input is not a finite number")]
    NonFinite { index: usize },

    #[error("row {row} is a zero vector, which has no direction under the cosine metric")]
    ZeroVector { row: usize },

    #[error("invalid parameter {name} = {value}: {reason}")]
    InvalidParameter { name: &'static str, value: u64, reason: &'static str },

    #[error("a quantizer needs at least one training vector")]
    EmptyTrainingSet,

    #[error("id {id} was never assigned: the index has assigned {assigned} ids")]
    UnknownId { id: u32, assigned: u32 },

    #[error("the index is full: it cannot hold more than {capacity} ids")]
    CapacityExceeded { capacity: u64 },

    #[error("{path}: corrupt index file: {message}")]
    Corrupt { path: PathBuf, message: String },

    #[error("{path}: index file format version {found}, this build reads version {supported}")]
    UnsupportedVersion { path: PathBuf, found: u32, supported: u32 },

    #[error("the vector of node {node} could not be read from its source (the caller says why)")]
    Source { node: u32 },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Corrupt { path: path.into(), message: message.into() }
    }
}
