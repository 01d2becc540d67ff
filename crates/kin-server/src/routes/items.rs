//! `/v1/collections/{name}/items`: upsert (vectors, or content to embed: JSON or multipart),
//! get, delete, and an item's original content.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use kin_core::Modality;
use kin_store::{CollectionRead, CollectionWrite, Item, ItemId};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::incoming::{parse_id, parse_item, read_multipart, Given, Incoming};
use super::{blocking, documents, ApiJson, ApiPath};
use crate::content::{self, Content, Embedded};
use crate::error::ApiError;
use crate::files::{hex, media_type};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct UpsertRequest {
    items: Vec<Map<String, Value>>,
}

pub async fn collection(state: &Arc<AppState>, name: String) -> Result<Arc<dyn CollectionWrite>, ApiError> {
    let state = state.clone();
    blocking(move || Ok(state.store.collection(&name)?)).await
}

/// An id from a URL path: an integer if it reads as one and such an item exists, else a string.
fn path_id(collection: &dyn CollectionRead, raw: &str) -> Result<ItemId, ApiError> {
    Ok(match raw.parse::<i64>() {
        Ok(i) if collection.get(&ItemId::Int(i))?.is_some() => ItemId::Int(i),
        _ => ItemId::Str(raw.to_string()),
    })
}

/// An item by its id in a URL path.
fn item_at(collection: &dyn CollectionRead, raw: &str) -> Result<Item, ApiError> {
    let id = path_id(collection, raw)?;
    collection.get(&id)?.ok_or_else(|| unknown_item(collection, raw))
}

pub async fn upsert(
    State(state): State<Arc<AppState>>,
    ApiPath(name): ApiPath<String>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    // Held until the upload's items are stored: uploads are heavy (files decoded, embedded).
    let _upload = match multipart {
        true => Some(
            state.uploads.clone().try_acquire_owned().map_err(|_| ApiError::uploads_busy(state.config.max_uploads))?,
        ),
        false => None,
    };
    let incoming = if multipart {
        let form = Multipart::from_request(req, &()).await.map_err(|e| {
            ApiError::new(
                e.status(),
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "invalid_multipart" },
                e.body_text(),
            )
        })?;
        read_multipart(form, &state).await?
    } else {
        let ApiJson(body) = ApiJson::<UpsertRequest>::from_request(req, &()).await?;
        if body.items.len() > state.config.max_inputs {
            return Err(ApiError::too_large(format!(
                "{} items; the limit is {}",
                body.items.len(),
                state.config.max_inputs
            )));
        }
        body.items.into_iter().enumerate().map(|(i, o)| parse_item(o, i, &state)).collect::<Result<Vec<_>, _>>()?
    };
    if incoming.is_empty() {
        return Err(ApiError::bad_request("invalid_input", "no items"));
    }
    let collection = collection(&state, name.clone()).await?;
    if !collection.config().is_mixed() {
        let ids = upsert_into(&state, collection, incoming).await?;
        return Ok(Json(json!({ "upserted": ids.len(), "ids": ids })));
    }
    // A mixed collection: each item goes to the space that takes its kind of content (or the
    // one it names), and each space's share is written as in a collection of one model.
    let mut shares: Vec<(String, Vec<Incoming>)> = Vec::new();
    for (index, item) in incoming.into_iter().enumerate() {
        let space = space_for(collection.config(), &item, index)?;
        match shares.iter_mut().find(|(s, _)| *s == space) {
            Some((_, items)) => items.push(item),
            None => shares.push((space, vec![item])),
        }
    }
    let mut ids = Vec::new();
    let mut by_space = Map::new();
    for (space, items) in shares {
        let target = {
            let (state, name, space) = (state.clone(), name.clone(), space.clone());
            blocking(move || Ok(state.store.space(&name, &space)?)).await?
        };
        let written = upsert_into(&state, target, items).await?;
        by_space.insert(space, json!(written.len()));
        ids.extend(written);
    }
    Ok(Json(json!({ "upserted": ids.len(), "ids": ids, "spaces": by_space })))
}

/// The space of a mixed collection an item goes to: the one it names, else the one that takes
/// its kind of content (a document's text, an image, a sound).
fn space_for(config: &kin_store::CollectionConfig, item: &Incoming, index: usize) -> Result<String, ApiError> {
    if let Some(space) = &item.space {
        return match config.space(space) {
            Some(_) => Ok(space.clone()),
            None => Err(ApiError::bad_request(
                "unknown_space",
                format!("item {index}: collection {:?} has no space {space:?}", config.name),
            )),
        };
    }
    let modality = match &item.body {
        Given::Vector(_) => {
            return Err(ApiError::bad_request(
                "invalid_space",
                format!("item {index}: a vector belongs to one space's model: name it with \"space\""),
            ))
        }
        Given::Content(Content::Text(_) | Content::Tokens(_)) => Modality::Text,
        Given::Content(Content::Bytes { data, name }) => {
            if documents::is_document(data, name.as_deref().unwrap_or_default()) {
                Modality::Text
            } else {
                kin_core::detect_modality(data).ok_or_else(|| {
                    ApiError::bad_request("invalid_input", format!("item {index}: unrecognised content"))
                })?
            }
        }
    };
    match config.ingest_space(modality) {
        Some(space) => Ok(space.settings.name.clone()),
        None => Err(ApiError::bad_request(
            "no_space",
            format!("item {index}: no space of collection {:?} takes {modality} content", config.name),
        )),
    }
}

/// Writes items to one collection (or one space): documents through the ingestion pipeline,
/// chunked like `kin add`; the rest embedded here. Returns the ids written.
async fn upsert_into(
    state: &Arc<AppState>,
    collection: Arc<dyn CollectionWrite>,
    incoming: Vec<Incoming>,
) -> Result<Vec<Value>, ApiError> {
    let (mut uploads, mut rest) = (Vec::new(), Vec::new());
    for item in incoming {
        match item.body {
            Given::Content(Content::Bytes { data, name: Some(file) }) if documents::is_document(&data, &file) => {
                uploads.push(documents::Upload { name: file, data, payload: item.payload })
            }
            body => rest.push(Incoming { body, ..item }),
        }
    }
    let mut ids: Vec<Value> = Vec::new();
    if !uploads.is_empty() {
        ids.extend(documents::add(state, collection.clone(), uploads).await?.iter().map(|id| json!(id)));
    }
    let items = if rest.is_empty() { Vec::new() } else { embed_items(state, &*collection, rest).await? };
    ids.extend(items.iter().map(|i| json!(i.id)));
    if !items.is_empty() {
        blocking(move || Ok(collection.upsert(items)?)).await?;
    }
    Ok(ids)
}

/// Embeds what needs embedding and builds the items: one per input, plus one per segment of an
/// audio or video file (`ID#N`, with its start and end).
async fn embed_items(
    state: &Arc<AppState>,
    collection: &dyn CollectionRead,
    incoming: Vec<Incoming>,
) -> Result<Vec<Item>, ApiError> {
    let needs_model = incoming.iter().any(|i| matches!(i.body, Given::Content(_)));
    let batcher = match (&collection.config().model, needs_model) {
        (_, false) => None,
        (Some(model), true) => Some(state.models.get(model).await?),
        (None, true) => {
            return Err(ApiError::bad_request(
                "no_model",
                format!(
                    "collection {:?} holds bare vectors (it has no model): give each item a \"vector\"",
                    collection.name()
                ),
            ))
        }
    };
    let mut contents = Vec::new();
    let mut names = Vec::new();
    let mut hashes = Vec::new();
    let mut rows = Vec::with_capacity(incoming.len());
    for item in incoming {
        match item.body {
            Given::Vector(v) => rows.push((item.id, item.payload, Some(v))),
            Given::Content(c) => {
                let (name, hash) = match &c {
                    Content::Text(t) => (None, hex(&Sha256::digest(t.as_bytes()))),
                    Content::Tokens(t) => (None, hex(&Sha256::digest(format!("{t:?}").as_bytes()))),
                    Content::Bytes { data, name } => (name.clone(), hex(&Sha256::digest(data))),
                };
                names.push(name);
                hashes.push(hash);
                contents.push((c, rows.len()));
                rows.push((item.id, item.payload, None));
            }
        }
    }
    let (contents, slots): (Vec<Content>, Vec<usize>) = contents.into_iter().unzip();
    let embedded: Vec<Embedded> = match batcher {
        Some(b) if !contents.is_empty() => content::embed(state, &b, contents, true).await?,
        _ => Vec::new(),
    };
    let mut embedded_at: Vec<Option<(Embedded, Option<String>, String)>> = (0..rows.len()).map(|_| None).collect();
    for (((e, slot), name), hash) in embedded.into_iter().zip(slots).zip(names).zip(hashes) {
        embedded_at[slot] = Some((e, name, hash));
    }
    let mut items = Vec::new();
    for ((id, mut payload, vector), done) in rows.into_iter().zip(embedded_at) {
        let Some((mut e, name, hash)) = done else {
            items.push(Item {
                id,
                vector: vector.unwrap_or_default(),
                payload: Value::Object(payload),
                source: None,
                content_hash: None,
            });
            continue;
        };
        payload.entry("kind").or_insert_with(|| json!(e.modality.as_str()));
        if let Some(t) = e.text.take() {
            payload.entry("text").or_insert(Value::String(t));
        }
        if let Some(n) = &name {
            payload.entry("name").or_insert(json!(n));
        }
        if let Some(f) = &e.file {
            payload.insert("file".into(), json!(f));
        }
        if matches!(e.modality, Modality::Audio | Modality::Video) {
            for (n, s) in e.segments.iter().enumerate() {
                let mut seg = payload.clone();
                seg.insert("start".into(), json!(s.start));
                seg.insert("end".into(), json!(s.end));
                seg.insert("segment".into(), json!(n));
                seg.insert("parent".into(), json!(id));
                items.push(Item {
                    id: ItemId::Str(format!("{id}#{n}")),
                    vector: s.vector.clone(),
                    payload: Value::Object(seg),
                    source: name.clone(),
                    content_hash: Some(hash.clone()),
                });
            }
            payload.insert("start".into(), json!(0.0));
            payload.insert("end".into(), json!(e.duration));
            payload.insert("segments".into(), json!(e.segments.len()));
        }
        items.push(Item {
            id,
            vector: e.vector,
            payload: Value::Object(payload),
            source: name,
            content_hash: Some(hash),
        });
    }
    Ok(items)
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let c = collection(&state, name).await?;
    let item = blocking(move || item_at(&*c, &id)).await?;
    Ok(Json(json!({
        "id": item.id, "vector": item.vector, "payload": item.payload, "source": item.source, "content_hash": item.content_hash,
    })))
}

fn unknown_item(c: &dyn CollectionRead, id: &str) -> ApiError {
    ApiError::not_found("unknown_item", format!("collection {:?} has no item {id:?}", c.name()))
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let c = collection(&state, name).await?;
    let n = blocking(move || {
        let id = path_id(&*c, &id)?;
        Ok(c.delete(&[id])?)
    })
    .await?;
    Ok(Json(json!({ "deleted": n })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    #[serde(default)]
    ids: Vec<Value>,
    /// Documents whose chunks are all deleted (a path or a record id, as added).
    #[serde(default)]
    docs: Vec<String>,
}

pub async fn delete_many(
    State(state): State<Arc<AppState>>,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<DeleteRequest>,
) -> Result<Json<Value>, ApiError> {
    let ids: Vec<ItemId> = req.ids.iter().enumerate().map(|(i, v)| parse_id(Some(v), i)).collect::<Result<_, _>>()?;
    if ids.is_empty() && req.docs.is_empty() {
        return Err(ApiError::bad_request("invalid_input", "give \"ids\" or \"docs\" to delete"));
    }
    let c = collection(&state, name).await?;
    let n = blocking(move || {
        let mut n = c.delete(&ids)?;
        for doc in &req.docs {
            n += kin_ingest::delete_document(&*c, doc)?;
        }
        Ok(n)
    })
    .await?;
    Ok(Json(json!({ "deleted": n })))
}

/// The file an item was made from (an upload, or the local file `kin add` read), or its text.
pub async fn content(
    State(state): State<Arc<AppState>>,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let c = collection(&state, name).await?;
    let item = {
        let (c, id) = (c.clone(), id.clone());
        blocking(move || item_at(&*c, &id)).await?
    };
    let uploaded = item.payload.get("file").and_then(Value::as_str).and_then(|h| state.files.path(h));
    let roots = &state.config.file_roots;
    let local = item.payload.get("path").and_then(Value::as_str).and_then(|p| crate::files::within_roots(roots, p));
    let respond = |bytes: Vec<u8>, kind: &str| {
        Response::builder()
            .header(header::CONTENT_TYPE, kind)
            .header(header::CACHE_CONTROL, "private, max-age=3600")
            .body(Body::from(bytes))
            .map_err(|e| ApiError::internal(e.to_string()))
    };
    if let Some(path) = uploaded.or(local) {
        let bytes = blocking(move || {
            std::fs::read(&path).map_err(|e| ApiError::internal(format!("reading the item's file: {e}")))
        })
        .await?;
        let kind = media_type(&bytes[..bytes.len().min(64)]);
        return respond(bytes, kind);
    }
    if let Some(text) = item.payload.get("text").and_then(Value::as_str) {
        return respond(text.as_bytes().to_vec(), "text/plain; charset=utf-8");
    }
    if let Some(path) = item.payload.get("path").and_then(Value::as_str) {
        return Err(ApiError::not_found(
            "no_content",
            format!("item {id:?} names the file {path:?}, which is not a file in the folders this server serves (kin serve --files-from)"),
        ));
    }
    Err(ApiError::not_found("no_content", format!("item {id:?} keeps no content, only its vector")))
}
