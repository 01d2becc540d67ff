//! The crate's error enum.

use std::path::PathBuf;

/// What can go wrong when decoding an image or loading a preprocessing config.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The input has no bytes at all.
    #[error("the input is empty (0 bytes)")]
    Empty,
    /// The header describes an image with no pixels.
    #[error("the {format} image is empty: {width}x{height} pixels")]
    ZeroSize { format: &'static str, width: u32, height: u32 },
    /// The content is not any image format kin knows; `looks_like` describes the first bytes.
    #[error("not an image: the content looks like {looks_like}")]
    NotAnImage { looks_like: String },
    /// A known format the build cannot decode (AVIF, HDR, …).
    #[error("{format} images are not supported")]
    Unsupported { format: &'static str },
    /// The file ends before the image does.
    #[error("the {format} image is truncated: {message}")]
    Truncated { format: &'static str, message: String },
    /// The file is damaged or uses a feature the decoder rejects.
    #[error("the {format} image is corrupt: {message}")]
    Corrupt { format: &'static str, message: String },
    /// The header claims more pixels than `Limits::max_pixels`; nothing was allocated.
    #[error("the image is {width}x{height} pixels, more than the limit of {max_pixels} pixels")]
    TooLarge { width: u32, height: u32, max_pixels: u64 },
    /// The input has more bytes than `Limits::max_bytes`.
    #[error("the input is {len} bytes, more than the limit of {max_bytes} bytes")]
    TooManyBytes { len: u64, max_bytes: u64 },
    /// A preprocessing config file could not be read.
    #[error("cannot read {path}: {source}")]
    ConfigIo { path: PathBuf, source: std::io::Error },
    /// A preprocessing config has a missing, malformed or unsupported field.
    #[error("invalid preprocessing config{}: {field}: {message}", path_suffix(path))]
    InvalidConfig { path: Option<PathBuf>, field: &'static str, message: String },
}

fn path_suffix(path: &Option<PathBuf>) -> String {
    path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default()
}

/// The crate's result type.
pub type Result<T, E = ImageError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_problem() {
        let e = ImageError::TooLarge { width: 30000, height: 30000, max_pixels: 64 };
        assert!(e.to_string().contains("30000x30000"));
        let e = ImageError::InvalidConfig { path: Some("a.json".into()), field: "size", message: "bad".into() };
        assert_eq!(e.to_string(), "invalid preprocessing config a.json: size: bad");
        let e = ImageError::InvalidConfig { path: None, field: "size", message: "bad".into() };
        assert_eq!(e.to_string(), "invalid preprocessing config: size: bad");
    }
}
