//! Embeddings from OpenAI-compatible HTTP APIs: `POST {base_url}/embeddings`.
//!
//! Speaks to OpenAI and to local servers with the same protocol (text-embeddings-inference, vLLM,
//! Ollama, llama.cpp). Inputs are split into batches by count and size, connection errors, 429 and
//! 5xx are retried with exponential backoff, and every response is checked before it is returned.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::ops::Range;
use std::sync::OnceLock;
use std::time::Duration;

use kin_core::Modality;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Embedder, Embeddings, Error, Result};

const OPENAI_HOST: &str = "api.openai.com";
/// Most inputs the official API takes in one request.
const OPENAI_MAX_INPUTS: usize = 2048;
/// Upper bound on a response body; 2048 inputs of 3072 floats as JSON stay well below it.
const MAX_RESPONSE_BYTES: u64 = 1 << 30;

/// Where and how to call a remote embedding API. The API key is redacted in `Debug`.
#[derive(Clone, PartialEq)]
pub struct RemoteConfig {
    /// API root, without `/embeddings` (`OPENAI_BASE_URL`).
    pub base_url: String,
    /// Sent as `Authorization: Bearer …` (`OPENAI_API_KEY`); only the official OpenAI host requires it.
    pub api_key: Option<String>,
    /// Model name as the API knows it.
    pub model: String,
    /// Vector length. `None`: known for OpenAI models, otherwise learned from the first response.
    /// For `text-embedding-3-*` it is sent as the `dimensions` parameter (shortened vectors).
    pub dim: Option<usize>,
    /// Most inputs per request (OpenAI accepts up to 2048).
    pub max_batch_inputs: usize,
    /// Most bytes of text per request: a rough guard for the API's token budget.
    pub max_batch_chars: usize,
    /// Retries after the first attempt of a request.
    pub max_retries: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Limit on one whole request, connection to last byte.
    pub timeout: Duration,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            base_url: Self::OPENAI_BASE_URL.to_string(),
            api_key: None,
            model: "text-embedding-3-small".to_string(),
            dim: None,
            max_batch_inputs: 256,
            max_batch_chars: 4 * 300_000,
            max_retries: 6,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            timeout: Duration::from_secs(60),
        }
    }
}

impl RemoteConfig {
    pub const OPENAI_BASE_URL: &'static str = "https://api.openai.com/v1";

    /// Defaults for `model` on the official OpenAI API, without a key.
    pub fn new(model: impl Into<String>) -> Self {
        Self { model: model.into(), ..Self::default() }
    }

    /// Defaults for `model`, with `OPENAI_BASE_URL` and `OPENAI_API_KEY` from the environment.
    pub fn from_env(model: impl Into<String>) -> Self {
        Self::from_lookup(model, |key| std::env::var(key).ok())
    }

    /// Like [`RemoteConfig::from_env`], reading variables through `lookup`; empty values count as unset.
    pub fn from_lookup(model: impl Into<String>, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |key: &str| lookup(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mut cfg = Self::new(model);
        if let Some(url) = var("OPENAI_BASE_URL") {
            cfg.base_url = url;
        }
        cfg.api_key = var("OPENAI_API_KEY");
        cfg
    }

    /// Checks the settings; a missing key for the official OpenAI host is [`Error::MissingApiKey`].
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::Remote { url: self.base_url.clone(), status: None, message });
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return invalid("base URL must start with http:// or https://".into());
        }
        if self.model.trim().is_empty() {
            return invalid("model name is empty".into());
        }
        if self.dim == Some(0) || self.max_batch_inputs == 0 || self.max_batch_chars == 0 || self.timeout.is_zero() {
            return invalid("dim, max_batch_inputs, max_batch_chars and timeout must be above zero".into());
        }
        if self.is_official_openai() {
            if self.max_batch_inputs > OPENAI_MAX_INPUTS {
                return invalid(format!(
                    "max_batch_inputs {} exceeds OpenAI's {OPENAI_MAX_INPUTS}",
                    self.max_batch_inputs
                ));
            }
            if self.api_key.is_none() {
                return Err(Error::MissingApiKey { url: self.base_url.clone(), message: "no API key".into() });
            }
        }
        Ok(())
    }

    fn is_official_openai(&self) -> bool {
        host_of(&self.base_url).eq_ignore_ascii_case(OPENAI_HOST)
    }

    fn embeddings_url(&self) -> String {
        format!("{}/embeddings", self.base_url.trim_end_matches('/'))
    }
}

impl fmt::Debug for RemoteConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("model", &self.model)
            .field("dim", &self.dim)
            .field("max_batch_inputs", &self.max_batch_inputs)
            .field("max_batch_chars", &self.max_batch_chars)
            .field("max_retries", &self.max_retries)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// An [`Embedder`] backed by an OpenAI-compatible `/embeddings` endpoint. Named `openai:{model}`.
pub struct RemoteEmbedder {
    cfg: RemoteConfig,
    name: String,
    url: String,
    agent: ureq::Agent,
    dim: OnceLock<usize>,
}

impl fmt::Debug for RemoteEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteEmbedder").field("name", &self.name).field("cfg", &self.cfg).finish()
    }
}

impl RemoteEmbedder {
    /// Validates `cfg`; sends nothing.
    pub fn new(cfg: RemoteConfig) -> Result<Self> {
        cfg.validate()?;
        let agent = ureq::AgentBuilder::new()
            .timeout(cfg.timeout)
            .user_agent(concat!("kin/", env!("CARGO_PKG_VERSION")))
            .build();
        let dim = OnceLock::new();
        if let Some(d) = cfg.dim.or_else(|| known_dim(&cfg.model)) {
            let _ = dim.set(d);
        }
        Ok(Self { name: format!("openai:{}", cfg.model), url: cfg.embeddings_url(), agent, dim, cfg })
    }

    pub fn config(&self) -> &RemoteConfig {
        &self.cfg
    }

    /// The vector length, asking the API with a one-word input when it is not known yet.
    pub fn resolve_dim(&self) -> Result<usize> {
        if let Some(d) = self.dim.get() {
            return Ok(*d);
        }
        self.embed_text(&["dimension probe"])?;
        Ok(self.dim())
    }

    fn embed_batch(&self, batch: &[&str], offset: usize) -> Result<Embeddings> {
        let dimensions = self.cfg.dim.filter(|_| self.cfg.model.starts_with("text-embedding-3-"));
        let request = EmbeddingRequest { model: &self.cfg.model, input: batch, encoding_format: "float", dimensions };
        let mut attempt = 0;
        loop {
            match self.send(&request) {
                Ok(body) => return self.parse(&body, batch.len(), offset),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry { status, message, .. }) if attempt >= self.cfg.max_retries => {
                    return Err(self.error(status, format!("{message} (gave up after {} attempts)", attempt + 1)));
                }
                Err(Failure::Retry { status, message, hint }) => {
                    let delay = hint.map_or_else(|| self.backoff(attempt), |h| h.min(self.cfg.max_backoff));
                    tracing::warn!(url = %self.url, ?status, attempt = attempt + 1, ?delay, "{message}; retrying");
                    std::thread::sleep(delay);
                    attempt += 1;
                }
            }
        }
    }

    fn send(&self, request: &EmbeddingRequest<'_>) -> Result<Vec<u8>, Failure> {
        tracing::debug!(url = %self.url, inputs = request.input.len(), "embedding request");
        let mut req = self.agent.post(&self.url);
        if let Some(key) = &self.cfg.api_key {
            req = req.set("Authorization", &format!("Bearer {key}"));
        }
        match req.send_json(request) {
            Ok(resp) => read_body(resp).map_err(|e| Failure::retry(Some(200), format!("reading response: {e}"))),
            Err(ureq::Error::Status(code, resp)) => Err(self.status_failure(code, resp)),
            Err(ureq::Error::Transport(t)) => Err(self.transport_failure(&t)),
        }
    }

    fn status_failure(&self, code: u16, resp: ureq::Response) -> Failure {
        let hint = retry_hint(|name| resp.header(name));
        let body = read_body(resp).unwrap_or_default();
        let message = format!("HTTP {code}: {}", server_message(&body).unwrap_or_else(|| "no error message".into()));
        match code {
            408 | 429 | 500..=599 => Failure::Retry { status: Some(code), message, hint },
            401 => Failure::Fatal(self.error(Some(code), format!("{message}; check OPENAI_API_KEY"))),
            _ => Failure::Fatal(self.error(Some(code), message)),
        }
    }

    fn transport_failure(&self, t: &ureq::Transport) -> Failure {
        let source = std::error::Error::source(t).map(|s| s.to_string());
        let parts = [Some(t.kind().to_string()), t.message().map(String::from), source];
        let message = parts.into_iter().flatten().collect::<Vec<_>>().join(": ");
        match t.kind() {
            ureq::ErrorKind::Dns
            | ureq::ErrorKind::ConnectionFailed
            | ureq::ErrorKind::Io
            | ureq::ErrorKind::ProxyConnect => Failure::retry(None, message),
            _ => Failure::Fatal(self.error(None, message)),
        }
    }

    fn parse(&self, body: &[u8], inputs: usize, offset: usize) -> Result<Embeddings> {
        let resp: EmbeddingResponse = serde_json::from_slice(body)
            .map_err(|e| self.error(Some(200), format!("malformed response ({e}): {}", snippet(body))))?;
        if let Some(usage) = &resp.usage {
            tracing::debug!(prompt_tokens = ?usage.get("prompt_tokens"), "embedding usage");
        }
        let rows = order_and_check(resp.data, inputs, offset, self.dim.get().copied())
            .map_err(|m| self.error(Some(200), format!("invalid response: {m}")))?;
        if let Some(got) = rows.first().map(Vec::len) {
            let dim = *self.dim.get_or_init(|| {
                tracing::info!(model = %self.cfg.model, dim = got, "learned embedding dimension");
                got
            });
            if dim != got {
                return Err(self.error(Some(200), format!("invalid response: {got} dimensions, expected {dim}")));
            }
        }
        Ok(rows)
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.cfg.initial_backoff.saturating_mul(1 << attempt.min(20)).min(self.cfg.max_backoff);
        let mut h = RandomState::new().build_hasher();
        h.write_u32(attempt);
        // Half fixed, half random, so that clients failing together spread out.
        base / 2 + base.mul_f64(h.finish() as f64 / u64::MAX as f64 / 2.0)
    }

    fn error(&self, status: Option<u16>, message: String) -> Error {
        Error::Remote { url: self.url.clone(), status, message }
    }
}

impl Embedder for RemoteEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    /// 0 until known: see [`RemoteEmbedder::resolve_dim`].
    fn dim(&self) -> usize {
        self.dim.get().copied().unwrap_or(0)
    }

    fn modalities(&self) -> &[Modality] {
        &[Modality::Text]
    }

    /// OpenAI's own models return unit vectors; nothing is assumed of other models.
    fn normalized(&self) -> bool {
        self.cfg.model.starts_with("text-embedding-3-") || self.cfg.model == "text-embedding-ada-002"
    }

    fn embed_text(&self, texts: &[&str]) -> Result<Embeddings> {
        let mut out = Vec::with_capacity(texts.len());
        for range in batch_ranges(texts, self.cfg.max_batch_inputs, self.cfg.max_batch_chars) {
            let _span = tracing::debug_span!("embed_batch", start = range.start, len = range.len()).entered();
            out.extend(self.embed_batch(&texts[range.clone()], range.start)?);
        }
        Ok(out)
    }
}

#[derive(Serialize)]
struct EmbeddingRequest<'a> {
    model: &'a str,
    input: &'a [&'a str],
    encoding_format: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<usize>,
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingItem>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

enum Failure {
    Retry { status: Option<u16>, message: String, hint: Option<Duration> },
    Fatal(Error),
}

impl Failure {
    fn retry(status: Option<u16>, message: String) -> Self {
        Failure::Retry { status, message, hint: None }
    }
}

fn known_dim(model: &str) -> Option<usize> {
    match model {
        "text-embedding-3-small" | "text-embedding-ada-002" => Some(1536),
        "text-embedding-3-large" => Some(3072),
        _ => None,
    }
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    host_port.split(':').next().unwrap_or(host_port)
}

/// Consecutive ranges of at most `max_inputs` texts and `max_chars` bytes; a longer text goes alone.
fn batch_ranges(texts: &[&str], max_inputs: usize, max_chars: usize) -> Vec<Range<usize>> {
    let (mut ranges, mut start, mut chars) = (Vec::new(), 0, 0);
    for (i, text) in texts.iter().enumerate() {
        if i - start >= max_inputs.max(1) || (i > start && chars + text.len() > max_chars) {
            ranges.push(start..i);
            (start, chars) = (i, 0);
        }
        chars += text.len();
    }
    if start < texts.len() {
        ranges.push(start..texts.len());
    }
    ranges
}

/// Puts items in `index` order and checks their count, length and values.
fn order_and_check(
    data: Vec<EmbeddingItem>,
    inputs: usize,
    offset: usize,
    dim: Option<usize>,
) -> Result<Embeddings, String> {
    if data.len() != inputs {
        return Err(format!("{} embeddings for {inputs} inputs", data.len()));
    }
    let dim = dim.or_else(|| data.first().map(|item| item.embedding.len()));
    let mut rows: Vec<Option<Vec<f32>>> = vec![None; inputs];
    for item in data {
        let input = offset + item.index;
        let slot =
            rows.get_mut(item.index).ok_or_else(|| format!("index {} out of range for {inputs} inputs", item.index))?;
        if slot.is_some() {
            return Err(format!("index {} appears twice", item.index));
        }
        let len = item.embedding.len();
        if len == 0 || Some(len) != dim {
            return Err(format!("embedding for input {input} has {len} dimensions, expected {}", dim.unwrap_or(0)));
        }
        if let Some(pos) = item.embedding.iter().position(|x| !x.is_finite()) {
            return Err(format!("embedding for input {input} has a non-finite value at position {pos}"));
        }
        *slot = Some(item.embedding);
    }
    Ok(rows.into_iter().flatten().collect())
}

/// The wait an error response asks for: `retry-after-ms`, or `Retry-After` in seconds (an HTTP date
/// falls back to backoff).
fn retry_hint<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Option<Duration> {
    let secs = |name: &str, scale: f64| {
        header(name)?.trim().parse::<f64>().ok().and_then(|v| Duration::try_from_secs_f64(v * scale).ok())
    };
    secs("retry-after-ms", 1e-3).or_else(|| secs("retry-after", 1.0))
}

/// The text of an error body: `{"error": {"message": …}}`, `{"error": "…"}`, `{"message"|"detail": "…"}`,
/// or the body itself.
fn server_message(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let err = v.get("error").unwrap_or(&v);
        for found in [err.get("message"), Some(err), v.get("message"), v.get("detail")].into_iter().flatten() {
            if let Value::String(s) = found {
                return Some(s.clone());
            }
        }
    }
    (!text.is_empty()).then(|| snippet(text.as_bytes()))
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(200).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

fn read_body(resp: ureq::Response) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    resp.into_reader().take(MAX_RESPONSE_BYTES).read_to_end(&mut body)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(index: usize, embedding: Vec<f32>) -> EmbeddingItem {
        EmbeddingItem { index, embedding }
    }

    #[test]
    fn batches_respect_count_and_size() {
        let lens = |ranges: Vec<Range<usize>>| ranges.iter().map(Range::len).collect::<Vec<_>>();
        let texts = ["abcd"; 10];
        assert_eq!(lens(batch_ranges(&texts, 4, 1000)), [4, 4, 2]);
        assert_eq!(lens(batch_ranges(&texts, 100, 9)), [2, 2, 2, 2, 2]);
        assert_eq!(lens(batch_ranges(&["longer than the budget", "x", "y"], 10, 3)), [1, 2]);
        assert!(batch_ranges(&[], 4, 10).is_empty());
    }

    #[test]
    fn responses_are_ordered_and_checked() {
        let rows = order_and_check(vec![item(1, vec![1.0]), item(0, vec![0.0])], 2, 0, None).unwrap();
        assert_eq!(rows, [[0.0], [1.0]]);
        let err = |data, dim| order_and_check(data, 2, 10, dim).unwrap_err();
        assert_eq!(err(vec![item(0, vec![1.0])], None), "1 embeddings for 2 inputs");
        assert_eq!(err(vec![item(0, vec![1.0]), item(0, vec![1.0])], None), "index 0 appears twice");
        assert_eq!(err(vec![item(0, vec![1.0]), item(2, vec![1.0])], None), "index 2 out of range for 2 inputs");
        let wrong_len = err(vec![item(0, vec![1.0]), item(1, vec![1.0, 2.0])], None);
        assert_eq!(wrong_len, "embedding for input 11 has 2 dimensions, expected 1");
        assert!(err(vec![item(0, vec![1.0]), item(1, vec![1.0])], Some(3)).ends_with("expected 3"));
        let infinite = err(vec![item(0, vec![1.0]), item(1, vec![f32::INFINITY])], None);
        assert_eq!(infinite, "embedding for input 11 has a non-finite value at position 0");
    }

    #[test]
    fn retry_hints_in_seconds_or_milliseconds() {
        let hint = |name: &'static str, value: &'static str| retry_hint(move |h| (h == name).then_some(value));
        assert_eq!(hint("retry-after", "2"), Some(Duration::from_secs(2)));
        assert_eq!(hint("retry-after-ms", "2500"), Some(Duration::from_millis(2500)));
        assert_eq!(hint("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(hint("retry-after", "-1"), None);
    }

    #[test]
    fn official_host_is_recognised() {
        assert_eq!(host_of("https://user:pw@API.openai.com:443/v1"), "API.openai.com");
        assert_eq!(host_of("http://localhost:8080/v1"), "localhost");
        assert_eq!(host_of("https://api.openai.com.example/v1"), "api.openai.com.example");
    }
}
