//! `RemoteEmbedder` against a mock of the OpenAI embeddings API on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kin_embed::{Embedder, Embeddings, Error, RemoteConfig, RemoteEmbedder, Result};
use serde_json::{json, Value};

/// What the mock answers to one request.
enum Reply {
    /// 200 with the embedding `[n, 1]` for each input `"n"`, listed in reverse order.
    Embeddings,
    /// A fixed status, extra headers and body.
    Raw(u16, Vec<(&'static str, &'static str)>, String),
}

fn raw(status: u16, body: Value) -> Reply {
    Reply::Raw(status, vec![], body.to_string())
}

/// One request as the mock saw it.
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn inputs(&self) -> usize {
        self.body["input"].as_array().map_or(0, Vec::len)
    }
}

/// Serves one connection per reply, in order, then stops; `finish` also stops it early.
struct Mock {
    url: String,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Vec<Seen>>,
}

impl Mock {
    fn start(replies: Vec<Reply>) -> Mock {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut seen = Vec::new();
            let mut replies = replies.into_iter().peekable();
            while replies.peek().is_some() && !flag.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => seen.push(serve(stream, replies.next().unwrap())),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
            seen
        });
        Mock { url, stop, thread }
    }

    /// Stops serving and returns the requests received.
    fn finish(self) -> Vec<Seen> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap()
    }

    /// The URL of a server that has stopped listening.
    fn finish_url(self) -> String {
        let url = self.url.clone();
        self.finish();
        url
    }
}

fn serve(stream: TcpStream, reply: Reply) -> Seen {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        match line.trim_end().split_once(':') {
            Some((k, v)) => headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string())),
            None => break,
        }
    }
    let len = headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let seen = Seen { path, headers, body: serde_json::from_slice(&body).unwrap_or(Value::Null) };

    let (status, extra, body) = match reply {
        Reply::Embeddings => {
            let inputs = seen.body["input"].as_array().cloned().unwrap_or_default();
            let data: Vec<Value> = (inputs.iter().enumerate())
                .map(|(i, s)| json!({"object": "embedding", "index": i, "embedding": [s.as_str().unwrap().parse::<f32>().unwrap(), 1.0]}))
                .rev()
                .collect();
            let body = json!({"object": "list", "data": data, "model": "mock", "usage": {"prompt_tokens": 1, "total_tokens": 1}});
            (200, vec![], body.to_string())
        }
        Reply::Raw(status, extra, body) => (status, extra, body),
    };
    let mut head = format!(
        "HTTP/1.1 {status} Mock\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let mut stream = reader.into_inner();
    stream.write_all(format!("{head}\r\n{body}").as_bytes()).unwrap();
    seen
}

fn config(url: &str) -> RemoteConfig {
    RemoteConfig {
        base_url: url.to_string(),
        api_key: Some("test-key".into()),
        max_retries: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        timeout: Duration::from_secs(10),
        ..RemoteConfig::new("mock-model")
    }
}

fn embed(cfg: RemoteConfig, texts: &[&str]) -> Result<Embeddings> {
    RemoteEmbedder::new(cfg)?.embed_text(texts)
}

fn remote_error(result: Result<Embeddings>) -> (Option<u16>, String) {
    match result {
        Err(Error::Remote { status, message, .. }) => (status, message),
        other => panic!("expected Error::Remote, got {other:?}"),
    }
}

#[test]
fn batches_and_reassembles_in_input_order() {
    let mock = Mock::start(vec![Reply::Embeddings, Reply::Embeddings, Reply::Embeddings]);
    let embedder = RemoteEmbedder::new(RemoteConfig { max_batch_inputs: 4, ..config(&mock.url) }).unwrap();
    assert_eq!(embedder.dim(), 0);
    let texts: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let rows = embedder.embed_text(&texts).unwrap();
    let expected: Vec<Vec<f32>> = (0..10).map(|i| vec![i as f32, 1.0]).collect();
    assert_eq!(rows, expected);
    assert_eq!((embedder.dim(), embedder.name(), embedder.normalized()), (2, "openai:mock-model", false));

    let seen = mock.finish();
    assert_eq!(seen.iter().map(Seen::inputs).collect::<Vec<_>>(), [4, 4, 2]);
    for request in &seen {
        assert_eq!(request.path, "/v1/embeddings");
        assert_eq!(request.header("authorization"), Some("Bearer test-key"));
        assert_eq!(request.body["model"], "mock-model");
        assert_eq!(request.body["encoding_format"], "float");
        assert!(request.body.get("dimensions").is_none());
    }
}

#[test]
fn empty_input_sends_no_request() {
    let mock = Mock::start(vec![Reply::Embeddings]);
    assert!(embed(config(&mock.url), &[]).unwrap().is_empty());
    assert!(mock.finish().is_empty());
}

#[test]
fn local_server_needs_no_key() {
    let mock = Mock::start(vec![Reply::Embeddings]);
    assert_eq!(embed(RemoteConfig { api_key: None, ..config(&mock.url) }, &["7"]).unwrap(), [[7.0, 1.0]]);
    assert_eq!(mock.finish()[0].header("authorization"), None);
}

#[test]
fn rate_limit_is_retried_after_retry_after() {
    let limited = Reply::Raw(429, vec![("Retry-After", "0")], json!({"error": {"message": "slow down"}}).to_string());
    let mock = Mock::start(vec![limited, Reply::Embeddings]);
    assert_eq!(embed(config(&mock.url), &["1", "2"]).unwrap(), [[1.0, 1.0], [2.0, 1.0]]);
    assert_eq!(mock.finish().len(), 2);
}

#[test]
fn server_errors_are_retried() {
    let mock = Mock::start(vec![raw(500, json!({})), Reply::Raw(502, vec![], "Bad Gateway".into()), Reply::Embeddings]);
    assert_eq!(embed(config(&mock.url), &["3"]).unwrap(), [[3.0, 1.0]]);
    assert_eq!(mock.finish().len(), 3);
}

#[test]
fn retries_stop_at_max_retries() {
    let mock = Mock::start((0..3).map(|_| Reply::Raw(503, vec![], "Service Unavailable".into())).collect());
    let (status, message) = remote_error(embed(RemoteConfig { max_retries: 2, ..config(&mock.url) }, &["1"]));
    assert_eq!(status, Some(503));
    assert_eq!(message, "HTTP 503: Service Unavailable (gave up after 3 attempts)");
    assert_eq!(mock.finish().len(), 3);
}

#[test]
fn connection_errors_are_retried_then_reported() {
    let url = Mock::start(vec![]).finish_url();
    let (status, message) = remote_error(embed(RemoteConfig { max_retries: 2, ..config(&url) }, &["1"]));
    assert_eq!(status, None);
    assert!(message.ends_with("(gave up after 3 attempts)"), "{message}");
}

#[test]
fn bad_request_fails_at_once_with_the_server_message() {
    let error = json!({"error": {"message": "maximum context length is 8192 tokens", "type": "invalid_request_error"}});
    let mock = Mock::start(vec![raw(400, error), Reply::Embeddings]);
    let (status, message) = remote_error(embed(config(&mock.url), &["1"]));
    assert_eq!((status, message.as_str()), (Some(400), "HTTP 400: maximum context length is 8192 tokens"));
    assert_eq!(mock.finish().len(), 1);
}

#[test]
fn unauthorized_points_at_the_api_key() {
    let mock =
        Mock::start(vec![raw(401, json!({"error": {"message": "Incorrect API key provided"}})), Reply::Embeddings]);
    let (status, message) = remote_error(embed(config(&mock.url), &["1"]));
    assert_eq!(status, Some(401));
    assert_eq!(message, "HTTP 401: Incorrect API key provided; check OPENAI_API_KEY");
    assert_eq!(mock.finish().len(), 1);
}

#[test]
fn malformed_json_is_reported() {
    let mock = Mock::start(vec![Reply::Raw(200, vec![], "{\"data\": [".into()), Reply::Embeddings]);
    let (status, message) = remote_error(embed(config(&mock.url), &["1"]));
    assert_eq!(status, Some(200));
    assert!(message.starts_with("malformed response (EOF while parsing"), "{message}");
    assert_eq!(mock.finish().len(), 1);
}

#[test]
fn wrong_vector_count_is_reported() {
    let mock = Mock::start(vec![raw(200, json!({"data": [{"index": 0, "embedding": [0.5]}]}))]);
    let (_, message) = remote_error(embed(config(&mock.url), &["1", "2"]));
    assert_eq!(message, "invalid response: 1 embeddings for 2 inputs");
    mock.finish();
}

#[test]
fn configured_dim_is_checked_and_sent_for_shortenable_models() {
    let mock = Mock::start(vec![Reply::Embeddings]);
    let (_, message) = remote_error(embed(RemoteConfig { dim: Some(3), ..config(&mock.url) }, &["1"]));
    assert_eq!(message, "invalid response: embedding for input 0 has 2 dimensions, expected 3");
    assert!(mock.finish()[0].body.get("dimensions").is_none());

    let mock = Mock::start(vec![Reply::Embeddings]);
    let cfg = RemoteConfig { dim: Some(2), model: "text-embedding-3-large".into(), ..config(&mock.url) };
    let embedder = RemoteEmbedder::new(cfg).unwrap();
    assert_eq!((embedder.dim(), embedder.normalized()), (2, true));
    assert_eq!(embedder.embed_text(&["4"]).unwrap(), [[4.0, 1.0]]);
    assert_eq!(mock.finish()[0].body["dimensions"], 2);
}

#[test]
fn config_from_environment() {
    let env = |key: &str| match key {
        "OPENAI_BASE_URL" => Some("http://localhost:8080/v1/".to_string()),
        "OPENAI_API_KEY" => Some(" ".to_string()),
        _ => None,
    };
    let local = RemoteConfig::from_lookup("nomic-embed-text", env);
    assert_eq!((local.base_url.as_str(), local.api_key.as_deref()), ("http://localhost:8080/v1/", None));
    assert!(local.validate().is_ok());

    let official = RemoteConfig::from_lookup("text-embedding-3-small", |_| None);
    assert_eq!(official.base_url, RemoteConfig::OPENAI_BASE_URL);
    assert!(matches!(RemoteEmbedder::new(official.clone()), Err(Error::MissingApiKey { .. })));
    let keyed = RemoteConfig { api_key: Some("sk-secret".into()), ..official };
    let embedder = RemoteEmbedder::new(keyed.clone()).unwrap();
    assert_eq!((embedder.dim(), embedder.normalized()), (1536, true));
    let shown = format!("{keyed:?} {embedder:?}");
    assert!(!shown.contains("sk-secret") && shown.contains("<redacted>"), "{shown}");
}

#[test]
fn invalid_config_is_rejected() {
    let bad = [
        RemoteConfig { base_url: "localhost:8080".into(), ..config("") },
        RemoteConfig { max_batch_inputs: 0, ..config("http://localhost") },
        RemoteConfig { dim: Some(0), ..config("http://localhost") },
        RemoteConfig { max_batch_inputs: 4096, ..config(RemoteConfig::OPENAI_BASE_URL) },
    ];
    for cfg in bad {
        assert!(matches!(cfg.validate(), Err(Error::Remote { .. })), "{cfg:?}");
    }
}
