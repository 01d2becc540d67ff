//! Test helpers: a mock Hub on 127.0.0.1, wheels built on the fly, and a fake pip.

use std::io::{BufRead, BufReader, Cursor, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    crate::cache::hex(&Sha256::digest(bytes))
}

/// One canned HTTP response.
#[derive(Clone)]
pub(crate) struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    declared_length: Option<usize>,
}

impl Reply {
    pub(crate) fn ok(body: Vec<u8>) -> Self {
        Reply::status(200, body)
    }

    pub(crate) fn status(status: u16, body: Vec<u8>) -> Self {
        Reply { status, headers: Vec::new(), body, declared_length: None }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Announces `n` bytes in `Content-Length` whatever the body holds (a cut-off transfer).
    pub(crate) fn declared_length(mut self, n: usize) -> Self {
        self.declared_length = Some(n);
        self
    }
}

/// A request the mock saw.
#[derive(Debug, Clone)]
pub(crate) struct SeenRequest {
    pub(crate) path: String,
    pub(crate) authorization: Option<String>,
}

/// A tiny HTTP/1.1 server answering from a route table, one request per connection.
pub(crate) struct MockHub {
    pub(crate) endpoint: String,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl MockHub {
    pub(crate) fn start(routes: Vec<(String, Reply)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind mock hub");
        let endpoint = format!("http://{}", listener.local_addr().expect("mock hub address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                serve(stream, &routes, &log);
            }
        });
        MockHub { endpoint, seen }
    }

    pub(crate) fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn serve(stream: TcpStream, routes: &[(String, Reply)], log: &Mutex<Vec<SeenRequest>>) {
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut authorization = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("authorization") {
                authorization = Some(value.trim().to_string());
            }
        }
    }
    if let Ok(mut seen) = log.lock() {
        seen.push(SeenRequest { path: path.clone(), authorization });
    }
    let not_found = Reply::status(404, b"Entry not found".to_vec());
    let reply = routes.iter().find(|(p, _)| *p == path).map_or(&not_found, |(_, r)| r);
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.declared_length.unwrap_or(reply.body.len())
    );
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = &stream;
    let _ = out.write_all(head.as_bytes()).and_then(|_| out.write_all(&reply.body));
}

/// Routes of a hub serving a sentence-transformers repository: every required file, one optional
/// file (the other optional one is a 404), and `model.safetensors` through a redirect to a "CDN"
/// path whose `X-Linked-ETag` is `linked_etag`.
pub(crate) fn hub_routes(repo: &str, weights: &[u8], linked_etag: &str) -> Vec<(String, Reply)> {
    let base = format!("/{repo}/resolve/main");
    let mut routes: Vec<(String, Reply)> = crate::card::SENTENCE_TRANSFORMERS_FILES
        .iter()
        .filter(|f| **f != "model.safetensors")
        .map(|f| (format!("{base}/{f}"), Reply::ok(format!("{{\"file\":\"{f}\"}}").into_bytes())))
        .collect();
    routes.push((format!("{base}/tokenizer_config.json"), Reply::ok(b"{}".to_vec())));
    let redirect = Reply::status(302, Vec::new())
        .header("Location", "/cdn/blob-123?sig=x")
        .header("X-Linked-ETag", &format!("\"{linked_etag}\""));
    routes.push((format!("{base}/model.safetensors"), redirect));
    routes.push(("/cdn/blob-123?sig=x".to_string(), Reply::ok(weights.to_vec())));
    routes
}

/// A zip archive of `(name, contents)` entries, in memory.
pub(crate) fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, contents) in entries {
        writer.start_file(*name, SimpleFileOptions::default()).expect("zip entry");
        writer.write_all(contents).expect("zip write");
    }
    writer.finish().expect("zip finish").into_inner()
}

/// A fake `pip` (a shell script) that copies `NAME-*.whl` from `wheelhouse` into the `-d`
/// folder for a `NAME==VERSION` requirement, logging each call's arguments to `log`.
#[cfg(unix)]
pub(crate) fn fake_pip(dir: &Path, wheelhouse: &Path) -> (Vec<String>, PathBuf) {
    let log = dir.join("pip-calls.log");
    let script = dir.join("fake-pip.sh");
    let body = format!(
        r#"#!/bin/sh
echo "$@" >> '{log}'
dest=""; req=""
while [ $# -gt 0 ]; do
  case "$1" in
    -d) dest="$2"; shift ;;
    *==*) req="$1" ;;
  esac
  shift
done
[ -n "$dest" ] || {{ echo "no -d" >&2; exit 2; }}
name=$(echo "${{req%%==*}}" | tr 'A-Z.-' 'a-z__')
for w in '{house}'/"$name"-*.whl; do
  [ -f "$w" ] || {{ echo "ERROR: No matching distribution found for $req" >&2; exit 1; }}
  cp "$w" "$dest/"
done
"#,
        log = log.display(),
        house = wheelhouse.display()
    );
    std::fs::write(&script, body).expect("write fake pip");
    (vec!["sh".to_string(), script.display().to_string()], log)
}
