//! Collections, items and search; uploads; the OpenAPI document; CORS.

use super::*;

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
    // Text and hybrid search over the BM25 index that text models get by default.
    let search = |body: Value| api.call(Method::POST, "/v1/collections/docs/search", Some(body));
    let r = search(json!({"text": "Bread recipes", "mode": "text"})).await;
    assert_eq!(r.body["mode"], "text", "{}", r.body);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(r.body["results"][0]["id"], "d3");
    assert_eq!(r.body["results"][0]["found_by"]["text"]["rank"], 1);
    let r = search(json!({"text": "systems language", "mode": "hybrid", "k": 2})).await;
    assert_eq!(r.body["results"][0]["id"], "d1", "{}", r.body);
    assert!(r.body["results"][0]["found_by"]["dense"]["rank"].is_u64());
    assert!(r.body["results"][0]["found_by"]["text"]["rank"].is_u64());
    let r = search(json!({"text": "cat", "mode": "hybrid", "alpha": 0.3, "filter": "kind == \"text\""})).await;
    assert_eq!(r.body["results"][0]["id"], "d0", "{}", r.body);
    assert_error(&search(json!({"text": "  ", "mode": "text"})).await, StatusCode::BAD_REQUEST, "invalid_query");
    assert_error(&search(json!({"vector": [0.0], "mode": "text"})).await, StatusCode::BAD_REQUEST, "invalid_query");
    assert_error(&search(json!({"text": "x", "mode": "sparse"})).await, StatusCode::BAD_REQUEST, "invalid_mode");
    let r = search(json!({"text": "x", "mode": "hybrid", "alpha": 7})).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "invalid_query");
    // A bare-vector collection refuses content, and a text query.
    api.call(Method::POST, "/v1/collections", Some(json!({"name": "bare", "dim": 8}))).await;
    let r =
        api.call(Method::POST, "/v1/collections/bare/items", Some(json!({"items": [{"id": 1, "text": "hi"}]}))).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "no_model");
    let r = api.call(Method::POST, "/v1/collections/bare/search", Some(json!({"text": "hi"}))).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "no_model");
    let r = api.call(Method::POST, "/v1/collections/bare/search", Some(json!({"text": "hi", "mode": "text"}))).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "no_text_index");
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
    // Text files are documents: one chunk each here, through the ingestion pipeline.
    assert_eq!(r.body["ids"], json!(["a.txt#0", "b.txt#0"]));
    let r = api.call(Method::GET, "/v1/collections/files/items/b.txt%230", None).await;
    assert_eq!(r.body["payload"]["batch"], 7);
    assert_eq!(r.body["payload"]["doc"], "b.txt");
    assert_eq!(r.body["payload"]["text"], "boats on the river");
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
