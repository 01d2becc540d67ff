//! Inputs of any modality in a request, and turning them into vectors on a model's thread.
//!
//! An input is a text (`"…"` or `{"text": "…"}`), pre-tokenised ids (`{"tokens": [..]}`), or a
//! file's bytes (`{"data": "<base64>", "name": "photo.jpg"}`, or a multipart part). What a file
//! is comes from its content, never its name.

use std::path::PathBuf;

use base64::Engine as _;
use kin_core::{detect_modality, Modality};
use kin_media::Segment;
use serde_json::Value;

use crate::batcher::{Batcher, QueueFull, Work};
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::routes::blocking;
use crate::state::AppState;

/// One input of a request.
pub enum Content {
    Text(String),
    Tokens(Vec<u32>),
    Bytes { data: Vec<u8>, name: Option<String> },
}

/// An input's vector, with what was learnt on the way.
pub struct Embedded {
    pub vector: Vec<f32>,
    pub modality: Modality,
    /// Tokens the model read (texts on local models).
    pub tokens: usize,
    /// The text, for a text input or an uploaded text file.
    pub text: Option<String>,
    /// Timed segments of an audio or video file, and its duration.
    pub segments: Vec<Segment>,
    pub duration: f64,
    /// The sha256 under which an uploaded file was kept (when asked to keep files).
    pub file: Option<String>,
}

impl Embedded {
    fn new(vector: Vec<f32>, modality: Modality) -> Self {
        Embedded { vector, modality, tokens: 0, text: None, segments: Vec::new(), duration: 0.0, file: None }
    }
}

/// Reads input `index` of a request.
pub fn parse(value: &Value, index: usize, config: &ServerConfig) -> Result<Content, ApiError> {
    let text = |t: &str| -> Result<Content, ApiError> {
        if t.is_empty() {
            return Err(ApiError::bad_request("invalid_input", format!("input {index} is an empty string")));
        }
        if t.len() > config.max_text_bytes {
            return Err(ApiError::too_large(format!(
                "input {index} is {} bytes of text; the limit is {}",
                t.len(),
                config.max_text_bytes
            )));
        }
        Ok(Content::Text(t.to_string()))
    };
    match value {
        Value::String(t) => text(t),
        Value::Object(o) => match (o.get("text"), o.get("data"), o.get("tokens")) {
            (Some(Value::String(t)), None, None) => text(t),
            (None, Some(Value::String(b64)), None) => {
                let data = base64::engine::general_purpose::STANDARD.decode(b64.trim()).map_err(|e| {
                    ApiError::bad_request("invalid_input", format!("input {index}: data is not valid base64 ({e})"))
                })?;
                if data.is_empty() {
                    return Err(ApiError::bad_request("invalid_input", format!("input {index}: data is empty")));
                }
                let name = o.get("name").and_then(Value::as_str).map(str::to_string);
                Ok(Content::Bytes { data, name })
            }
            (None, None, Some(tokens)) => tokens_of(tokens, index, config).map(Content::Tokens),
            _ => Err(ApiError::bad_request(
                "invalid_input",
                format!("input {index}: give exactly one of \"text\" (a string), \"data\" (base64) or \"tokens\" (integers)"),
            )),
        },
        Value::Array(_) => tokens_of(value, index, config).map(Content::Tokens),
        other => Err(ApiError::bad_request(
            "invalid_input",
            format!("input {index} is {}; expected a string or an object", kind_of(other)),
        )),
    }
}

/// Token ids: a non-empty array of integers in 0..2^32.
pub fn tokens_of(value: &Value, index: usize, config: &ServerConfig) -> Result<Vec<u32>, ApiError> {
    let bad = |why: String| ApiError::bad_request("invalid_input", format!("input {index}: {why}"));
    let Value::Array(items) = value else {
        return Err(bad(format!("tokens must be an array, not {}", kind_of(value))));
    };
    if items.is_empty() {
        return Err(bad("the token array is empty".into()));
    }
    if items.len() * 4 > config.max_text_bytes {
        return Err(ApiError::too_large(format!("input {index} has {} tokens; too many", items.len())));
    }
    items
        .iter()
        .map(|t| t.as_u64().and_then(|t| u32::try_from(t).ok()).ok_or_else(|| bad(format!("token {t} is not an id"))))
        .collect()
}

pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn busy(_: QueueFull) -> ApiError {
    ApiError::queue_full(1)
}

fn gone<E>(_: E) -> ApiError {
    ApiError::internal("the model's thread stopped")
}

/// Embeds `contents` with `batcher`'s model; one result per input, in order. Texts of the request
/// go to the model as one piece of work (merged with other requests'), images as another, and
/// each audio or video file alone. Uploaded files are kept in the file store when `keep_files`.
pub async fn embed(
    state: &AppState,
    batcher: &Batcher,
    contents: Vec<Content>,
    keep_files: bool,
) -> Result<Vec<Embedded>, ApiError> {
    let model = batcher.model().clone();
    let mut out: Vec<Option<Embedded>> = (0..contents.len()).map(|_| None).collect();
    let (mut texts, mut tokens, mut files) = (Vec::new(), Vec::new(), Vec::new());
    for (i, c) in contents.into_iter().enumerate() {
        match c {
            Content::Text(t) => texts.push((i, t)),
            Content::Tokens(t) => tokens.push((i, t)),
            Content::Bytes { data, .. } => {
                let head = &data[..data.len().min(8192)];
                match detect_modality(head) {
                    Some(Modality::Text) => match String::from_utf8(data) {
                        Ok(t) if t.len() <= state.config.max_text_bytes => texts.push((i, t)),
                        Ok(t) => return Err(ApiError::too_large(format!("input {i} is {} bytes of text", t.len()))),
                        Err(_) => {
                            return Err(ApiError::unprocessable(
                                "invalid_content",
                                format!("input {i} is not valid UTF-8"),
                            ))
                        }
                    },
                    Some(m) => files.push((i, m, data)),
                    None => {
                        return Err(ApiError::unprocessable(
                            "invalid_content",
                            format!("input {i}: unrecognised content (not text, image, audio or video)"),
                        ))
                    }
                }
            }
        }
    }

    // Texts and token arrays: one piece of work, batched with other requests'.
    let mut kept_texts: Vec<Option<String>> = Vec::new();
    let sequences = if texts.is_empty() && tokens.is_empty() {
        None
    } else if model.tokenizes() {
        let text_refs: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
        kept_texts = texts.iter().map(|(_, t)| Some(t.clone())).collect();
        let renumber = |which: &[usize]| {
            let which = which.to_vec();
            move |e: kin_embed::Error| match e {
                kin_embed::Error::Tokenize { index, message } => ApiError::bad_request(
                    "invalid_input",
                    format!("input {}: {message}", which.get(index).copied().unwrap_or(index)),
                ),
                other => ApiError::from(other),
            }
        };
        let text_idx: Vec<usize> = texts.iter().map(|(i, _)| *i).collect();
        let token_idx: Vec<usize> = tokens.iter().map(|(i, _)| *i).collect();
        let mut ids =
            if text_refs.is_empty() { Vec::new() } else { model.tokenize(&text_refs).map_err(renumber(&text_idx))? };
        let raw: Vec<Vec<u32>> = tokens.iter().map(|(_, t)| t.clone()).collect();
        if !raw.is_empty() {
            ids.extend(model.wrap_tokens(&raw).map_err(renumber(&token_idx))?);
        }
        let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
        let order: Vec<usize> = text_idx.into_iter().chain(token_idx).collect();
        Some((order, lengths, batcher.submit(Work::Tokens(ids)).map_err(busy)?))
    } else {
        if let Some((i, _)) = tokens.first() {
            return Err(ApiError::bad_request(
                "unsupported_input",
                format!("input {i}: {} takes texts, not token arrays", model.name()),
            ));
        }
        let order: Vec<usize> = texts.iter().map(|(i, _)| *i).collect();
        kept_texts = texts.iter().map(|(_, t)| Some(t.clone())).collect();
        let lengths = vec![0; order.len()];
        let owned: Vec<String> = texts.into_iter().map(|(_, t)| t).collect();
        Some((order, lengths, batcher.submit(Work::Texts(owned)).map_err(busy)?))
    };

    // Files: images decoded and preprocessed here, embedded together; audio and video streamed
    // from a path, one task each.
    let mut images: Vec<(usize, Option<String>, Vec<u8>)> = Vec::new();
    let mut streams = Vec::new();
    for (i, modality, data) in files {
        let kept = if keep_files {
            let files = state.files.put(&data).map_err(|e| match e.kind() {
                std::io::ErrorKind::StorageFull => ApiError::storage_full(format!("keeping input {i}: {e}")),
                _ => ApiError::internal(format!("keeping input {i}: {e}")),
            })?;
            Some(files)
        } else {
            None
        };
        if modality == Modality::Image {
            images.push((i, kept, data));
            continue;
        }
        let (path, scratch): (PathBuf, _) = match &kept {
            Some(hash) => (state.files.path(hash).ok_or_else(|| ApiError::internal("a kept file vanished"))?, None),
            None => {
                let s = state.files.scratch(&data).map_err(|e| ApiError::internal(format!("input {i}: {e}")))?;
                (s.path().to_path_buf(), Some(s))
            }
        };
        let rx = batcher
            .run(1, move |m| {
                let _scratch = scratch;
                kin_media::embed_stream(m, &path, modality)
            })
            .map_err(busy)?;
        streams.push((i, modality, kept, rx));
    }
    let image_task = if images.is_empty() {
        None
    } else {
        let m = model.clone();
        let prepared = blocking(move || {
            images
                .into_iter()
                .map(|(i, kept, data)| {
                    kin_media::prepare_image(m.as_ref(), &data)
                        .map(|px| (i, kept, px))
                        .map_err(|reason| ApiError::unprocessable("invalid_content", format!("input {i}: {reason}")))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .await?;
        let (meta, pixels): (Vec<_>, Vec<_>) = prepared.into_iter().map(|(i, kept, px)| ((i, kept), px)).unzip();
        Some((meta, batcher.run(pixels.len(), move |m| m.embed_pixels(&pixels)).map_err(busy)?))
    };

    if let Some((order, lengths, rx)) = sequences {
        let vectors = rx.await.map_err(gone)??;
        let texts = kept_texts.into_iter().chain(std::iter::repeat(None));
        for (((i, v), n), text) in order.into_iter().zip(vectors).zip(lengths).zip(texts) {
            out[i] = Some(Embedded { tokens: n, text, ..Embedded::new(v, Modality::Text) });
        }
    }
    if let Some((meta, rx)) = image_task {
        let vectors = rx.await.map_err(gone)??;
        state.metrics.embeddings_done(vectors.len());
        for ((i, kept), v) in meta.into_iter().zip(vectors) {
            out[i] = Some(Embedded { file: kept, ..Embedded::new(v, Modality::Image) });
        }
    }
    for (i, modality, kept, rx) in streams {
        let (segments, duration) = rx
            .await
            .map_err(gone)?
            .map_err(|reason| ApiError::unprocessable("invalid_content", format!("input {i}: {reason}")))?;
        if segments.is_empty() {
            return Err(ApiError::unprocessable("invalid_content", format!("input {i}: no {modality} to embed")));
        }
        state.metrics.embeddings_done(segments.len());
        let vector = kin_media::whole_vector(&segments, model.normalized());
        out[i] = Some(Embedded { segments, duration, file: kept, ..Embedded::new(vector, modality) });
    }
    out.into_iter()
        .enumerate()
        .map(|(i, e)| e.ok_or_else(|| ApiError::internal(format!("input {i} got no vector"))))
        .collect()
}
