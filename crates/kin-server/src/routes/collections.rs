//! `/v1/collections`: create, list, describe and drop collections.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kin_models::Registry;
use kin_store::{Backend, CollectionConfig, CollectionRead, IndexKind, Quantization, TextConfig};
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
    /// A mixed collection's spaces, `{"name": "text", "model": "all-MiniLM-L6-v2"}` each: every
    /// item goes to the space that takes its kind of content.
    #[serde(default)]
    spaces: Option<Vec<SpaceRequest>>,
    /// The spaces of a preset (`media`, `documents-and-photos`).
    #[serde(default)]
    preset: Option<String>,
    /// Which space takes a kind of content where two spaces' models read it: `{"image": "photos"}`.
    #[serde(default)]
    routes: Option<std::collections::BTreeMap<kin_core::Modality, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpaceRequest {
    name: String,
    model: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TextSetting {
    On(bool),
    Settings(TextConfig),
}

pub fn describe(c: &dyn CollectionRead, store: &dyn Backend) -> Result<Value, ApiError> {
    let cfg = c.config();
    if cfg.is_mixed() {
        let mut spaces = Vec::with_capacity(cfg.spaces.len());
        for s in &cfg.spaces {
            let items = store.space(&cfg.name, &s.settings.name)?.count()?;
            spaces.push(json!({
                "name": s.settings.name, "model": s.settings.model, "dim": s.settings.dim,
                "metric": s.settings.metric, "index": s.settings.index, "takes": s.ingests, "answers": s.accepts,
                "text_index": s.settings.text, "items": items,
            }));
        }
        return Ok(json!({ "name": cfg.name, "spaces": spaces, "items": c.count()? }));
    }
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
            out.push(describe(&*state.store.collection(&name)?, &*state.store)?);
        }
        Ok(out)
    })
    .await?;
    Ok(Json(json!({ "collections": described })))
}

pub async fn info(State(state): State<Arc<AppState>>, ApiPath(name): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    blocking(move || Ok(Json(describe(&*state.store.collection(&name)?, &*state.store)?))).await
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if req.spaces.is_some() || req.preset.is_some() {
        return create_mixed(state, req).await;
    }
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
    let created = blocking(move || describe(&*state.store.create(cfg)?, &*state.store)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// A mixed collection: its spaces planned from the models' cards (and the routes given).
async fn create_mixed(state: Arc<AppState>, req: CreateRequest) -> Result<(StatusCode, Json<Value>), ApiError> {
    let bad = |m: String| ApiError::bad_request("invalid_settings", m);
    if req.model.is_some() || req.dim.is_some() {
        return Err(bad(
            "a mixed collection's models are its spaces': give \"spaces\" or \"preset\", not \"model\" or \"dim\""
                .into(),
        ));
    }
    let mut spaces = match &req.preset {
        Some(name) => kin_ingest::preset(name).map_err(|e| bad(e.to_string()))?,
        None => Vec::new(),
    };
    for s in req.spaces.unwrap_or_default() {
        match spaces.iter_mut().find(|(n, _)| *n == s.name) {
            Some(existing) => existing.1 = s.model,
            None => spaces.push((s.name, s.model)),
        }
    }
    let routes: Vec<_> = req.routes.unwrap_or_default().into_iter().collect();
    let text = match req.text {
        Some(TextSetting::Settings(t)) => Some(t),
        Some(TextSetting::On(false)) => None,
        _ => state.store.text_search().then(TextConfig::default),
    };
    let planned = kin_ingest::plan_spaces(&spaces, &routes, text.as_ref()).map_err(|e| bad(e.to_string()))?;
    let mut cfg = CollectionConfig::mixed(&req.name, planned);
    for space in &mut cfg.spaces {
        if let Some(metric) = &req.metric {
            space.settings.metric = metric.parse().map_err(|e: kin_core::UnknownMetric| bad(e.to_string()))?;
        }
        space.settings.index = req.index.unwrap_or(space.settings.index);
        space.settings.quantization = req.quantization.unwrap_or(space.settings.quantization);
        space.settings.m = req.m.unwrap_or(space.settings.m);
        space.settings.ef_construction = req.ef_construction.unwrap_or(space.settings.ef_construction);
    }
    let created = blocking(move || describe(&*state.store.create(cfg)?, &*state.store)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn drop(State(state): State<Arc<AppState>>, ApiPath(name): ApiPath<String>) -> Result<Json<Value>, ApiError> {
    blocking(move || {
        state.store.drop_collection(&name)?;
        Ok(Json(json!({ "dropped": name })))
    })
    .await
}
