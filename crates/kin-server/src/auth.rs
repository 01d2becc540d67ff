//! API keys: `Authorization: Bearer KEY` (what OpenAI's clients send) or `X-API-Key: KEY`.
//!
//! Keys are compared through their sha256 in constant time, so neither a key's bytes nor its
//! length can be learnt from timing, and they never reach a log. With no keys configured every
//! request is allowed (the server listens on loopback unless told otherwise).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{ApiKey, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// Paths anyone may read: the page and the probes.
fn is_open(path: &str) -> bool {
    matches!(path, "/" | "/healthz" | "/readyz" | "/openapi.json" | "/favicon.ico")
}

/// Whether a request changes stored data: creating or dropping collections, upserting or
/// deleting items. Searching and embedding only read.
pub fn is_write(method: &Method, path: &str) -> bool {
    let changes = matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    changes && path.starts_with("/v1/collections") && !path.ends_with("/search")
}

/// The role of the presented key, if it is one of `keys`.
pub fn role_of(keys: &[ApiKey], presented: &str) -> Option<Role> {
    let given = Sha256::digest(presented.as_bytes());
    let mut found = None;
    for key in keys {
        let expected = Sha256::digest(key.secret.as_bytes());
        // Every key is compared, whichever matches.
        if bool::from(given.ct_eq(&expected)) && found.is_none() {
            found = Some(key.role);
        }
    }
    found
}

fn presented_key(req: &Request) -> Option<&str> {
    let headers = req.headers();
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer "))?;
        return Some(token.trim());
    }
    headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim)
}

pub async fn authorize(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let keys = &state.config.keys;
    if keys.is_empty() || is_open(req.uri().path()) {
        return next.run(req).await;
    }
    match presented_key(&req).and_then(|k| role_of(keys, k)) {
        None => {
            let mut response = ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "a valid API key is needed: send `Authorization: Bearer KEY` or `X-API-Key: KEY`",
            )
            .into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Some(Role::Read) if is_write(req.method(), req.uri().path()) => ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "read_only_key",
            "this key may read and search only; changing collections or items needs an admin key",
        )
        .into_response(),
        Some(_) => next.run(req).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_exactly_and_writes_are_told_apart() {
        let keys = ApiKey::parse_list("admin:adminsecret1,read:readsecret22").unwrap();
        assert_eq!(role_of(&keys, "adminsecret1"), Some(Role::Admin));
        assert_eq!(role_of(&keys, "readsecret22"), Some(Role::Read));
        for wrong in ["", "adminsecret", "adminsecret12", "readsecret22 ", "ADMINSECRET1"] {
            assert_eq!(role_of(&keys, wrong), None, "{wrong:?}");
        }
        assert!(is_write(&Method::POST, "/v1/collections"));
        assert!(is_write(&Method::DELETE, "/v1/collections/docs/items/7"));
        assert!(!is_write(&Method::POST, "/v1/collections/docs/search"));
        assert!(!is_write(&Method::POST, "/v1/embeddings"));
        assert!(!is_write(&Method::GET, "/v1/collections/docs"));
    }
}
