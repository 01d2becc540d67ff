//! `/v1/collections`: create, list, describe and drop collections.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kin_models::Registry;
use kin_store::{CollectionConfig, CollectionRead, IndexKind, Quantization, TextConfig};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{blocking, ApiJson, ApiPath};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    name: String,
    /// The model whose vectors the collection holds (its dimension follows)…
    #[serde(default)]
    model: Option<String>,
    /// …or a bare dimension, for vectors made elsewhere.
    #[serde(default)]
    dim: Option<usize>,
    #[serde(default)]
    metric: Option<String>,
    #[serde(default)]
    index: Option<IndexKind>,
    #[serde(default)]
    quantization: Option<Quantization>,
    #[serde(default)]
    m: Option<usize>,
    #[serde(default)]
    ef_construction: Option<usize>,
    /// A full-text (BM25) index: `true`, `false`, or its settings (`fields`, `language`, `stem`,
    /// `stop_words`, `k1`, `b`, `tie_breaker`). Default: on for models that read text only.
    #[serde(default)]
    text: Option<TextSetting>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TextSetting {
    On(bool),
    Settings(TextConfig),
}

pub fn describe(c: &dyn CollectionRead) -> Result<Value, ApiError> {
    let cfg = c.config();
    Ok(json!({
        "name": cfg.name, "model": cfg.model, "dim": cfg.dim, "metric": cfg.metric, "index": cfg.index,
        "m": cfg.m, "ef_construction": cfg.ef_construction, "quantization": cfg.quantization,
        "text_index": cfg.text, "items": c.count()?,
    }))
}

pub async fn list(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let described = blocking(move || {
        let names = state.store.names()?;
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(describe(&*state.store.collection(&name)?)?);
        }
        Ok(out)
    })
    .await?;
    Ok(Json(json!({ "collections": described })))
}

pub async fn info(State(state): State<Arc<AppState>>, ApiPath(name): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(describe(&*state.store.collection(&name)?)?))).await
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let text_only = TextConfig::by_default_for;
    let (model, dim, text_model) = match (&req.model, req.dim) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("invalid_settings", "give \"model\" or \"dim\", not both"))
        }
        (None, None) => {
            return Err(ApiError::bad_request("invalid_settings", "give \"model\" (a model name) or \"dim\""))
        }
        (None, Some(dim)) => (None, dim, false),
        (Some(spec), None) => match Registry::builtin().find(spec) {
            Some(card) => (Some(card.name.to_string()), card.dim, text_only(card.modalities)),
            None => {
                let batcher = state.models.get(spec).await?;
                let m = batcher.model();
                (Some(m.name().to_string()), m.dim(), text_only(m.modalities()))
            }
        },
    };
    let mut cfg = CollectionConfig::new(&req.name, dim);
    cfg.model = model;
    if let Some(metric) = &req.metric {
        cfg.metric = metric
            .parse()
            .map_err(|e: kin_core::UnknownMetric| ApiError::bad_request("invalid_settings", e.to_string()))?;
    }
    cfg.index = req.index.unwrap_or(cfg.index);
    cfg.quantization = req.quantization.unwrap_or(cfg.quantization);
    cfg.m = req.m.unwrap_or(cfg.m);
    cfg.ef_construction = req.ef_construction.unwrap_or(cfg.ef_construction);
    cfg.text = match req.text {
        Some(TextSetting::Settings(t)) => Some(t),
        Some(TextSetting::On(true)) => Some(TextConfig::default()),
        Some(TextSetting::On(false)) => None,
        None => (text_model && state.store.text_search()).then(TextConfig::default),
    };
    let created = blocking(move || describe(&*state.store.create(cfg)?)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn drop(State(state): State<Arc<AppState>>, ApiPath(name): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        state.store.drop_collection(&name)?;
        Ok(Json(json!({ "dropped": name })))
    })
    .await
}
