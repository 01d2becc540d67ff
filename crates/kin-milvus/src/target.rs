//! `MilvusTarget`: which Milvus server, as whom, from a `milvus://` URL.

use std::fmt;

use kin_store::{Error, Result};

/// A Milvus server and its credentials. Secrets are redacted in `Debug` and `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct MilvusTarget {
    /// `http://host:port` (or `https://` for `milvus+tls://`).
    pub endpoint: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// An API token (`KIN_MILVUS_TOKEN` or `?token=`), instead of a user and password.
    pub token: Option<String>,
    pub database: Option<String>,
}

impl MilvusTarget {
    /// `milvus://[USER:PASSWORD@]HOST[:PORT][/DATABASE][?token=TOKEN]`; the port defaults to
    /// 19530, and `KIN_MILVUS_TOKEN` supplies a token when the URL has none.
    pub fn parse(url: &str) -> Result<MilvusTarget> {
        let bad = |why: &str| Error::InvalidSettings(format!("backend URL {:?}: {why}", redact(url)));
        let (scheme, rest) = if let Some(r) = url.strip_prefix("milvus://") {
            ("http", r)
        } else if let Some(r) = url.strip_prefix("milvus+tls://") {
            ("https", r)
        } else {
            return Err(bad("expected milvus://HOST[:PORT]"));
        };
        let (rest, query) = rest.split_once('?').map_or((rest, None), |(a, b)| (a, Some(b)));
        let (authority, database) = rest.split_once('/').map_or((rest, None), |(a, b)| (a, Some(b)));
        let (credentials, host) = authority.rsplit_once('@').map_or((None, authority), |(c, h)| (Some(c), h));
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let host = if host.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty())
            || host.ends_with(']')
        {
            host.to_string()
        } else {
            format!("{host}:19530")
        };
        let (user, password) = match credentials {
            None => (None, None),
            Some(c) => match c.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => return Err(bad("credentials must be USER:PASSWORD")),
            },
        };
        let mut token = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("token", t)) => token = Some(t.to_string()),
                _ => return Err(bad("the only query parameter is token=")),
            }
        }
        let token = token.or_else(|| std::env::var("KIN_MILVUS_TOKEN").ok().filter(|t| !t.is_empty()));
        let database = database.filter(|d| !d.is_empty()).map(str::to_string);
        Ok(MilvusTarget { endpoint: format!("{scheme}://{host}"), user, password, token, database })
    }
}

/// The URL with any password or token replaced, for messages.
fn redact(url: &str) -> String {
    let url = match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_string(),
    };
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}<credentials>{}", &url[..s + 3], &url[at..]),
        _ => url,
    }
}

impl fmt::Display for MilvusTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.endpoint.starts_with("https") { "milvus+tls" } else { "milvus" };
        let host = self.endpoint.split_once("://").map_or(self.endpoint.as_str(), |(_, h)| h);
        write!(f, "{scheme}://{host}")?;
        if let Some(db) = &self.database {
            write!(f, "/{db}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for MilvusTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MilvusTarget")
            .field("endpoint", &self.endpoint)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("database", &self.database)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_never_show_secrets() {
        let t = MilvusTarget::parse("milvus://root:s3cret@db.example:19531/kin").unwrap();
        assert_eq!(t.endpoint, "http://db.example:19531");
        assert_eq!((t.user.as_deref(), t.password.as_deref()), (Some("root"), Some("s3cret")));
        assert_eq!(t.database.as_deref(), Some("kin"));
        assert!(!format!("{t:?} {t}").contains("s3cret"));
        assert_eq!(MilvusTarget::parse("milvus://localhost").unwrap().endpoint, "http://localhost:19530");
        assert_eq!(MilvusTarget::parse("milvus+tls://h:443?token=abc").unwrap().token.as_deref(), Some("abc"));
        for bad in ["http://x", "milvus://", "milvus://user@h", "milvus://h?x=1"] {
            let e = MilvusTarget::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("s3cret"), "{e}");
        }
        let e = MilvusTarget::parse("milvus://u:s3cret@h?x=1").unwrap_err().to_string();
        assert!(!e.contains("s3cret"), "{e}");
    }
}
