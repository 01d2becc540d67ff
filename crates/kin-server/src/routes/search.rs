//! `POST /v1/collections/{name}/search`: top-k by text, file content, vector or item id.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::Json;
use kin_core::Filter;
use std::collections::HashMap;

use base64::Engine;
use kin_core::Modality;
use kin_ingest::DocumentHit;
use kin_store::{CollectionWrite, Fusion, ItemId, Query, SearchMode, SearchParams};
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
    /// A mixed collection: search this space only (default: every space whose model reads the
    /// query, their lists fused by reciprocal rank).
    #[serde(default)]
    space: Option<String>,
    /// A mixed collection: each space's weight in the fusion (default 1).
    #[serde(default)]
    space_weights: Option<HashMap<String, f32>>,
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
    let c = collection(&state, name.clone()).await?;
    let given = [req.text.is_some(), req.data.is_some(), req.vector.is_some(), req.id.is_some()];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "give exactly one query: \"text\", \"data\" (a file, base64), \"vector\" or \"id\"",
        ));
    }
    let mode: SearchMode = match req.mode.as_deref() {
        None => SearchMode::Dense,
        Some(m) => m.parse().map_err(|message: String| ApiError::bad_request("invalid_mode", message))?,
    };
    if mode != SearchMode::Dense && req.text.is_none() {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("mode {:?} searches the text index, so it needs a \"text\" query", mode.as_str()),
        ));
    }
    let ask = Ask { k, filter, mode, by_document: !req.chunks && (req.text.is_some() || req.data.is_some()) };
    let config = c.config().clone();
    let results = match (&req.space, config.is_mixed()) {
        (None, false) => answer(&state, c, &req, &ask).await?,
        (Some(_), false) => {
            return Err(ApiError::bad_request(
                "invalid_space",
                format!("collection {name:?} holds one model's vectors: \"space\" is for mixed collections"),
            ))
        }
        (Some(space), true) => {
            if let Some(modality) = query_modality(&req)? {
                kin_ingest::query_spaces(&config, modality, Some(space)).map_err(route_error)?;
            }
            answer(&state, space_handle(&state, &name, space).await?, &req, &ask).await?
        }
        (None, true) => {
            let Some(modality) = query_modality(&req)? else {
                return Err(ApiError::bad_request(
                    "invalid_space",
                    "a vector or an item's id belongs to one space's model: name it with \"space\"",
                ));
            };
            let weights = req.space_weights.clone().unwrap_or_default();
            if let Some((bad, w)) =
                weights.iter().find(|(n, w)| config.space(n).is_none() || !(w.is_finite() && **w >= 0.0))
            {
                return Err(ApiError::bad_request(
                    "invalid_space",
                    format!("space weight {bad:?}: {w} (a space of the collection, at least 0)"),
                ));
            }
            let mut lists = Vec::new();
            for space in kin_ingest::query_spaces(&config, modality, None).map_err(route_error)? {
                let has_text = config.space(&space).is_some_and(|(_, s)| s.settings.text.is_some());
                let mode = match mode {
                    SearchMode::Text if !has_text => continue,
                    SearchMode::Hybrid if !has_text => SearchMode::Dense,
                    m => m,
                };
                let target = space_handle(&state, &name, &space).await?;
                lists.push((
                    space,
                    answer(&state, target, &req, &Ask { mode, filter: ask.filter.clone(), ..ask }).await?,
                ));
            }
            if lists.is_empty() {
                return Err(ApiError::bad_request(
                    "no_text_index",
                    format!("no space of collection {name:?} has a text index"),
                ));
            }
            kin_ingest::fuse_spaces(lists, &weights, req.rrf_k.unwrap_or(60.0), k)
        }
    };
    let rows: Vec<Value> = results
        .iter()
        .map(|d| {
            let h = &d.best;
            let mut row = if ask.by_document {
                json!({ "id": d.doc, "score": h.score, "chunk": h.id, "matched_chunks": d.matched_chunks,
                        "payload": h.payload, "source": h.source, "found_by": h.found.to_json() })
            } else {
                json!({ "id": h.id, "score": h.score, "payload": h.payload, "source": h.source,
                        "found_by": h.found.to_json() })
            };
            if let (Some(space), Some(obj)) = (&h.space, row.as_object_mut()) {
                obj.insert("space".into(), json!(space));
            }
            row
        })
        .collect();
    Ok(Json(json!({ "results": rows, "mode": mode.as_str(), "took_ms": started.elapsed().as_secs_f64() * 1e3 })))
}

/// What every space of one search is asked.
#[derive(Clone)]
struct Ask {
    k: usize,
    filter: Option<Filter>,
    mode: SearchMode,
    by_document: bool,
}

/// The kind of a query: a text, or a file's content by its bytes; `None` for a vector or an id.
fn query_modality(req: &SearchRequest) -> Result<Option<Modality>, ApiError> {
    if req.text.is_some() {
        return Ok(Some(Modality::Text));
    }
    let Some(data) = &req.data else { return Ok(None) };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.as_bytes())
        .map_err(|e| ApiError::bad_request("invalid_data", format!("data is not base64: {e}")))?;
    if kin_extract::sniff(&bytes, None).is_some() {
        return Ok(Some(Modality::Text));
    }
    kin_core::detect_modality(&bytes)
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("invalid_data", "unrecognised content (not an image, audio or video)"))
}

fn route_error(e: kin_ingest::IngestError) -> ApiError {
    ApiError::bad_request("invalid_space", e.to_string())
}

async fn space_handle(state: &Arc<AppState>, name: &str, space: &str) -> Result<Arc<dyn CollectionWrite>, ApiError> {
    let (state, name, space) = (state.clone(), name.to_string(), space.to_string());
    blocking(move || Ok(state.store.space(&name, &space)?)).await
}

/// One collection's (or one space's) answer: the query embedded with its model, searched.
async fn answer(
    state: &Arc<AppState>,
    c: Arc<dyn CollectionWrite>,
    req: &SearchRequest,
    ask: &Ask,
) -> Result<Vec<DocumentHit>, ApiError> {
    let (k, mode) = (ask.k, ask.mode);
    let fusion = match (req.alpha, req.rrf_k) {
        (Some(alpha), _) => Fusion::Weighted { alpha },
        (None, k) => Fusion::Rrf { k: k.unwrap_or(60.0) },
    };
    let query_text = req.text.clone();
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
        if let Some(t) = &req.text {
            input.insert("text".into(), Value::String(t.clone()));
        }
        if let Some(d) = &req.data {
            input.insert("data".into(), Value::String(d.clone()));
        }
        let content = content::parse(&Value::Object(input), 0, &state.config)?;
        let batcher = state.models.get(&model).await?;
        let mut embedded = content::embed(state, &batcher, vec![content], false).await?;
        embedded.pop().map(|e| e.vector).ok_or_else(|| ApiError::internal("no query vector"))?
    };
    let (ef, exact, by_document, filter) = (req.ef, req.exact, ask.by_document, ask.filter.clone());
    blocking(move || {
        let wanted = k + usize::from(exclude.is_some());
        let params = SearchParams { k: wanted, ef, filter: filter.as_ref(), exact };
        let text = query_text.as_deref().unwrap_or_default();
        let query = Query::of(mode, &query, text, fusion);
        if by_document {
            let mut docs = kin_ingest::search_documents(&*c, &query, &params)?;
            docs.truncate(k);
            return Ok(docs);
        }
        let mut hits = c.find(&query, &params)?;
        hits.retain(|h| Some(&h.id) != exclude.as_ref());
        hits.truncate(k);
        Ok(hits.into_iter().map(|h| DocumentHit { doc: h.id.to_string(), best: h, matched_chunks: 1 }).collect())
    })
    .await
}
