//! The server's errors, and the one place every error becomes an HTTP status and a stable code.
//!
//! An error body is `{"error": {"code": "...", "message": "...", "type": "...", "param": null}}`,
//! the shape OpenAI's clients read.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Errors of starting and running the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid server settings: {0}")]
    Config(String),

    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("serving: {0}")]
    Serve(#[source] std::io::Error),

    #[error(transparent)]
    Store(#[from] kin_store::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable, machine-readable: `unknown_collection`, `queue_full`, …
    pub code: &'static str,
    pub message: String,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// 429: every upload slot is taken.
    pub fn uploads_busy(slots: usize) -> Self {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "uploads_busy",
                format!("{slots} uploads are in progress, the most this server takes at once; retry after a moment"),
            )
        }
    }

    /// 507: no room is left for what the request would keep.
    pub fn storage_full(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "storage_full", message)
    }

    /// 408: the client did not send its request body in time.
    pub fn body_timeout(seconds: u64) -> Self {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request body did not arrive within {seconds} s"),
        )
    }

    pub fn queue_full(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "queue_full", "the server is busy; retry after a moment")
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = match self.status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::FORBIDDEN => "permission_error",
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            s if s.is_server_error() => "server_error",
            _ => "invalid_request_error",
        };
        let body = json!({ "error": { "code": self.code, "message": self.message, "type": kind, "param": null } });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl From<kin_store::Error> for ApiError {
    fn from(e: kin_store::Error) -> Self {
        use kin_store::Error as E;
        let message = e.to_string();
        match e {
            E::UnknownCollection { .. } => ApiError::not_found("unknown_collection", message),
            E::CollectionExists(_) => ApiError::new(StatusCode::CONFLICT, "collection_exists", message),
            E::InvalidName { .. } | E::InvalidSettings(_) => ApiError::bad_request("invalid_settings", message),
            E::DimensionMismatch { .. } | E::QueryDimension { .. } => {
                ApiError::bad_request("dimension_mismatch", message)
            }
            E::NonFinite { .. } | E::ZeroVector { .. } => ApiError::bad_request("invalid_vector", message),
            E::ModelMismatch { .. } => ApiError::bad_request("model_mismatch", message),
            E::NoTextIndex { .. } => ApiError::bad_request("no_text_index", message),
            E::EmptyTextQuery | E::TextQueryTooLong { .. } | E::InvalidSearch(_) => {
                ApiError::bad_request("invalid_query", message)
            }
            E::Unsupported { .. } => ApiError::new(StatusCode::NOT_IMPLEMENTED, "unsupported", message),
            E::StaleCursor { .. } => ApiError::new(StatusCode::GONE, "stale_cursor", message),
            E::Locked { .. } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "data_locked", message),
            E::Unreachable { .. } => ApiError {
                retry_after: Some(5),
                ..ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "backend_unavailable", message)
            },
            E::Unauthorized { .. } => ApiError::new(StatusCode::BAD_GATEWAY, "backend_unauthorized", message),
            E::IncompatibleSchema { .. } => ApiError::new(StatusCode::CONFLICT, "incompatible_collection", message),
            E::Backend { .. } => ApiError::new(StatusCode::BAD_GATEWAY, "backend_error", message),
            _ => {
                tracing::error!("store: {message}");
                ApiError::internal(message)
            }
        }
    }
}

impl From<kin_embed::Error> for ApiError {
    fn from(e: kin_embed::Error) -> Self {
        use kin_embed::Error as E;
        let message = e.to_string();
        match e {
            E::Model(kin_models::Error::UnknownModel { .. }) => ApiError::not_found("unknown_model", message),
            E::Model(_) => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "model_unavailable", message),
            E::Tokenize { .. } => ApiError::bad_request("invalid_input", message),
            E::Image(_) | E::ImageSize { .. } | E::AudioShape { .. } | E::InputShape { .. } => {
                ApiError::unprocessable("invalid_content", message)
            }
            E::UnsupportedModality { .. } => ApiError::bad_request("unsupported_modality", message),
            E::Remote { .. } | E::MissingApiKey { .. } => ApiError::new(StatusCode::BAD_GATEWAY, "remote_api", message),
            _ => {
                tracing::error!("model: {message}");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "model_unavailable", message)
            }
        }
    }
}

impl From<kin_ingest::IngestError> for ApiError {
    fn from(e: kin_ingest::IngestError) -> Self {
        use kin_ingest::IngestError as E;
        match e {
            E::Store(e) => e.into(),
            E::Embed(e) => e.into(),
            E::Settings(_) | E::NoModel { .. } => ApiError::bad_request("invalid_input", e.to_string()),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl From<kin_core::filter::FilterError> for ApiError {
    fn from(e: kin_core::filter::FilterError) -> Self {
        ApiError::bad_request("invalid_filter", e.to_string())
    }
}
