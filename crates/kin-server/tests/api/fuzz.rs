//! Random requests over every handler: no panic, always a JSON answer.

use super::*;

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

/// A valid upload of two text files and a payload part, as a browser sends it.
fn multipart(boundary: &str) -> Vec<u8> {
    let mut body = String::new();
    for (name, text) in [("a.txt", "apples and pears"), ("notes/b.md", "# Boats\n\nboats on the river")] {
        body += &format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
        );
    }
    body += &format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n{{\"batch\": 7}}\r\n--{boundary}--\r\n"
    );
    body.into_bytes()
}

/// Uploads damaged at random (bytes flipped, cut short, inserted, overwritten; boundaries that do
/// not match): each is answered, never with a server error, and every refusal is JSON with a code.
#[tokio::test]
async fn fuzzed_multipart_uploads_never_fail_the_server() {
    let api = api_with(ServerConfig { max_body_bytes: 64 << 10, ..Default::default() }, FakeEmbedder::new(4));
    api.call(Method::POST, "/v1/collections", Some(json!({"name": "files", "model": "fake-model"}))).await;
    let mut rng = kin_core::mutate::Mutator::new(0xB0DE);
    let mut statuses = std::collections::BTreeMap::new();
    for i in 0..1500 {
        let boundary = "XkinBoundaryX";
        let mut body = multipart(boundary);
        if i % 4 != 0 {
            for _ in 0..1 + rng.below(3) {
                rng.mutate(&mut body);
            }
        }
        let declared = match rng.below(8) {
            0 => "multipart/form-data".to_string(),
            1 => "multipart/form-data; boundary=other".to_string(),
            2 => format!("multipart/form-data; boundary=\"{boundary}\""),
            _ => format!("multipart/form-data; boundary={boundary}"),
        };
        let req = Request::post("/v1/collections/files/items")
            .header(header::CONTENT_TYPE, declared.as_str())
            .body(Body::from(body.clone()))
            .unwrap();
        let r = api.send(req).await;
        let shown = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        assert!(!r.status.is_server_error(), "{declared} {shown:?} → {} {}", r.status, r.body);
        if r.status.is_client_error() {
            assert!(r.body["error"]["code"].is_string(), "{declared} {shown:?} → {} {:?}", r.status, r.raw);
        }
        *statuses.entry(r.status.as_u16()).or_insert(0) += 1;
    }
    eprintln!("1,500 uploads, statuses {statuses:?}");
    assert!(statuses.get(&200).copied().unwrap_or(0) > 250, "the intact share got through: {statuses:?}");
    assert!(statuses.keys().any(|s| *s == 400), "{statuses:?}");
}
