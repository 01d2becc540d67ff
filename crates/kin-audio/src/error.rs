//! The crate's error enum.

use std::path::PathBuf;

/// What can go wrong when reading audio or a feature-extractor config.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The input has no bytes, or decodes to no samples.
    #[error("the audio is empty: {0}")]
    Empty(&'static str),
    /// The content is not an audio container kin knows.
    #[error("not audio: the content looks like {looks_like}")]
    NotAudio { looks_like: String },
    /// A known container holding a codec kin cannot decode.
    #[error("unsupported audio codec {codec} (kin decodes PCM, FLAC, MP3, Vorbis and AAC)")]
    UnsupportedCodec { codec: String },
    /// The stream is damaged.
    #[error("the {format} audio is corrupt: {message}")]
    Corrupt { format: String, message: String },
    /// An I/O error with the file it happened on.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A feature-extractor config with a missing or bad field.
    #[error("{path}: {message}")]
    InvalidConfig { path: PathBuf, message: String },
}

/// The crate's result type.
pub type Result<T, E = AudioError> = std::result::Result<T, E>;
