//! `kin collection`, `kin add`, `kin import` and `kin search` end to end on the embedded store.

use std::path::Path;
use std::process::{Command, Output};

mod common;
use common::{kin, ok, write_npy};

fn fails(out: Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
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
    let search_ids = |args: &[&str]| {
        ok(kin(&data)
            .args(["search", "vecs"])
            .args(args)
            .arg("--vector-file")
            .arg(&q)
            .arg("--output")
            .arg(&ids)
            .output()
            .unwrap());
        read_ids(&ids)
    };
    let got = search_ids(&["-k", "5"]);
    assert_eq!(got.len(), 15);
    assert_eq!((got[0], got[5], got[10]), (10, 11, 12));

    // Fewer matches than k: each row ends in -1. 250 of the 500 items are odd.
    let got = search_ids(&["-k", "300", "--exact", "--filter", "odd == true"]);
    assert_eq!(got.len(), 900);
    for row in got.chunks(300) {
        assert!(row[..250].iter().all(|id| id % 2 == 1), "{row:?}");
        assert!(row[250..].iter().all(|&id| id == -1), "{row:?}");
    }
    // A k no table of ids can hold is an error, not an abort.
    fails(
        kin(&data)
            .args(["search", "vecs", "-k", "4000000000000000000", "--vector-file"])
            .arg(&q)
            .arg("--output")
            .arg(&ids)
            .output()
            .unwrap(),
        1,
        "does not fit in memory",
    );
    fails(
        kin(&data)
            .args(["search", "vecs", "--mode", "text", "--vector-file"])
            .arg(&q)
            .arg("--output")
            .arg(&ids)
            .output()
            .unwrap(),
        2,
        "needs text queries",
    );

    // `kin search … | head -1`: the reader leaves early, and kin ends quietly, without a panic.
    let mut child = kin(&data)
        .args(["search", "vecs", "-k", "10", "--vector-file"])
        .arg(&v)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut first).unwrap();
    assert_eq!(first, "query 0\n");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.contains("panicked"), "{:?} {err}", out.status);

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
fn a_damaged_log_is_named_checked_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(kin(&data).args(["collection", "create", "vecs", "--dim", "4"]).output().unwrap());
    // Three imports: three records in the log.
    for part in 0..3 {
        let vectors: Vec<f32> = (0..10 * 4).map(|i| (part * 40 + i + 1) as f32).collect();
        let v = dir.path().join(format!("v{part}.npy"));
        write_npy(&v, 10, 4, &vectors);
        let ids = dir.path().join(format!("ids{part}.txt"));
        std::fs::write(&ids, (0..10).map(|i| format!("{}\n", part * 10 + i)).collect::<String>()).unwrap();
        ok(kin(&data).args(["import", "vecs", "--vectors"]).arg(&v).arg("--ids").arg(&ids).output().unwrap());
    }
    let log = data.join("collections/vecs/wal.log");
    let mut bytes = std::fs::read(&log).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&log, &bytes).unwrap();

    fails(kin(&data).args(["collection", "info", "vecs"]).output().unwrap(), 1, "kin collection repair vecs");
    let out = kin(&data).args(["collection", "check", "vecs"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("wal.log") && text.contains("damaged") && text.contains("2 intact records"), "{text}");

    let out = ok(kin(&data).args(["collection", "repair", "vecs"]).output().unwrap());
    assert!(out.contains("log records 2..=2 are lost") && out.contains("opens, with 20 items"), "{out}");
    assert!(out.contains("read as record 2 of 10, 11, 12"), "{out}");
    let info: serde_json::Value =
        serde_json::from_str(&ok(kin(&data).args(["collection", "info", "vecs", "--json"]).output().unwrap())).unwrap();
    assert_eq!(info["items"], 20, "{info}");
    ok(kin(&data).args(["collection", "check", "vecs"]).output().unwrap());
    let out = ok(kin(&data).args(["collection", "repair", "vecs"]).output().unwrap());
    assert!(out.contains("needed no repair"), "{out}");
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

    // String ids have no place in an int64 .npy of results.
    ok(kin(&data).args(["collection", "create", "named", "--dim", "3"]).output().unwrap());
    let two = dir.path().join("two.npy");
    write_npy(&two, 2, 3, &[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let names = dir.path().join("names.txt");
    std::fs::write(&names, "apple\npear\n").unwrap();
    ok(kin(&data).args(["import", "named", "--vectors"]).arg(&two).arg("--ids").arg(&names).output().unwrap());
    let out = dir.path().join("ids.npy");
    fails(
        kin(&data).args(["search", "named", "--vector-file"]).arg(&q).arg("--output").arg(&out).output().unwrap(),
        1,
        "item id \"apple\" is not an integer",
    );
    assert!(!out.exists());
    let info = ok(kin(&data).args(["collection", "info", "c", "--json"]).output().unwrap());
    assert!(info.contains("\"items\": 0"), "{info}");
    ok(kin(&data).args(["collection", "drop", "c"]).output().unwrap());
    assert!(!ok(kin(&data).args(["collection", "list"]).output().unwrap()).contains("\nc "));
}

#[test]
fn a_collection_keeps_its_precision_and_int8_is_refused_where_it_does_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(kin(&data)
        .args(["collection", "create", "q", "--model", "all-MiniLM-L6-v2", "--precision", "int8"])
        .output()
        .unwrap());
    let info = ok(kin(&data).args(["collection", "info", "q", "--json"]).output().unwrap());
    assert!(info.contains("\"model\": \"all-MiniLM-L6-v2@int8\""), "{info}");
    // The spec's own suffix means the same; --precision float32 takes it off.
    ok(kin(&data).args(["collection", "create", "s", "--model", "all-MiniLM-L6-v2@int8"]).output().unwrap());
    assert!(ok(kin(&data).args(["collection", "info", "s", "--json"]).output().unwrap()).contains("@int8"));
    ok(kin(&data)
        .args(["collection", "create", "f", "--model", "all-MiniLM-L6-v2@int8", "--precision", "float32"])
        .output()
        .unwrap());
    assert!(!ok(kin(&data).args(["collection", "info", "f", "--json"]).output().unwrap()).contains("@int8"));
    fails(
        kin(&data)
            .args(["collection", "create", "c", "--model", "clip-vit-base-patch32", "--precision", "int8"])
            .output()
            .unwrap(),
        2,
        "int8 precision is available for local text encoders",
    );
    fails(
        kin(&data)
            .args(["collection", "create", "c", "--model", "all-MiniLM-L6-v2", "--precision", "int4"])
            .output()
            .unwrap(),
        2,
        "int4",
    );
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

/// Whether `ffmpeg` runs here; CI installs it, so there its absence is a failure.
fn have_ffmpeg() -> bool {
    let ok = Command::new("ffmpeg").arg("-version").output().is_ok_and(|o| o.status.success());
    assert!(ok || std::env::var("CI").is_err(), "ffmpeg is missing in CI (scripts/test.sh installs it)");
    ok
}

fn ffmpeg(dir: &Path, args: &[&str]) {
    let out = Command::new("ffmpeg").current_dir(dir).args(["-loglevel", "error", "-y"]).args(args).output().unwrap();
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn videos_are_cut_into_timed_segments_at_scene_changes_and_found_by_a_frame() {
    if !have_ffmpeg() {
        eprintln!("skipped: ffmpeg is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (work, data, videos) = (dir.path(), dir.path().join("data"), dir.path().join("videos"));
    std::fs::create_dir(&videos).unwrap();
    // Three pictures, 3 s each at 10 frames/s, over a synthesised 440 Hz soundtrack; a second copy
    // without sound; and a truncated copy.
    for colour in ["black", "yellow", "blue"] {
        ffmpeg(
            work,
            &[
                "-f",
                "lavfi",
                "-i",
                &format!("color=c={colour}:size=320x240"),
                "-frames:v",
                "1",
                &format!("{colour}.png"),
            ],
        );
    }
    let mut args: Vec<String> = Vec::new();
    for colour in ["black", "yellow", "blue"] {
        args.extend(["-framerate", "10", "-loop", "1", "-t", "3", "-i"].map(String::from));
        args.push(format!("{colour}.png"));
    }
    args.extend(["-f", "lavfi", "-i", "sine=frequency=440:duration=9", "-filter_complex"].map(String::from));
    args.push("[0:v][1:v][2:v]concat=n=3:v=1:a=0,format=yuv420p[v]".into());
    args.extend(
        ["-map", "[v]", "-map", "3:a", "-c:v", "mpeg4", "-q:v", "3", "-c:a", "aac", "-shortest"].map(String::from),
    );
    args.push(videos.join("clip.mp4").display().to_string());
    ffmpeg(work, &args.iter().map(String::as_str).collect::<Vec<_>>());
    let clip = videos.join("clip.mp4");
    ffmpeg(work, &["-i", clip.to_str().unwrap(), "-an", "-c:v", "copy", videos.join("silent.mp4").to_str().unwrap()]);
    std::fs::write(videos.join("truncated.mp4"), &std::fs::read(&clip).unwrap()[..4000]).unwrap();

    ok(kin(&data).args(["collection", "create", "videos", "--model"]).arg(tiny_clip()).output().unwrap());
    let out = ok(kin(&data).args(["add", "videos"]).arg(&videos).output().unwrap());
    assert!(out.contains("2 added, 0 unchanged, 0 skipped, 1 failed (14 items)"), "{out}");
    assert!(out.contains("truncated.mp4: not a readable video"), "{out}");

    // Every item of clip.mp4: six segments starting every 2 s and at the cuts (3 s, 6 s), and the
    // whole video.
    let all = ok(kin(&data)
        .args(["search", "videos", "--json", "-k", "20", "--exact", "--image"])
        .arg(work.join("yellow.png"))
        .output()
        .unwrap());
    let hits: Vec<serde_json::Value> = serde_json::from_str(&all).unwrap();
    let mut spans: Vec<(f64, f64)> = hits
        .iter()
        .filter(|h| h["id"].as_str().unwrap().contains("clip.mp4#"))
        .map(|h| (h["payload"]["start"].as_f64().unwrap(), h["payload"]["end"].as_f64().unwrap()))
        .collect();
    spans.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let want = [(0.0, 2.0), (2.0, 3.0), (3.0, 5.0), (5.0, 6.0), (6.0, 8.0), (8.0, 9.0)];
    assert_eq!(spans.len(), want.len(), "{spans:?}");
    for ((s, e), (ws, we)) in spans.iter().zip(want) {
        assert!((s - ws).abs() < 0.06 && (e - we).abs() < 0.06, "{spans:?}");
    }
    // The yellow picture finds the yellow stretch (3–6 s) of each video first.
    for top in &hits[..4] {
        let (s, e) = (top["payload"]["start"].as_f64().unwrap(), top["payload"]["end"].as_f64().unwrap());
        assert!(s >= 2.99 && e <= 6.01, "{top}");
    }
}

#[test]
fn a_video_model_embeds_clips_of_frames_and_sound() {
    if !have_ffmpeg() {
        eprintln!("skipped: ffmpeg is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (work, data, videos) = (dir.path(), dir.path().join("data"), dir.path().join("videos"));
    std::fs::create_dir(&videos).unwrap();
    let clip = videos.join("clip.mp4");
    ffmpeg(
        work,
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=25:duration=4.5",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:duration=4.5",
            "-c:v",
            "mpeg4",
            "-c:a",
            "aac",
            "-shortest",
            clip.to_str().unwrap(),
        ],
    );
    // The small random Perceiver of kin-embed's golden tests: 2 frames of 16×16 and 128 samples a clip.
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kin-embed/tests/golden/perceiver");
    ok(kin(&data).args(["collection", "create", "clips", "--model"]).arg(&model).output().unwrap());
    let out = ok(kin(&data).args(["add", "clips"]).arg(&videos).output().unwrap());
    assert!(out.contains("1 added, 0 unchanged, 0 skipped, 0 failed (4 items)"), "{out}");
    let hits = ok(kin(&data)
        .args(["search", "clips", "--json", "-k", "4", "--exact", "--video"])
        .arg(&clip)
        .output()
        .unwrap());
    let hits: Vec<serde_json::Value> = serde_json::from_str(&hits).unwrap();
    let mut starts: Vec<f64> = hits
        .iter()
        .filter(|h| h["id"].as_str().unwrap().contains('#'))
        .map(|h| h["payload"]["start"].as_f64().unwrap())
        .collect();
    starts.sort_by(f64::total_cmp);
    assert_eq!(starts, vec![0.0, 2.0, 4.0]);
    // The whole video is the mean of its clips: the query (the same video) finds it first.
    assert!(hits[0]["id"].as_str().unwrap().ends_with("clip.mp4"), "{hits:?}");
}
