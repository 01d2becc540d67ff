//! The page, the probes, the metrics, the OpenAPI document, the model list, and JSON answers
//! for unknown routes.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use kin_models::Registry;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::state::AppState;

const PAGE: &str = include_str!("../../assets/index.html");
const OPENAPI: &str = include_str!("../../assets/openapi.json");

pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready once the store is open (it is, or the server would not run) and the models named at
/// start are loaded.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.is_ready() {
        Json(json!({ "status": "ready", "models": state.models.loaded() })).into_response()
    } else {
        let mut e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "loading", "models are still loading");
        e.retry_after = Some(1);
        e.into_response()
    }
}

pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render()).into_response()
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// OpenAI's model list: every model a caller may name here.
pub async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    let registry = Registry::builtin();
    let data: Vec<Value> = state
        .models
        .available()
        .into_iter()
        .map(|name| {
            let card = registry.find(&name);
            json!({
                "id": name, "object": "model", "created": 0, "owned_by": "kin",
                "modalities": card.map(|c| c.modalities.iter().map(|m| m.as_str()).collect::<Vec<_>>()), "dim": card.map(|c| c.dim),
            })
        })
        .collect();
    Json(json!({ "object": "list", "data": data }))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route; GET /openapi.json describes the API")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}
