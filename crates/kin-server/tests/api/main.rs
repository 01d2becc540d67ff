//! The HTTP API in process, over a temporary store and a small deterministic model: routes,
//! OpenAI compatibility, keys, limits, backpressure, and a fuzz run over every handler.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use kin_embed::Embedder;
use kin_server::testing::{state_with, FakeEmbedder};
use kin_server::{ApiKey, ServerConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

mod fuzz;
mod guards;
mod hardening;
mod openai;
mod routes;

struct Api {
    app: Router,
    model: Arc<FakeEmbedder>,
    _dir: tempfile::TempDir,
}

fn api_with(config: ServerConfig, model: FakeEmbedder) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(model);
    let state = state_with(dir.path(), model.clone(), config);
    Api { app: kin_server::router(state), model, _dir: dir }
}

fn api() -> Api {
    api_with(ServerConfig::default(), FakeEmbedder::new(8))
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    raw: Vec<u8>,
}

impl Api {
    async fn send(&self, req: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let raw = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Reply { status, headers, body, raw }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(method, path, body, None).await
    }

    async fn call_as(&self, method: Method, path: &str, body: Option<Value>, key: Option<&str>) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }
}

/// A 4xx or 5xx answer must be a JSON error with a code and a message.
fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.raw));
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.body);
}
