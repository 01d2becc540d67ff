//! Server hardening: no request reads a file outside the folders the server serves, uploads are
//! bounded in number, and slow clients (headers or body trickling in, or nothing at all) are cut
//! off instead of holding a connection.

use std::sync::Arc;
use std::time::Duration;

use kin_server::testing::state_with;
use std::io::{Read, Write};
use std::net::TcpStream;

use super::*;

#[tokio::test]
async fn local_files_are_served_only_from_the_served_folders() {
    let served = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(served.path().join("ok.txt"), "inside").unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside").unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), served.path().join("link.txt")).unwrap();
    let config = ServerConfig { file_roots: vec![served.path().to_path_buf()], ..ServerConfig::default() };
    let api = api_with(config, FakeEmbedder::new(4));
    api.call(Method::POST, "/v1/collections", Some(json!({"name": "v", "dim": 4}))).await;
    let paths = [
        ("ok", served.path().join("ok.txt")),
        ("absolute", outside.path().join("secret.txt")),
        ("dotdot", served.path().join("..").join(outside.path().file_name().unwrap()).join("secret.txt")),
        ("link", served.path().join("link.txt")),
        ("system", "/etc/passwd".into()),
    ];
    let items: Vec<Value> =
        paths.iter().map(|(id, path)| json!({"id": id, "vector": [1, 2, 3, 4], "payload": {"path": path}})).collect();
    let r = api.call(Method::POST, "/v1/collections/v/items", Some(json!({ "items": items }))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = api.call(Method::GET, "/v1/collections/v/items/ok/content", None).await;
    assert_eq!((r.status, r.raw.as_slice()), (StatusCode::OK, b"inside".as_slice()));
    for (id, _) in &paths[1..] {
        let r = api.call(Method::GET, &format!("/v1/collections/v/items/{id}/content"), None).await;
        assert_error(&r, StatusCode::NOT_FOUND, "no_content");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("--files-from"), "{id}: {}", r.body);
        assert!(!String::from_utf8_lossy(&r.raw).contains("outside\""), "{id}");
    }
}

#[tokio::test]
async fn uploads_beyond_the_limit_answer_429() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig { max_uploads: 1, ..ServerConfig::default() };
    let state = state_with(dir.path(), Arc::new(FakeEmbedder::new(8)), config);
    let app = kin_server::router(state.clone());
    let create = Request::post("/v1/collections")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({"name": "files", "model": "fake-model"}).to_string()))
        .unwrap();
    assert_eq!(app.clone().oneshot(create).await.unwrap().status(), StatusCode::CREATED);
    let upload = || {
        let boundary = "XkinBoundaryX";
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\napples\r\n--{boundary}--\r\n"
        );
        Request::post("/v1/collections/files/items")
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(Body::from(body))
            .unwrap()
    };
    // Another upload holds the only slot.
    let held = state.uploads.clone().try_acquire_owned().unwrap();
    let r = app.clone().oneshot(upload()).await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    let body: Value = serde_json::from_slice(&axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "uploads_busy", "{body}");
    drop(held);
    assert_eq!(app.oneshot(upload()).await.unwrap().status(), StatusCode::OK);
}

/// What the server sends on `stream` until it closes it (or 30 s pass: then `None`).
fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => return None,
            Err(_) => break,
        }
    }
    Some(String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        data: dir.path().to_path_buf(),
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    };
    let store: Arc<dyn kin_store::Backend> = Arc::new(kin_store::Store::open(dir.path()).unwrap());
    let loader: kin_server::Loader =
        Arc::new(|name: &str| Err(kin_embed::Error::InputShape { message: format!("no model {name} here") }));
    let server = kin_server::Server::bind_with(config, store, loader).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run());

    // The clients block, so they run beside the server's runtime.
    tokio::task::spawn_blocking(move || {
        // Silent: connects and sends nothing.
        let mut silent = TcpStream::connect(addr).unwrap();
        // Half a request head, never finished.
        let mut slow_head = TcpStream::connect(addr).unwrap();
        slow_head.write_all(b"GET /healthz HTTP/1.1\r\nHost: kin\r\n").unwrap();
        // A body that announces 100 bytes and sends 4.
        let mut slow_body = TcpStream::connect(addr).unwrap();
        let head =
            "POST /v1/collections HTTP/1.1\r\nHost: kin\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
        slow_body.write_all(format!("{head}{{\"na").as_bytes()).unwrap();

        // Meanwhile a prompt client is served.
        let mut prompt = TcpStream::connect(addr).unwrap();
        prompt.write_all(b"GET /healthz HTTP/1.1\r\nHost: kin\r\nConnection: close\r\n\r\n").unwrap();
        let reply = read_until_closed(&mut prompt).expect("the prompt client is answered");
        assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");

        let reply = read_until_closed(&mut slow_body).expect("a slow body is cut off");
        assert!(reply.starts_with("HTTP/1.1 408") && reply.contains("request_timeout"), "{reply}");
        let reply = read_until_closed(&mut slow_head).expect("a slow request head is cut off");
        assert!(!reply.contains("200 OK"), "{reply}");
        assert!(read_until_closed(&mut silent).is_some(), "a silent connection is closed");
    })
    .await
    .unwrap();
}
