//! Bad input, keys and a full queue: the right status and a JSON error.

use super::*;

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
