//! `kin collection`, `kin add`, `kin import` and `kin search` end to end on the embedded store.

use std::path::Path;
use std::process::{Command, Output};

fn kin(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kin"));
    cmd.env_remove("KIN_LOG").env_remove("KIN_MODEL").env("KIN_DATA", data);
    cmd
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(out: Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn write_npy(path: &Path, rows: usize, cols: usize, data: &[f32]) {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}").into_bytes();
    header.resize(117, b' ');
    header.push(b'\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&header);
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

fn read_ids(path: &Path) -> Vec<i64> {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header_len..].chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect()
}

#[test]
fn import_and_search_by_vector_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(kin(&data).args(["collection", "create", "vecs", "--dim", "4", "--metric", "l2"]).output().unwrap());
    let n = 500;
    let vectors: Vec<f32> = (0..n * 4).map(|i| ((i * 7919) % 101) as f32 / 10.0).collect();
    let v = dir.path().join("v.npy");
    write_npy(&v, n, 4, &vectors);
    let payloads = dir.path().join("p.jsonl");
    std::fs::write(&payloads, (0..n).map(|i| format!("{{\"odd\": {}}}\n", i % 2 == 1)).collect::<String>()).unwrap();
    let out =
        ok(kin(&data).args(["import", "vecs", "--vectors"]).arg(&v).arg("--payloads").arg(&payloads).output().unwrap());
    assert!(out.contains("imported 500"), "{out}");

    // Each stored vector finds itself first.
    let q = dir.path().join("q.npy");
    write_npy(&q, 3, 4, &vectors[40..52]);
    let ids = dir.path().join("ids.npy");
    ok(kin(&data)
        .args(["search", "vecs", "-k", "5", "--vector-file"])
        .arg(&q)
        .arg("--output")
        .arg(&ids)
        .output()
        .unwrap());
    let got = read_ids(&ids);
    assert_eq!(got.len(), 15);
    assert_eq!((got[0], got[5], got[10]), (10, 11, 12));

    let out = ok(kin(&data)
        .args(["search", "vecs", "-k", "3", "--json", "--filter", "odd == true", "--vector-file"])
        .arg(&q)
        .output()
        .unwrap());
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    for hit in rows[0].as_array().unwrap() {
        assert_eq!(hit["payload"]["odd"], true);
    }

    let info = ok(kin(&data).args(["collection", "info", "vecs", "--json"]).output().unwrap());
    assert!(info.contains("\"items\": 500"), "{info}");
}

#[test]
fn bad_input_gets_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(kin(&data).args(["collection", "create", "c", "--dim", "3"]).output().unwrap());
    fails(kin(&data).args(["collection", "create", "c", "--dim", "3"]).output().unwrap(), 2, "already exists");
    fails(
        kin(&data).args(["search", "nope", "--vector-file", "x.npy"]).output().unwrap(),
        2,
        "\"nope\" does not exist",
    );
    fails(
        kin(&data).args(["collection", "create", "bad/name", "--dim", "3"]).output().unwrap(),
        2,
        "invalid collection name",
    );

    let wrong = dir.path().join("wrong.npy");
    write_npy(&wrong, 2, 4, &[0.0; 8]);
    fails(kin(&data).args(["import", "c", "--vectors"]).arg(&wrong).output().unwrap(), 2, "expects 3");
    let nan = dir.path().join("nan.npy");
    write_npy(&nan, 1, 3, &[1.0, f32::NAN, 0.0]);
    fails(kin(&data).args(["import", "c", "--vectors"]).arg(&nan).output().unwrap(), 2, "NaN");

    let q = dir.path().join("q.npy");
    write_npy(&q, 1, 3, &[1.0, 0.0, 0.0]);
    fails(kin(&data).args(["search", "c", "--filter", "year >= ", "--vector-file"]).arg(&q).output().unwrap(), 2, "^");
    fails(kin(&data).args(["search", "c", "a text query"]).output().unwrap(), 1, "has no model");
    let info = ok(kin(&data).args(["collection", "info", "c", "--json"]).output().unwrap());
    assert!(info.contains("\"items\": 0"), "{info}");
    ok(kin(&data).args(["collection", "drop", "c"]).output().unwrap());
    assert!(!ok(kin(&data).args(["collection", "list"]).output().unwrap()).contains("\nc "));
}

#[test]
fn add_embeds_text_files_skips_unchanged_and_reports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let docs = dir.path().join("docs");
    std::fs::create_dir_all(docs.join("sub")).unwrap();
    std::fs::write(docs.join("bread.txt"), "Bake bread with flour, water, salt and yeast.").unwrap();
    std::fs::write(docs.join("sub/space.txt"), "Telescopes observe distant galaxies.").unwrap();
    std::fs::write(docs.join("photo.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    std::fs::write(docs.join("blob.bin"), b"\x00\x01\x02\xff").unwrap();
    ok(kin(&data).args(["models", "pull", "all-MiniLM-L6-v2"]).output().unwrap());
    ok(kin(&data).args(["collection", "create", "docs", "--model", "minilm"]).output().unwrap());
    let out = ok(kin(&data).args(["add", "docs"]).arg(&docs).output().unwrap());
    assert!(out.contains("2 added, 0 unchanged, 1 skipped, 1 failed"), "{out}");
    assert!(out.contains("photo.png: image content"), "{out}");
    let out = ok(kin(&data).args(["add", "docs"]).arg(&docs).output().unwrap());
    assert!(out.contains("0 added, 2 unchanged"), "{out}");
    let out = ok(kin(&data).args(["search", "docs", "how to make bread", "-k", "1"]).output().unwrap());
    assert!(out.contains("bread.txt"), "{out}");
}

/// The small random CLIP checkpoint of kin-embed's golden tests, and kin-image's fixture images.
fn tiny_clip() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kin-embed/tests/golden/clip/tiny-gelu")
}

fn fixture_images() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kin-image/tests/golden/images")
}

/// PNG's chunk checksum (CRC-32, reflected, polynomial 0xEDB88320).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

#[test]
fn images_are_added_and_found_by_text_and_by_image_and_bad_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pics = dir.path().join("pictures");
    std::fs::create_dir(&pics).unwrap();
    for name in ["photo_500x375.png", "rgb_300x300.png", "cmyk_90x120.jpg", "two_frames_200x150.gif"] {
        std::fs::copy(fixture_images().join(name), pics.join(name)).unwrap();
    }
    // A PNG named .jpg is still a PNG; the extension never decides.
    std::fs::copy(fixture_images().join("rgba_64x48.png"), pics.join("misnamed.jpg")).unwrap();
    std::fs::write(pics.join("caption.txt"), "a photo of a dog on the beach").unwrap();
    std::fs::write(
        pics.join("truncated.png"),
        &std::fs::read(fixture_images().join("rgb_300x300.png")).unwrap()[..200],
    )
    .unwrap();
    std::fs::write(pics.join("empty.jpg"), b"").unwrap();
    // A 30,000 × 30,000 bomb: a valid PNG header, refused before any pixel is allocated.
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&30000u32.to_be_bytes());
    ihdr.extend_from_slice(&30000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut bomb = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d".to_vec();
    bomb.extend_from_slice(&ihdr);
    bomb.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    bomb.extend_from_slice(b"\x00\x00\x00\x00IDAT");
    bomb.extend_from_slice(&crc32(b"IDAT").to_be_bytes());
    std::fs::write(pics.join("bomb.png"), bomb).unwrap();

    let model = tiny_clip();
    ok(kin(&data).args(["collection", "create", "photos", "--model"]).arg(&model).output().unwrap());
    let out = ok(kin(&data).args(["add", "photos"]).arg(&pics).output().unwrap());
    assert!(out.contains("photos: 6 added, 0 unchanged, 0 skipped, 3 failed (6 items)"), "{out}");
    assert!(out.contains("truncated.png: the PNG image is truncated"), "{out}");
    assert!(out.contains("empty.jpg: empty file"), "{out}");
    assert!(out.contains("bomb.png: the image is 30000x30000 pixels, more than the limit"), "{out}");

    // An image query finds itself first; a text query finds the caption first (CLIP's shared space).
    let query = pics.join("rgb_300x300.png");
    let hits = ok(kin(&data).args(["search", "photos", "--json", "-k", "3", "--image"]).arg(&query).output().unwrap());
    let hits: serde_json::Value = serde_json::from_str(&hits).unwrap();
    assert!(hits[0]["id"].as_str().unwrap().ends_with("rgb_300x300.png"), "{hits}");
    assert!((hits[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-4, "{hits}");
    assert_eq!(hits[0]["payload"]["kind"], "image");
    let hits = ok(kin(&data)
        .args(["search", "photos", "--json", "-k", "1", "a photo of a dog on the beach"])
        .output()
        .unwrap());
    assert!(hits.contains("caption.txt"), "{hits}");

    fails(
        kin(&data).args(["search", "photos", "--image"]).arg(pics.join("truncated.png")).output().unwrap(),
        2,
        "truncated",
    );
    fails(
        kin(&data).args(["search", "photos", "--image"]).arg(pics.join("caption.txt")).output().unwrap(),
        2,
        "text content",
    );
    // A second run skips every unchanged file.
    let out = ok(kin(&data).args(["add", "photos"]).arg(&pics).output().unwrap());
    assert!(out.contains("0 added, 6 unchanged"), "{out}");
}

#[test]
fn embed_takes_image_files_and_texts_in_one_call_and_jsonl_paths() {
    let dir = tempfile::tempdir().unwrap();
    let model = tiny_clip();
    let image = fixture_images().join("photo_500x375.png");
    let out = ok(kin(dir.path())
        .env("KIN_OFFLINE", "1")
        .args(["embed", "--model"])
        .arg(&model)
        .arg(&image)
        .arg("a photo of a dog")
        .output()
        .unwrap());
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let v = |r: &serde_json::Value| -> Vec<f64> {
        r["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
    };
    let (a, b) = (v(&rows[0]), v(&rows[1]));
    assert_eq!(a.len(), 24);
    assert!(a.iter().zip(&b).any(|(x, y)| (x - y).abs() > 1e-3), "image and text gave the same vector");

    // JSONL with "path" records: a bad file stops the run (exit 2) or is skipped with --skip-invalid.
    let jsonl = dir.path().join("in.jsonl");
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::write(
        &jsonl,
        format!("{{\"id\": \"p\", \"path\": {:?}}}\n{{\"id\": \"bad\", \"path\": {:?}}}\n{{\"id\": \"t\", \"text\": \"x\"}}\n", image, bad),
    )
    .unwrap();
    let run = |skip: bool| {
        let mut cmd = kin(dir.path());
        cmd.env("KIN_OFFLINE", "1").args(["embed", "--model"]).arg(&model).arg("--input").arg(&jsonl);
        if skip {
            cmd.arg("--skip-invalid");
        }
        cmd.output().unwrap()
    };
    fails(run(false), 2, "bad.png");
    let out = ok(run(true));
    let ids: Vec<String> =
        out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string()).collect();
    assert_eq!(ids, vec!["\"p\"", "\"t\""]);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(v(&first).iter().zip(&a).all(|(x, y)| (x - y).abs() < 1e-6), "same image, same vector");
}
