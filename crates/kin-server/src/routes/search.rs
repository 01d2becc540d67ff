//! `POST /v1/collections/{name}/search`: top-k by text, file content, vector or item id.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::Json;
use kin_core::Filter;
use kin_store::{Fusion, ItemId, Query, SearchMode, SearchParams};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::items::collection;
use super::{blocking, check_k, ApiJson, ApiPath};
use crate::content::{self, kind_of};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// A text query, embedded with the collection's model.
    #[serde(default)]
    text: Option<String>,
    /// A file's bytes (image, audio, video), base64.
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    vector: Option<Vec<Value>>,
    /// Items like this stored one (itself left out).
    #[serde(default)]
    id: Option<Value>,
    #[serde(default = "default_k")]
    k: usize,
    /// Payload filter, e.g. `year >= 2020 and lang in ["en", "fr"]`.
    #[serde(default)]
    filter: Option<String>,
    #[serde(default)]
    exact: bool,
    #[serde(default)]
    ef: Option<usize>,
    /// Return passages (chunks) instead of documents; a text or file query finds documents
    /// (each one's best chunk) by default.
    #[serde(default)]
    chunks: bool,
    /// `dense` (default), `text` (the BM25 index) or `hybrid` (both, fused); text and hybrid
    /// need a `"text"` query.
    #[serde(default)]
    mode: Option<String>,
    /// Hybrid: weighted fusion with this much dense (0..=1) instead of reciprocal rank.
    #[serde(default)]
    alpha: Option<f32>,
    /// Hybrid: k of reciprocal-rank fusion (default 60).
    #[serde(default)]
    rrf_k: Option<f32>,
}

fn default_k() -> usize {
    10
}

pub async fn search(
    State(state): State<Arc<AppState>>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<SearchRequest>,
) -> Result<Json<Value>, ApiError> {
    let started = Instant::now();
    let k = check_k(req.k)?;
    if req.ef.is_some_and(|ef| ef == 0 || ef > 10_000) {
        return Err(ApiError::bad_request("invalid_ef", "ef must be between 1 and 10000"));
    }
    let filter = req.filter.as_deref().map(Filter::parse).transpose()?;
    let c = collection(&state, name).await?;
    let given = [req.text.is_some(), req.data.is_some(), req.vector.is_some(), req.id.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "give exactly one query: \"text\", \"data\" (a file, base64), \"vector\" or \"id\"",
        ));
    }
    let by_document = !req.chunks && (req.text.is_some() || req.data.is_some());
    let mode: SearchMode = match req.mode.as_deref() {
        None => SearchMode::Dense,
        Some(m) => m.parse().map_err(|message: String| ApiError::bad_request("invalid_mode", message))?,
    };
    let fusion = match (req.alpha, req.rrf_k) {
        (Some(alpha), _) => Fusion::Weighted { alpha },
        (None, k) => Fusion::Rrf { k: k.unwrap_or(60.0) },
    };
    let query_text = req.text.clone();
    if mode != SearchMode::Dense && query_text.is_none() {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("mode {:?} searches the text index, so it needs a \"text\" query", mode.as_str()),
        ));
    }
    let mut exclude = None;
    let query: Vec<f32> = if mode == SearchMode::Text {
        Vec::new()
    } else if let Some(values) = &req.vector {
        values
            .iter()
            .map(|v| v.as_f64().map(|x| x as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| ApiError::bad_request("invalid_vector", "vector must hold numbers only"))?
    } else if let Some(id) = &req.id {
        let id = match id {
            Value::Number(n) => n.as_i64().map(ItemId::Int),
            Value::String(s) => Some(ItemId::Str(s.clone())),
            _ => None,
        }
        .ok_or_else(|| {
            ApiError::bad_request("invalid_id", format!("id is {}; expected a string or an integer", kind_of(id)))
        })?;
        let found = {
            let (c, id) = (c.clone(), id.clone());
            blocking(move || Ok(c.get(&id)?)).await?
        };
        let item = found.ok_or_else(|| {
            ApiError::not_found("unknown_item", format!("collection {:?} has no item {id}", c.name()))
        })?;
        exclude = Some(id);
        item.vector
    } else {
        let Some(model) = c.config().model.clone() else {
            return Err(ApiError::bad_request(
                "no_model",
                format!(
                    "collection {:?} holds bare vectors (it has no model): search it by \"vector\" or \"id\"",
                    c.name()
                ),
            ));
        };
        let mut input = Map::new();
        if let Some(t) = req.text {
            input.insert("text".into(), Value::String(t));
        }
        if let Some(d) = req.data {
            input.insert("data".into(), Value::String(d));
        }
        let content = content::parse(&Value::Object(input), 0, &state.config)?;
        let batcher = state.models.get(&model).await?;
        let mut embedded = content::embed(&state, &batcher, vec![content], false).await?;
        embedded.pop().map(|e| e.vector).ok_or_else(|| ApiError::internal("no query vector"))?
    };
    let results = blocking(move || {
        let wanted = k + usize::from(exclude.is_some());
        let params = SearchParams { k: wanted, ef: req.ef, filter: filter.as_ref(), exact: req.exact };
        let text = query_text.as_deref().unwrap_or_default();
        let query = Query::of(mode, &query, text, fusion);
        if by_document {
            let docs = kin_ingest::search_documents(&*c, &query, &params)?;
            return Ok(docs
                .iter()
                .take(k)
                .map(|d| {
                    let h = &d.best;
                    json!({ "id": d.doc, "score": h.score, "chunk": h.id, "matched_chunks": d.matched_chunks,
                            "payload": h.payload, "source": h.source, "found_by": h.found.to_json() })
                })
                .collect::<Vec<Value>>());
        }
        let mut hits = c.find(&query, &params)?;
        hits.retain(|h| Some(&h.id) != exclude.as_ref());
        hits.truncate(k);
        Ok(hits
            .iter()
            .map(|h| {
                json!({ "id": h.id, "score": h.score, "payload": h.payload, "source": h.source,
                        "found_by": h.found.to_json() })
            })
            .collect())
    })
    .await?;
    Ok(Json(json!({ "results": results, "mode": mode.as_str(), "took_ms": started.elapsed().as_secs_f64() * 1e3 })))
}
