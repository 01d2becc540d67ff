//! The HTTP routes, their JSON extractor, and the request metrics.

mod collections;
mod documents;
mod embeddings;
mod incoming;
mod items;
mod search;
mod system;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::error::ApiError;
use crate::state::AppState;

/// Every route of the server over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let mut app = Router::new()
        .route("/", get(system::page))
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .route("/openapi.json", get(system::openapi))
        .route("/v1/models", get(system::models))
        .route("/v1/embeddings", post(embeddings::openai))
        .route("/v1/embed", post(embeddings::embed))
        .route("/v1/collections", get(collections::list).post(collections::create))
        .route("/v1/collections/{name}", get(collections::info).delete(collections::drop))
        .route("/v1/collections/{name}/items", post(items::upsert))
        .route("/v1/collections/{name}/items/delete", post(items::delete_many))
        .route("/v1/collections/{name}/items/{id}", get(items::get).delete(items::delete))
        .route("/v1/collections/{name}/items/{id}/content", get(items::content))
        .route("/v1/collections/{name}/search", post(search::search))
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), body_deadline))
        .layer(middleware::from_fn_with_state(state.clone(), crate::auth::authorize))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes));
    if let Some(cors) = cors(&state.config.cors_origins) {
        app = app.layer(cors);
    }
    app.layer(middleware::from_fn_with_state(state.clone(), record)).with_state(state)
}

fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([axum::http::header::AUTHORIZATION, axum::http::header::CONTENT_TYPE]),
    )
}

/// Reads the request body within `body_timeout` (a slow client gets 408 and lets go of its
/// connection) and at most `max_body_bytes` of it (413), before any handler sees it.
async fn body_deadline(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let timeout = state.config.body_timeout;
    let read = tokio::time::timeout(timeout, axum::body::to_bytes(body, state.config.max_body_bytes)).await;
    match read {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Ok(Err(_)) => ApiError::too_large(format!(
            "the request body is over {} bytes, or it was cut short",
            state.config.max_body_bytes
        ))
        .into_response(),
        Err(_) => ApiError::body_timeout(timeout.as_secs().max(1)).into_response(),
    }
}

/// Counts and times every request by its route pattern (never the raw path, which holds ids).
async fn record(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let response = next.run(req).await;
    state.metrics.request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}

/// `axum::Json` whose rejections are JSON errors with a stable code.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// `axum::extract::Path` whose rejections (a segment that is not UTF-8, say) are JSON errors.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rejection) => Err(ApiError::bad_request("invalid_path", rejection.body_text())),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let message = rejection.body_text();
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(message),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", message)
        }
        _ => ApiError::bad_request("invalid_json", message),
    }
}

/// Runs blocking work (the store's fsyncs, decoding) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("a worker failed: {e}")))?
}

/// A query's `k`, checked.
pub fn check_k(k: usize) -> Result<usize, ApiError> {
    if k == 0 || k > MAX_K {
        return Err(ApiError::bad_request("invalid_k", format!("k must be between 1 and {MAX_K}, not {k}")));
    }
    Ok(k)
}

const MAX_K: usize = 1000;
