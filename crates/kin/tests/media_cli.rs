//! `kin add` and `kin embed` on images and videos end to end: pictures found by text and by
//! picture, videos cut into timed segments, bad files reported.

use std::path::Path;
use std::process::Command;

mod common;
use common::{fails, kin, ok};

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
