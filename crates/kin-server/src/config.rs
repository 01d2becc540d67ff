//! `ServerConfig`: where the server listens, what it stores, who may call it, and its limits.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, Result};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Search, embed, list and get.
    Read,
    /// Everything: also create and drop collections, upsert and delete items.
    Admin,
}

/// An API key. Its secret never appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub secret: String,
    pub role: Role,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey").field("secret", &"<redacted>").field("role", &self.role).finish()
    }
}

impl ApiKey {
    /// `SECRET` (an admin key), `admin:SECRET` or `read:SECRET`.
    pub fn parse(spec: &str) -> Result<ApiKey> {
        let (role, secret) = match spec.split_once(':') {
            Some(("admin", s)) => (Role::Admin, s),
            Some(("read", s)) => (Role::Read, s),
            _ => (Role::Admin, spec),
        };
        let secret = secret.trim();
        if secret.len() < 8 {
            return Err(Error::Config("an API key needs at least 8 characters".into()));
        }
        if secret.chars().any(|c| c.is_whitespace() || c.is_control() || c == ',') {
            return Err(Error::Config("an API key may not hold spaces, commas or control characters".into()));
        }
        Ok(ApiKey { secret: secret.to_string(), role })
    }

    /// Keys from a comma-separated list (`KIN_API_KEYS`).
    pub fn parse_list(list: &str) -> Result<Vec<ApiKey>> {
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(ApiKey::parse).collect()
    }
}

/// The server's settings. `Default` listens on loopback with no keys.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    /// The embedded store's data directory.
    pub data: PathBuf,
    /// When empty, every request is allowed (the server listens on loopback by default).
    pub keys: Vec<ApiKey>,
    /// Origins allowed to call from a browser (CORS); none by default, `*` for any.
    pub cors_origins: Vec<String>,
    /// Largest request body (413 beyond).
    pub max_body_bytes: usize,
    /// Largest single text input, in bytes (413 beyond).
    pub max_text_bytes: usize,
    /// Most inputs in one request.
    pub max_inputs: usize,
    /// Inputs waiting for a model, beyond which requests get 429.
    pub queue_inputs: usize,
    /// How long the first request of a batch waits for others to join it.
    pub batch_wait: Duration,
    /// Most tokens in one batch across requests.
    pub batch_tokens: usize,
    /// Models loaded at start (`/readyz` waits for them) and allowed beside the registry's.
    pub models: Vec<String>,
    /// Folders whose files an item's `path` may name for `/content` (the page's previews of
    /// what `kin add` stored). A path outside them, or a link leading out, is never read.
    pub file_roots: Vec<PathBuf>,
    /// How long a client may take to send a request's headers; a connection that sends none
    /// within it is closed (a slow client cannot hold a connection open).
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body (408 beyond).
    pub body_timeout: Duration,
    /// Multipart uploads handled at once (429 beyond).
    pub max_uploads: usize,
    /// Most bytes the uploaded files kept for previews may take on disk (507 beyond); `None`:
    /// what the disk holds.
    pub max_files_bytes: Option<u64>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 7700)),
            data: PathBuf::from("./kin-data"),
            keys: Vec::new(),
            cors_origins: Vec::new(),
            max_body_bytes: 64 << 20,
            max_text_bytes: 256 << 10,
            max_inputs: 2048,
            queue_inputs: 8192,
            batch_wait: Duration::from_millis(2),
            batch_tokens: kin_embed::DEFAULT_TOKEN_BUDGET,
            models: Vec::new(),
            file_roots: std::env::current_dir().into_iter().collect(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            max_uploads: 4,
            max_files_bytes: None,
        }
    }
}

impl ServerConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.to_string()));
        if self.max_body_bytes < 1024 {
            return bad("the body limit must be at least 1 KiB");
        }
        if self.max_inputs == 0 || self.queue_inputs < self.max_inputs {
            return bad("the queue must hold at least one request's inputs (queue >= max inputs >= 1)");
        }
        if self.batch_tokens == 0 {
            return bad("the batch token budget must be positive");
        }
        if self.batch_wait > Duration::from_secs(1) {
            return bad("the batch wait window must be at most 1 s");
        }
        if self.header_timeout.is_zero() || self.body_timeout.is_zero() {
            return bad("the header and body timeouts must be positive");
        }
        if self.max_uploads == 0 {
            return bad("at least one upload must be allowed at a time");
        }
        Ok(())
    }

    /// Whether this address is reachable only from this machine.
    pub fn is_loopback(&self) -> bool {
        self.addr.ip().is_loopback()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_with_roles_and_never_print_their_secret() {
        let keys = ApiKey::parse_list("admin:topsecret1, read:readonly22,plainsecret3").unwrap();
        assert_eq!(keys.iter().map(|k| k.role).collect::<Vec<_>>(), [Role::Admin, Role::Read, Role::Admin]);
        assert_eq!(keys[1].secret, "readonly22");
        let shown = format!("{keys:?}");
        assert!(!shown.contains("topsecret1") && !shown.contains("readonly22"), "{shown}");
        assert!(ApiKey::parse("short").is_err());
        assert!(ApiKey::parse("read:has space inside").is_err());
    }

    #[test]
    fn limits_are_checked() {
        assert!(ServerConfig::default().validate().is_ok());
        let cfg = ServerConfig { queue_inputs: 10, ..Default::default() };
        assert!(cfg.validate().is_err());
    }
}
