use std::path::PathBuf;

/// Errors of the embedded store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path}: corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },

    #[error("{path}: invalid collection config: {source}")]
    Config {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("{path} is in use by another kin process (pid {pid}); stop it or use another --data directory")]
    Locked { path: PathBuf, pid: String },

    #[error("collection {name:?} does not exist{}", hint(existing))]
    UnknownCollection { name: String, existing: Vec<String> },

    #[error("collection {0:?} already exists")]
    CollectionExists(String),

    #[error("invalid collection name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },

    #[error("invalid collection settings: {0}")]
    InvalidSettings(String),

    #[error("item {id}: vector has {got} dimensions, collection {collection:?} expects {expected}")]
    DimensionMismatch { collection: String, id: String, expected: usize, got: usize },

    #[error("item {id}: vector value {index} is {value} (NaN and infinity are not allowed)")]
    NonFinite { id: String, index: usize, value: f32 },

    #[error("item {id}: a zero vector has no direction, so it cannot be compared by cosine")]
    ZeroVector { id: String },

    #[error("query vector has {got} dimensions, collection {collection:?} expects {expected}")]
    QueryDimension { collection: String, expected: usize, got: usize },

    #[error("collection {collection:?} holds vectors of model {expected:?}, not {got:?}; create another collection for that model")]
    ModelMismatch { collection: String, expected: String, got: String },

    #[error("collection {collection:?} holds several vector spaces ({}); name the one to use", spaces.join(", "))]
    SpaceNeeded { collection: String, spaces: Vec<String> },

    #[error("collection {collection:?} has no space {space:?}; it has {}", spaces.join(", "))]
    UnknownSpace { collection: String, space: String, spaces: Vec<String> },

    #[error("scan cursor {cursor:?} is from before the collection was compacted twice; start the scan again")]
    StaleCursor { cursor: String },

    #[error("collection {collection:?} has no text index; add one with `kin collection reindex {collection} --text` (nothing is embedded again)")]
    NoTextIndex { collection: String },

    #[error("invalid search: {0}")]
    InvalidSearch(String),

    #[error("the text query is empty")]
    EmptyTextQuery,

    #[error("the text query has {terms} terms; at most {max} are searched")]
    TextQueryTooLong { terms: usize, max: usize },

    #[error("{backend}: {feature} is not available: {reason}")]
    Unsupported { backend: String, feature: String, reason: String },

    #[error(transparent)]
    Index(#[from] kin_index::Error),

    #[error("{backend}: cannot reach the server ({message}); is it running, and is the address right?")]
    Unreachable { backend: String, message: String },

    #[error(
        "{backend}: the server refused the credentials ({message}); check the user and password or KIN_MILVUS_TOKEN"
    )]
    Unauthorized { backend: String, message: String },

    #[error("{backend}: collection {collection:?} cannot be used by kin: {message}")]
    IncompatibleSchema { backend: String, collection: String, message: String },

    #[error("{backend}: {message}")]
    Backend { backend: String, message: String },
}

fn hint(existing: &[String]) -> String {
    if existing.is_empty() {
        "; `kin collection create` makes one".to_string()
    } else {
        format!(" (collections: {})", existing.join(", "))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
