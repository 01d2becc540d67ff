//! `POST /v1/embeddings` (OpenAI's API, unchanged) and `POST /v1/embed` (any modality).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiJson;
use crate::content::{self, kind_of, Content};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct OpenAiRequest {
    input: Value,
    model: String,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<u64>,
    /// Accepted and ignored, as OpenAI documents it (a caller's end-user id).
    #[serde(default)]
    #[allow(dead_code)]
    user: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Float,
    Base64,
}

fn encoding(format: Option<&str>) -> Result<Encoding, ApiError> {
    match format {
        None | Some("float") => Ok(Encoding::Float),
        Some("base64") => Ok(Encoding::Base64),
        Some(other) => Err(ApiError::bad_request(
            "invalid_encoding_format",
            format!("encoding_format {other:?} is not one of \"float\", \"base64\""),
        )),
    }
}

/// A vector as OpenAI returns it: numbers, or base64 of little-endian float32.
fn encode(v: &[f32], enc: Encoding) -> Value {
    match enc {
        Encoding::Float => json!(v),
        Encoding::Base64 => {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
}

/// OpenAI's `input`: a string, a list of strings, a token array, or a list of token arrays.
fn openai_inputs(input: &Value, state: &AppState) -> Result<Vec<Content>, ApiError> {
    let config = &state.config;
    let inputs: Vec<Content> = match input {
        Value::String(_) => vec![content::parse(input, 0, config)?],
        Value::Array(items) if items.is_empty() => {
            return Err(ApiError::bad_request("invalid_input", "input is an empty list"));
        }
        Value::Array(items) if items.iter().all(Value::is_number) => {
            vec![Content::Tokens(content::tokens_of(input, 0, config)?)]
        }
        Value::Array(items) => {
            if items.len() > config.max_inputs {
                return Err(ApiError::too_large(format!(
                    "{} inputs in one request; the limit is {}",
                    items.len(),
                    config.max_inputs
                )));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(_) => content::parse(item, i, config),
                    Value::Array(_) => content::tokens_of(item, i, config).map(Content::Tokens),
                    other => Err(ApiError::bad_request(
                        "invalid_input",
                        format!("input {i} is {}; expected a string or an array of token ids", kind_of(other)),
                    )),
                })
                .collect::<Result<_, _>>()?
        }
        other => {
            return Err(ApiError::bad_request(
                "invalid_input",
                format!("input is {}; expected a string, a list of strings, or token arrays", kind_of(other)),
            ))
        }
    };
    Ok(inputs)
}

pub async fn openai(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<OpenAiRequest>,
) -> Result<Json<Value>, ApiError> {
    let enc = encoding(req.encoding_format.as_deref())?;
    let inputs = openai_inputs(&req.input, &state)?;
    let batcher = state.models.get(&req.model).await?;
    let dim = batcher.model().dim();
    if let Some(d) = req.dimensions {
        if d != dim as u64 {
            return Err(ApiError::bad_request(
                "invalid_dimensions",
                format!(
                    "{} makes {dim}-dimensional vectors and cannot shorten them; dimensions {d} is not offered",
                    req.model
                ),
            ));
        }
    }
    let embedded = content::embed(&state, &batcher, inputs, false).await?;
    let tokens: usize = embedded.iter().map(|e| e.tokens).sum();
    let data: Vec<Value> = embedded
        .iter()
        .enumerate()
        .map(|(i, e)| json!({ "object": "embedding", "index": i, "embedding": encode(&e.vector, enc) }))
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": req.model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    })))
}

#[derive(Deserialize)]
pub struct EmbedRequest {
    model: String,
    inputs: Vec<Value>,
    #[serde(default)]
    encoding_format: Option<String>,
}

/// Any modality: texts, token arrays, and files as base64, in one list.
pub async fn embed(
    State(state): State<Arc<AppState>>,
    ApiJson(req): ApiJson<EmbedRequest>,
) -> Result<Json<Value>, ApiError> {
    let enc = encoding(req.encoding_format.as_deref())?;
    if req.inputs.is_empty() {
        return Err(ApiError::bad_request("invalid_input", "inputs is an empty list"));
    }
    if req.inputs.len() > state.config.max_inputs {
        return Err(ApiError::too_large(format!(
            "{} inputs; the limit is {}",
            req.inputs.len(),
            state.config.max_inputs
        )));
    }
    let inputs: Vec<Content> =
        req.inputs.iter().enumerate().map(|(i, v)| content::parse(v, i, &state.config)).collect::<Result<_, _>>()?;
    let batcher = state.models.get(&req.model).await?;
    let embedded = content::embed(&state, &batcher, inputs, false).await?;
    let data: Vec<Value> = embedded
        .iter()
        .enumerate()
        .map(|(i, e)| json!({ "index": i, "modality": e.modality.as_str(), "embedding": encode(&e.vector, enc) }))
        .collect();
    Ok(Json(json!({ "model": batcher.model().name(), "dim": batcher.model().dim(), "data": data })))
}
