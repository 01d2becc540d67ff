//! The HTTP API in process, over a temporary store and a small deterministic model: routes,
//! OpenAI compatibility, keys, limits, backpressure, and a fuzz run over every handler.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use kin_embed::Embedder;
use kin_server::testing::{state_with, FakeEmbedder};
use kin_server::{ApiKey, ServerConfig};
use serde_json::{json, Value};
use tower::ServiceExt;

struct Api {
    app: Router,
    model: Arc<FakeEmbedder>,
    _dir: tempfile::TempDir,
}

fn api_with(config: ServerConfig, model: FakeEmbedder) -> Api {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(model);
    let state = state_with(dir.path(), model.clone(), config);
    Api { app: kin_server::router(state), model, _dir: dir }
}

fn api() -> Api {
    api_with(ServerConfig::default(), FakeEmbedder::new(8))
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    raw: Vec<u8>,
}

impl Api {
    async fn send(&self, req: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let raw = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        Reply { status, headers, body, raw }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_as(method, path, body, None).await
    }

    async fn call_as(&self, method: Method, path: &str, body: Option<Value>, key: Option<&str>) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let req = match body {
            Some(b) => req.header(header::CONTENT_TYPE, "application/json").body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }
}

/// A 4xx or 5xx answer must be a JSON error with a code and a message.
fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.raw));
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", r.body);
}

#[tokio::test]
async fn collections_items_and_search_by_vector() {
    let api = api();
    let r = api.call(Method::POST, "/v1/collections", Some(json!({"name": "vecs", "dim": 3, "metric": "l2"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["dim"], 3);
    let dup = api.call(Method::POST, "/v1/collections", Some(json!({"name": "vecs", "dim": 3}))).await;
    assert_error(&dup, StatusCode::CONFLICT, "collection_exists");

    let items: Vec<Value> =
        (0..20).map(|i| json!({"id": i, "vector": [i as f32, 0.0, 1.0], "payload": {"even": i % 2 == 0}})).collect();
    let r = api.call(Method::POST, "/v1/collections/vecs/items", Some(json!({ "items": items }))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["upserted"], 20);

    let r = api
        .call(
            Method::POST,
            "/v1/collections/vecs/search",
            Some(json!({"vector": [7.2, 0.0, 1.0], "k": 3, "exact": true})),
        )
        .await;
    let ids: Vec<i64> = r.body["results"].as_array().unwrap().iter().map(|h| h["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [7, 8, 6]);
    let r = api
        .call(
            Method::POST,
            "/v1/collections/vecs/search",
            Some(json!({"vector": [7.2, 0.0, 1.0], "k": 2, "filter": "even == true"})),
        )
        .await;
    let ids: Vec<i64> = r.body["results"].as_array().unwrap().iter().map(|h| h["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [8, 6]);
    let r = api.call(Method::POST, "/v1/collections/vecs/search", Some(json!({"id": 3, "k": 2}))).await;
    let ids: Vec<i64> = r.body["results"].as_array().unwrap().iter().map(|h| h["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&3), "an item is not its own neighbour: {ids:?}");

    let r = api.call(Method::GET, "/v1/collections/vecs/items/4", None).await;
    assert_eq!(r.body["vector"], json!([4.0, 0.0, 1.0]));
    assert_eq!(r.body["payload"]["even"], true);
    let r = api.call(Method::DELETE, "/v1/collections/vecs/items/4", None).await;
    assert_eq!(r.body["deleted"], 1);
    assert_error(
        &api.call(Method::GET, "/v1/collections/vecs/items/4", None).await,
        StatusCode::NOT_FOUND,
        "unknown_item",
    );
    let r = api.call(Method::POST, "/v1/collections/vecs/items/delete", Some(json!({"ids": [1, 2, 99]}))).await;
    assert_eq!(r.body["deleted"], 2);

    let r = api.call(Method::GET, "/v1/collections", None).await;
    assert_eq!(r.body["collections"][0]["items"], 17);
    let r = api.call(Method::GET, "/v1/collections/vecs", None).await;
    assert_eq!(r.body["metric"], "l2");
    assert_eq!(api.call(Method::DELETE, "/v1/collections/vecs", None).await.status, StatusCode::OK);
    assert_error(
        &api.call(Method::GET, "/v1/collections/vecs", None).await,
        StatusCode::NOT_FOUND,
        "unknown_collection",
    );
}

#[tokio::test]
async fn text_items_are_embedded_and_found_by_text() {
    let api = api();
    let r = api.call(Method::POST, "/v1/collections", Some(json!({"name": "docs", "model": "fake-model"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let docs = ["the cat sat on the mat", "rust is a systems language", "vectors and embeddings", "a recipe for bread"];
    let items: Vec<Value> = docs.iter().enumerate().map(|(i, t)| json!({"id": format!("d{i}"), "text": t})).collect();
    let r = api.call(Method::POST, "/v1/collections/docs/items", Some(json!({ "items": items }))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for (i, t) in docs.iter().enumerate() {
        let r = api.call(Method::POST, "/v1/collections/docs/search", Some(json!({"text": t, "k": 1}))).await;
        assert_eq!(r.body["results"][0]["id"], format!("d{i}"), "{}", r.body);
        assert_eq!(r.body["results"][0]["payload"]["text"], *t);
        assert_eq!(r.body["results"][0]["payload"]["kind"], "text");
    }
    let r = api.call(Method::GET, "/v1/collections/docs/items/d1/content", None).await;
    assert_eq!(r.raw, docs[1].as_bytes());
    // The stored vector is the model's.
    let r = api.call(Method::GET, "/v1/collections/docs/items/d2", None).await;
    let stored: Vec<f32> = serde_json::from_value(r.body["vector"].clone()).unwrap();
    let expected = api.model.embed_text(&[docs[2]]).unwrap().remove(0);
    assert!(stored.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6));
    // A bare-vector collection refuses content, and a text query.
    api.call(Method::POST, "/v1/collections", Some(json!({"name": "bare", "dim": 8}))).await;
    let r =
        api.call(Method::POST, "/v1/collections/bare/items", Some(json!({"items": [{"id": 1, "text": "hi"}]}))).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "no_model");
    let r = api.call(Method::POST, "/v1/collections/bare/search", Some(json!({"text": "hi"}))).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "no_model");
}

#[tokio::test]
async fn multipart_uploads_become_items() {
    let api = api();
    api.call(Method::POST, "/v1/collections", Some(json!({"name": "files", "model": "fake-model"}))).await;
    let boundary = "XkinBoundaryX";
    let mut body = String::new();
    for (name, text) in [("a.txt", "apples and pears"), ("dir/b.txt", "boats on the river")] {
        body += &format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
        );
    }
    body += &format!("--{boundary}\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{{\"batch\": 7}}\r\n--{boundary}--\r\n");
    let req = Request::post("/v1/collections/files/items")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap();
    let r = api.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["ids"], json!(["a.txt", "b.txt"]));
    let r = api.call(Method::GET, "/v1/collections/files/items/b.txt", None).await;
    assert_eq!(r.body["payload"]["batch"], 7);
    assert_eq!(r.body["payload"]["name"], "b.txt");
    assert_eq!(r.body["payload"]["text"], "boats on the river");
}

#[tokio::test]
async fn openai_embeddings_match_the_model_in_float_and_base64() {
    let api = api();
    let texts = ["hello world", "a second input"];
    let expected = api.model.embed_text(&texts).unwrap();
    let r = api.call(Method::POST, "/v1/embeddings", Some(json!({"model": "fake-model", "input": texts}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["object"], "list");
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(r.body["data"][i]["index"], i);
        let got: Vec<f32> = serde_json::from_value(r.body["data"][i]["embedding"].clone()).unwrap();
        assert_eq!(&got, e);
    }
    let tokens: usize = texts.iter().map(|t| t.len() + 2).sum();
    assert_eq!(r.body["usage"]["prompt_tokens"], tokens);
    assert_eq!(r.body["usage"]["total_tokens"], tokens);

    let r = api
        .call(
            Method::POST,
            "/v1/embeddings",
            Some(json!({"model": "fake-model", "input": texts[0], "encoding_format": "base64"})),
        )
        .await;
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(r.body["data"][0]["embedding"].as_str().unwrap()).unwrap();
    let got: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(got, expected[0]);

    // Token arrays are ids of the model's vocabulary; the model's special tokens are added.
    let ids: Vec<u32> = texts[0].bytes().map(u32::from).collect();
    for input in [json!(ids), json!([ids])] {
        let r = api.call(Method::POST, "/v1/embeddings", Some(json!({"model": "fake-model", "input": input}))).await;
        let got: Vec<f32> = serde_json::from_value(r.body["data"][0]["embedding"].clone()).unwrap();
        assert_eq!(got, expected[0]);
    }
    let r = api
        .call(Method::POST, "/v1/embeddings", Some(json!({"model": "fake-model", "input": "x", "dimensions": 8})))
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // /v1/embed takes inputs of any kind in one list.
    let r = api
        .call(Method::POST, "/v1/embed", Some(json!({"model": "fake-model", "inputs": [texts[0], {"text": texts[1]}]})))
        .await;
    assert_eq!(r.body["dim"], 8);
    assert_eq!(r.body["data"][1]["modality"], "text");
    let got: Vec<f32> = serde_json::from_value(r.body["data"][1]["embedding"].clone()).unwrap();
    assert_eq!(got, expected[1]);
}

#[tokio::test]
async fn bad_input_gets_the_right_status_and_a_json_error() {
    let api =
        api_with(ServerConfig { max_body_bytes: 4096, max_text_bytes: 64, ..Default::default() }, FakeEmbedder::new(8));
    let post = |path: &'static str, body: Value| api.call(Method::POST, path, Some(body));
    let e = "/v1/embeddings";
    assert_error(&post(e, json!({"model": "fake-model", "input": []})).await, StatusCode::BAD_REQUEST, "invalid_input");
    assert_error(&post(e, json!({"model": "fake-model", "input": ""})).await, StatusCode::BAD_REQUEST, "invalid_input");
    assert_error(&post(e, json!({"model": "fake-model", "input": 5})).await, StatusCode::BAD_REQUEST, "invalid_input");
    assert_error(
        &post(e, json!({"model": "fake-model", "input": [["x"]]})).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    assert_error(
        &post(e, json!({"model": "fake-model", "input": [9999]})).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    assert_error(
        &post(e, json!({"model": "fake-model", "input": [-1]})).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
    assert_error(&post(e, json!({"input": "x"})).await, StatusCode::BAD_REQUEST, "invalid_json");
    assert_error(&post(e, json!({"model": 3, "input": "x"})).await, StatusCode::BAD_REQUEST, "invalid_json");
    assert_error(
        &post(e, json!({"model": "fake-model", "input": "x", "encoding_format": "int8"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_encoding_format",
    );
    assert_error(
        &post(e, json!({"model": "fake-model", "input": "x", "dimensions": 4})).await,
        StatusCode::BAD_REQUEST,
        "invalid_dimensions",
    );
    let unknown = post(e, json!({"model": "all-MiniLM-L6-v3", "input": "x"})).await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "unknown_model");
    assert!(unknown.body["error"]["message"].as_str().unwrap().contains("all-MiniLM-L6-v2"), "{}", unknown.body);
    assert_error(
        &post(e, json!({"model": "fake-model", "input": "y".repeat(65)})).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    );
    assert_error(
        &post(e, json!({"model": "fake-model", "input": "z".repeat(5000)})).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    );

    let raw = |body: &'static str, kind: &'static str| {
        Request::post(e).header(header::CONTENT_TYPE, kind).body(Body::from(body)).unwrap()
    };
    assert_error(&api.send(raw("{\"model\": ", "application/json")).await, StatusCode::BAD_REQUEST, "invalid_json");
    assert_error(
        &api.send(raw("{}", "text/plain")).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );

    assert_error(
        &api.call(Method::GET, "/v1/collections/nope", None).await,
        StatusCode::NOT_FOUND,
        "unknown_collection",
    );
    assert_error(
        &post("/v1/collections", json!({"name": "../x", "dim": 3})).await,
        StatusCode::BAD_REQUEST,
        "invalid_settings",
    );
    assert_error(
        &post("/v1/collections", json!({"name": "x", "dim": 3, "metric": "manhattan"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_settings",
    );
    assert_error(
        &post("/v1/collections", json!({"name": "x", "model": "nope-model"})).await,
        StatusCode::NOT_FOUND,
        "unknown_model",
    );
    assert_error(
        &post("/v1/collections", json!({"name": "x", "dim": 3, "colour": "red"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    post("/v1/collections", json!({"name": "v", "dim": 2})).await;
    let items = "/v1/collections/v/items";
    assert_error(
        &post(items, json!({"items": [{"id": 1, "vector": [1.0]}]})).await,
        StatusCode::BAD_REQUEST,
        "dimension_mismatch",
    );
    assert_error(
        &post(items, json!({"items": [{"id": 1.5, "vector": [1.0, 2.0]}]})).await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    );
    assert_error(
        &post(items, json!({"items": [{"id": 1, "vector": [0.0, 0.0]}]})).await,
        StatusCode::BAD_REQUEST,
        "invalid_vector",
    );
    assert_error(
        &post(items, json!({"items": [{"id": 1, "vector": "1,2"}]})).await,
        StatusCode::BAD_REQUEST,
        "invalid_vector",
    );
    assert_error(
        &post(items, json!({"items": [{"id": 1, "vector": [1, 2], "payload": 3}]})).await,
        StatusCode::BAD_REQUEST,
        "invalid_payload",
    );
    // A rejected batch leaves nothing behind.
    let r = post(items, json!({"items": [{"id": 1, "vector": [1, 2]}, {"id": 2, "vector": [1]}]})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "dimension_mismatch");
    assert_error(
        &api.call(Method::GET, "/v1/collections/v/items/1", None).await,
        StatusCode::NOT_FOUND,
        "unknown_item",
    );
    let search = "/v1/collections/v/search";
    assert_error(&post(search, json!({"vector": [1, 2], "k": 0})).await, StatusCode::BAD_REQUEST, "invalid_k");
    assert_error(
        &post(search, json!({"vector": [1, 2], "filter": "year >"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_filter",
    );
    assert_error(
        &post(search, json!({"vector": [1, 2], "text": "both"})).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    );
    assert_error(&post(search, json!({"vector": [1, 2, 3]})).await, StatusCode::BAD_REQUEST, "dimension_mismatch");
    assert_error(&api.call(Method::GET, "/v2/nothing", None).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &api.call(Method::PUT, "/v1/embeddings", None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
}

#[tokio::test]
async fn keys_guard_reads_and_writes() {
    let keys = ApiKey::parse_list("admin:admin-secret-1,read:reader-secret-2").unwrap();
    let api = api_with(ServerConfig { keys, ..Default::default() }, FakeEmbedder::new(8));
    let create = json!({"name": "k", "dim": 2});
    let no_key = api.call(Method::POST, "/v1/collections", Some(create.clone())).await;
    assert_error(&no_key, StatusCode::UNAUTHORIZED, "invalid_api_key");
    assert_eq!(no_key.headers[header::WWW_AUTHENTICATE], "Bearer");
    let wrong = api.call_as(Method::GET, "/v1/collections", None, Some("admin-secret-2")).await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_api_key");
    let read_write = api.call_as(Method::POST, "/v1/collections", Some(create.clone()), Some("reader-secret-2")).await;
    assert_error(&read_write, StatusCode::FORBIDDEN, "read_only_key");
    let admin = api.call_as(Method::POST, "/v1/collections", Some(create), Some("admin-secret-1")).await;
    assert_eq!(admin.status, StatusCode::CREATED);
    let body = json!({"items": [{"id": 1, "vector": [1, 0]}]});
    let read_upsert = api.call_as(Method::POST, "/v1/collections/k/items", Some(body), Some("reader-secret-2")).await;
    assert_error(&read_upsert, StatusCode::FORBIDDEN, "read_only_key");
    let read_delete = api.call_as(Method::DELETE, "/v1/collections/k", None, Some("reader-secret-2")).await;
    assert_error(&read_delete, StatusCode::FORBIDDEN, "read_only_key");
    let search = json!({"vector": [1, 0]});
    let read_search =
        api.call_as(Method::POST, "/v1/collections/k/search", Some(search), Some("reader-secret-2")).await;
    assert_eq!(read_search.status, StatusCode::OK);
    let embed = json!({"model": "fake-model", "input": "hi"});
    let read_embed = api.call_as(Method::POST, "/v1/embeddings", Some(embed), Some("reader-secret-2")).await;
    assert_eq!(read_embed.status, StatusCode::OK);
    let x_api_key = Request::get("/v1/collections").header("x-api-key", "reader-secret-2").body(Body::empty()).unwrap();
    assert_eq!(api.send(x_api_key).await.status, StatusCode::OK);
    for open in ["/healthz", "/readyz", "/", "/openapi.json"] {
        assert_eq!(api.call(Method::GET, open, None).await.status, StatusCode::OK, "{open}");
    }
    assert_eq!(api.call(Method::GET, "/metrics", None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after_and_metrics_count_it() {
    let config = ServerConfig { queue_inputs: 2, max_inputs: 2, ..Default::default() };
    let api = Arc::new(api_with(config, FakeEmbedder::new(8).with_delay(Duration::from_millis(150))));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"model": "fake-model", "input": [format!("text {i}"), "two"]});
            api.call(Method::POST, "/v1/embeddings", Some(body)).await
        }));
    }
    let (mut ok, mut busy) = (0, 0);
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            StatusCode::OK => ok += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "queue_full");
                assert_eq!(r.headers[header::RETRY_AFTER], "1");
                busy += 1;
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert!(ok >= 1 && busy >= 1, "ok {ok}, busy {busy}");
    let metrics = String::from_utf8(api.call(Method::GET, "/metrics", None).await.raw).unwrap();
    assert!(metrics.contains(&format!("kin_requests_rejected_total {busy}")), "{metrics}");
    assert!(metrics.contains("kin_http_requests_total{method=\"POST\",route=\"/v1/embeddings\",status=\"429\"}"));
    assert!(metrics.contains("kin_batch_size_count"));
    assert!(metrics.contains("kin_queue_depth 0"));
}

/// A tiny deterministic generator for the fuzz run (no dependency, reproducible by seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn value(&mut self, depth: usize) -> Value {
        match self.below(if depth > 2 { 6 } else { 8 }) {
            0 => Value::Null,
            1 => json!(self.below(2) == 0),
            2 => json!(*self.pick(&[0i64, -1, 1, 3, 384, i64::MAX, i64::MIN])),
            3 => json!(*self.pick(&[0.5f64, -1e30, 1e300, f64::MIN_POSITIVE])),
            4 => json!(*self.pick(&[
                "",
                "x",
                "fake-model",
                "docs",
                "year >= 2",
                "base64",
                "float",
                "ab\u{0}c",
                "ZmFrZQ=="
            ])),
            5 => json!("ü".repeat(self.below(40))),
            6 => Value::Array((0..self.below(5)).map(|_| self.value(depth + 1)).collect()),
            _ => {
                let keys = [
                    "model",
                    "input",
                    "inputs",
                    "encoding_format",
                    "dimensions",
                    "name",
                    "dim",
                    "metric",
                    "items",
                    "id",
                    "vector",
                    "text",
                    "data",
                    "tokens",
                    "payload",
                    "k",
                    "filter",
                    "exact",
                    "ef",
                    "ids",
                    "index",
                ];
                Value::Object(
                    (0..self.below(5)).map(|_| (self.pick(&keys).to_string(), self.value(depth + 1))).collect(),
                )
            }
        }
    }

    /// A valid body with one field replaced by something random.
    fn mutated(&mut self, valid: &Value) -> Value {
        let mut v = valid.clone();
        if let Value::Object(o) = &mut v {
            let keys: Vec<String> = o.keys().cloned().collect();
            if !keys.is_empty() {
                let key = self.pick(&keys).clone();
                if self.below(4) == 0 {
                    o.remove(&key);
                } else {
                    o.insert(key, self.value(1));
                }
            }
        }
        v
    }
}

/// Thousands of random and half-valid requests over every route: each is answered (no panic), never
/// with a server error, and every error is JSON with a code.
#[tokio::test]
async fn fuzzed_requests_never_panic_or_fail_the_server() {
    let api = api_with(ServerConfig { max_body_bytes: 16 << 10, ..Default::default() }, FakeEmbedder::new(4));
    api.call(Method::POST, "/v1/collections", Some(json!({"name": "docs", "model": "fake-model"}))).await;
    api.call(Method::POST, "/v1/collections/docs/items", Some(json!({"items": [{"id": 1, "text": "one"}]}))).await;
    let routes: [(Method, &str, Value); 10] = [
        (Method::POST, "/v1/embeddings", json!({"model": "fake-model", "input": ["a", "b"]})),
        (Method::POST, "/v1/embed", json!({"model": "fake-model", "inputs": ["a", {"data": "aGVsbG8="}]})),
        (Method::POST, "/v1/collections", json!({"name": "c", "dim": 4})),
        (Method::POST, "/v1/collections/docs/items", json!({"items": [{"id": "x", "text": "hello"}]})),
        (
            Method::POST,
            "/v1/collections/docs/items",
            json!({"items": [{"id": 2, "vector": [1, 2, 3, 4], "payload": {}}]}),
        ),
        (Method::POST, "/v1/collections/docs/search", json!({"text": "one", "k": 3, "filter": "kind == \"text\""})),
        (Method::POST, "/v1/collections/docs/search", json!({"vector": [1, 0, 0, 0], "exact": true, "ef": 10})),
        (Method::POST, "/v1/collections/docs/items/delete", json!({"ids": [5, "y"]})),
        (Method::GET, "/v1/collections/docs/items/1", Value::Null),
        (Method::DELETE, "/v1/collections/c", Value::Null),
    ];
    let paths = [
        "/v1/collections/%2e%2e",
        "/v1/collections/docs/items/%FF",
        "/v1/collections/docs/items/1/content",
        "/v1//x",
        "/metrics",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..3000 {
        let (method, path, valid) = rng.pick(&routes).clone();
        let (method, path) =
            if i % 17 == 0 { (Method::GET, rng.pick(&paths).to_string()) } else { (method, path.to_string()) };
        let body = match rng.below(5) {
            0 => rng.value(0).to_string(),
            1 => {
                let mut bytes = rng.mutated(&valid).to_string().into_bytes();
                let cut = rng.below(bytes.len() + 1);
                bytes.truncate(cut);
                String::from_utf8_lossy(&bytes).into_owned()
            }
            _ => rng.mutated(&valid).to_string(),
        };
        let req = Request::builder()
            .method(method.clone())
            .uri(&path)
            .header(header::CONTENT_TYPE, *rng.pick(&["application/json", "application/json", "text/plain"]))
            .body(Body::from(body.clone()))
            .unwrap();
        let r = api.send(req).await;
        assert!(!r.status.is_server_error(), "{method} {path} {body} → {} {}", r.status, r.body);
        if r.status.is_client_error() {
            assert!(r.body["error"]["code"].is_string(), "{method} {path} {body} → {} {:?}", r.status, r.raw);
        }
        *statuses.entry(r.status.as_u16()).or_insert(0) += 1;
    }
    assert!(statuses.get(&200).copied().unwrap_or(0) > 100, "the valid share got through: {statuses:?}");
    assert!(statuses.keys().filter(|s| **s >= 400).count() >= 3, "{statuses:?}");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let api = api();
    let doc = api.call(Method::GET, "/openapi.json", None).await.body;
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let routes = [
        ("/v1/embeddings", "post"),
        ("/v1/embed", "post"),
        ("/v1/models", "get"),
        ("/v1/collections", "get"),
        ("/v1/collections", "post"),
        ("/v1/collections/{name}", "get"),
        ("/v1/collections/{name}", "delete"),
        ("/v1/collections/{name}/items", "post"),
        ("/v1/collections/{name}/items/delete", "post"),
        ("/v1/collections/{name}/items/{id}", "get"),
        ("/v1/collections/{name}/items/{id}", "delete"),
        ("/v1/collections/{name}/items/{id}/content", "get"),
        ("/v1/collections/{name}/search", "post"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ];
    for (path, method) in routes {
        assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} is not documented");
        // And the route exists: anything but the fallback's 404 / 405.
        let concrete = path.replace("{name}", "nope").replace("{id}", "1");
        let r = api.call(method.to_uppercase().parse().unwrap(), &concrete, None).await;
        assert!(
            r.body["error"]["code"] != "not_found" && r.status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}: {}",
            r.body
        );
    }
    assert_eq!(paths.len(), routes.iter().map(|r| r.0).collect::<std::collections::BTreeSet<_>>().len());
}

#[tokio::test]
async fn cors_is_off_unless_origins_are_configured() {
    let preflight = || {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/v1/embeddings")
            .header(header::ORIGIN, "https://app.example")
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .unwrap()
    };
    let off = api();
    assert!(off.send(preflight()).await.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    let on = api_with(
        ServerConfig { cors_origins: vec!["https://app.example".into()], ..Default::default() },
        FakeEmbedder::new(8),
    );
    let r = on.send(preflight()).await;
    assert_eq!(r.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
}
