//! What an upsert request brings, read and checked before anything is embedded: items' ids,
//! JSON items (a vector, or content to embed), and the files of a multipart upload.

use axum::extract::Multipart;
use axum::http::StatusCode;
use kin_store::ItemId;
use serde_json::{Map, Value};

use crate::content::{self, kind_of, Content};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest string id, in bytes.
const MAX_ID_BYTES: usize = 1024;

/// One item of a request before embedding.
pub(super) struct Incoming {
    pub(super) id: ItemId,
    pub(super) payload: Map<String, Value>,
    pub(super) body: Given,
    /// The space of a mixed collection it is for (by default, the one that takes its kind).
    pub(super) space: Option<String>,
}

pub(super) enum Given {
    Vector(Vec<f32>),
    Content(Content),
}

pub(super) fn parse_id(value: Option<&Value>, index: usize) -> Result<ItemId, ApiError> {
    let bad = |why: String| ApiError::bad_request("invalid_id", format!("item {index}: {why}"));
    match value {
        Some(Value::Number(n)) => {
            n.as_i64().map(ItemId::Int).ok_or_else(|| bad(format!("id {n} is not a 64-bit integer")))
        }
        Some(Value::String(s)) if s.is_empty() => Err(bad("id is an empty string".into())),
        Some(Value::String(s)) if s.len() > MAX_ID_BYTES => Err(bad(format!("id is longer than {MAX_ID_BYTES} bytes"))),
        Some(Value::String(s)) => Ok(ItemId::Str(s.clone())),
        Some(other) => Err(bad(format!("id is {}; expected a string or an integer", kind_of(other)))),
        None => Err(bad("no \"id\"".into())),
    }
}

pub(super) fn parse_item(mut obj: Map<String, Value>, index: usize, state: &AppState) -> Result<Incoming, ApiError> {
    let id = parse_id(obj.get("id"), index)?;
    let space = match obj.remove("space") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_space",
                format!("item {index}: space is {}; expected a space's name", kind_of(&other)),
            ))
        }
    };
    let payload = match obj.remove("payload") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_payload",
                format!("item {index}: payload is {}; expected an object", kind_of(&other)),
            ))
        }
    };
    let body = match obj.remove("vector") {
        Some(Value::Array(values)) => Given::Vector(
            values.iter().map(|v| v.as_f64().map(|x| x as f32)).collect::<Option<Vec<f32>>>().ok_or_else(|| {
                ApiError::bad_request("invalid_vector", format!("item {index}: vector must hold numbers only"))
            })?,
        ),
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_vector",
                format!("item {index}: vector is {}; expected an array of numbers", kind_of(&other)),
            ))
        }
        None => {
            obj.remove("id");
            for key in obj.keys() {
                if !matches!(key.as_str(), "text" | "data" | "tokens" | "name") {
                    return Err(ApiError::bad_request("invalid_input", format!("item {index}: unknown field {key:?}")));
                }
            }
            Given::Content(content::parse(&Value::Object(obj), index, &state.config)?)
        }
    };
    Ok(Incoming { id, payload, body, space })
}

/// File parts become items named after the file; a `payload` field (a JSON object) is added to
/// each.
pub(super) async fn read_multipart(mut form: Multipart, state: &AppState) -> Result<Vec<Incoming>, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        let code = if e.status() == StatusCode::PAYLOAD_TOO_LARGE { "too_large" } else { "invalid_multipart" };
        ApiError::new(e.status(), code, e.body_text())
    };
    let (mut files, mut shared) = (Vec::new(), Map::new());
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let filename = field.file_name().map(|f| f.rsplit(['/', '\\']).next().unwrap_or(f).to_string());
        match (field.name().unwrap_or(""), filename) {
            (_, Some(file)) if !file.is_empty() => {
                let data = field.bytes().await.map_err(bad)?.to_vec();
                if files.len() >= state.config.max_inputs {
                    return Err(ApiError::too_large(format!("more than {} files", state.config.max_inputs)));
                }
                files.push((file, data));
            }
            ("payload", _) => {
                let text = field.text().await.map_err(bad)?;
                shared = match serde_json::from_str(&text) {
                    Ok(Value::Object(p)) => p,
                    _ => {
                        return Err(ApiError::bad_request("invalid_payload", "the payload field must be a JSON object"))
                    }
                };
            }
            (other, _) => {
                return Err(ApiError::bad_request(
                    "invalid_multipart",
                    format!("unexpected field {other:?}: send files, and optionally a \"payload\" field"),
                ))
            }
        }
    }
    files
        .into_iter()
        .enumerate()
        .map(|(i, (file, data))| {
            if data.is_empty() {
                return Err(ApiError::bad_request("invalid_input", format!("file {file:?} is empty")));
            }
            Ok(Incoming {
                id: ItemId::Str(file.clone()),
                payload: shared.clone(),
                body: Given::Content(Content::Bytes { data, name: Some(file) }),
                space: None,
            })
            .inspect(|_| tracing::debug!(index = i, "multipart file"))
        })
        .collect()
}
