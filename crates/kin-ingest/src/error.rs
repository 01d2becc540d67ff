use std::path::PathBuf;

/// Errors that stop an ingestion run (a bad file or record does not: it is reported in the
/// `Summary` and the run goes on).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid ingestion settings: {0}")]
    Settings(String),

    /// A mixed collection's spaces declared wrong, or a query no space can answer.
    #[error("{0}")]
    Route(String),

    #[error("collection {collection:?} has no model (it holds bare vectors); use `kin import`")]
    NoModel { collection: String },

    #[error(transparent)]
    Embed(#[from] kin_embed::Error),

    #[error(transparent)]
    Store(#[from] kin_store::Error),

    #[error("the model returned {got} vectors for {expected} inputs")]
    VectorCount { expected: usize, got: usize },
}

impl IngestError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IngestError::Io { path: path.into(), source }
    }
}

pub type Result<T, E = IngestError> = std::result::Result<T, E>;
