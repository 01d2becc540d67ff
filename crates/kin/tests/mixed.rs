//! Mixed collections end to end: one folder of documents, pictures, speech and a video in one
//! collection, each file embedded by the model of its kind (all-MiniLM-L6-v2 for text, a small
//! random CLIP checkpoint for pictures, whisper-base for sound), and one query across the
//! spaces. CLIP's real weights are not obtainable here, so for the image space it is the routing
//! that is checked (where each file and query goes), not the quality of CLIP's matches.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

mod common;
use common::{kin, ok, write_npy, Milvus};

fn tiny_clip() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kin-embed/tests/golden/clip/tiny-gelu")
}

fn fixture_image(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kin-image/tests/golden/images").join(name)
}

fn tool(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).output().is_ok_and(|o| o.status.success())
}

fn fails(out: std::process::Output) -> String {
    assert!(!out.status.success(), "expected a failure: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn search(data: &Path, args: &[&str]) -> Vec<Value> {
    let out = ok(kin(data).args(["search", "mixed", "--json"]).args(args).output().unwrap());
    serde_json::from_str::<Value>(&out).unwrap().as_array().cloned().unwrap_or_default()
}

fn path_of(hit: &Value) -> &str {
    hit["payload"]["path"].as_str().or(hit["id"].as_str()).unwrap_or_default()
}

#[test]
fn a_mixed_folder_goes_to_the_right_spaces_and_one_query_searches_them() {
    if !tool("espeak-ng", &["--version"]) || !tool("ffmpeg", &["-version"]) {
        assert!(std::env::var("CI").is_err(), "espeak-ng and ffmpeg are missing in CI (scripts/test.sh installs them)");
        eprintln!("skipped: espeak-ng or ffmpeg is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (folder, data) = (dir.path().join("folder"), dir.path().join("data"));
    std::fs::create_dir_all(folder.join("notes")).unwrap();
    std::fs::write(folder.join("notes/bread.txt"), "Bake bread with flour, water, salt and yeast.").unwrap();
    std::fs::write(folder.join("notes/galaxies.md"), "# Sky\n\nTelescopes observe distant galaxies at night.").unwrap();
    std::fs::write(folder.join("blob.bin"), b"\x00\x01\x02\xff").unwrap();
    for name in ["photo_500x375.png", "rgb_300x300.png", "baseline_240x180.jpg"] {
        std::fs::copy(fixture_image(name), folder.join(name)).unwrap();
    }
    let speak = |text: &str, voice: &str, speed: &str, path: &Path| {
        let path = path.to_str().unwrap();
        assert!(tool("espeak-ng", &["-v", voice, "-s", speed, "-w", path, text]), "espeak-ng {text:?}");
    };
    speak("the weather is sunny and warm today", "en", "160", &folder.join("weather.wav"));
    speak("please close the kitchen window", "en", "160", &folder.join("window.wav"));
    // A video: two seconds of a blue picture over a tone.
    let clip = folder.join("clip.mp4");
    let ffmpeg = |args: &[&str]| assert!(tool("ffmpeg", &[&["-loglevel", "error", "-y"], args].concat()), "{args:?}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=blue:size=160x120:rate=5",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=16000",
        "-t",
        "2",
        "-pix_fmt",
        "yuv420p",
        "-shortest",
        clip.to_str().unwrap(),
    ]);

    ok(kin(&data).args(["models", "pull", "all-MiniLM-L6-v2"]).output().unwrap());
    let image_space = format!("image={}", tiny_clip().display());
    let out = ok(kin(&data)
        .args(["collection", "create", "mixed", "--space", "text=all-MiniLM-L6-v2", "--space", &image_space])
        .args(["--space", "audio=whisper-base"])
        .output()
        .unwrap());
    assert!(out.contains("3 spaces") && out.contains("takes image, answers text and image queries"), "{out}");
    let out = ok(kin(&data).current_dir(dir.path()).args(["add", "mixed", "folder"]).output().unwrap());
    // Two documents, three pictures, two recordings, and the video twice (its frames in the
    // image space, its sound in the audio space); the unknown blob fails once.
    assert!(out.contains("mixed: 9 added, 0 unchanged, 0 skipped, 1 failed"), "{out}");
    assert!(out.contains("blob.bin: unrecognised content"), "{out}");
    let again = ok(kin(&data).current_dir(dir.path()).args(["add", "mixed", "folder"]).output().unwrap());
    assert!(again.contains("0 added, 9 unchanged"), "{again}");

    video_parts_are_one_change(dir.path(), &data, &clip);

    let info: Value =
        serde_json::from_str(&ok(kin(&data).args(["collection", "info", "mixed", "--json"]).output().unwrap()))
            .unwrap();
    let items = |space: &str| {
        info["spaces"].as_array().unwrap().iter().find(|s| s["name"] == space).unwrap()["items"].as_u64().unwrap()
    };
    assert_eq!(items("text"), 2, "{info}");
    // Pictures, and the video's frame segments and whole file.
    assert!(items("image") > 4, "{info}");
    assert!(items("audio") >= 6, "{info}");

    // A text query: the matching document first, from the text space.
    let hits = search(&data, &["how do I make bread at home", "-k", "3"]);
    assert!(path_of(&hits[0]).ends_with("bread.txt") && hits[0]["space"] == "text", "{hits:?}");
    // It reaches the image space through CLIP's text tower too, and `--space` keeps one.
    let wide = search(&data, &["a photo", "-k", "20"]);
    let spaces: Vec<&str> = wide.iter().filter_map(|h| h["space"].as_str()).collect();
    assert!(spaces.contains(&"text") && spaces.contains(&"image") && !spaces.contains(&"audio"), "{spaces:?}");
    let only = search(&data, &["a photo", "-k", "20", "--space", "image"]);
    assert!(!only.is_empty() && only.iter().all(|h| h["space"] == "image"), "{only:?}");

    // An image query (a resized copy of a picture) finds that picture first.
    let resized = dir.path().join("small.png");
    ffmpeg(&[
        "-i",
        fixture_image("photo_500x375.png").to_str().unwrap(),
        "-vf",
        "scale=250:188",
        resized.to_str().unwrap(),
    ]);
    let hits = search(&data, &["--image", resized.to_str().unwrap(), "-k", "3"]);
    assert!(path_of(&hits[0]).ends_with("photo_500x375.png") && hits[0]["space"] == "image", "{hits:?}");
    // A still of the video's picture finds the video's frames.
    let still = dir.path().join("blue.png");
    ffmpeg(&["-f", "lavfi", "-i", "color=c=blue:size=160x120", "-frames:v", "1", still.to_str().unwrap()]);
    let hits = search(&data, &["--image", still.to_str().unwrap(), "-k", "1"]);
    assert!(path_of(&hits[0]).ends_with("clip.mp4"), "{hits:?}");

    // A spoken query in another voice finds the recording, in the audio space.
    let spoken = dir.path().join("query.wav");
    speak("the weather is sunny and warm today", "en-gb", "130", &spoken);
    let hits = search(&data, &["--audio", spoken.to_str().unwrap(), "-k", "3"]);
    assert!(path_of(&hits[0]).ends_with("weather.wav") && hits[0]["space"] == "audio", "{hits:?}");

    // Filters apply in every space.
    let pictures = search(&data, &["a photo", "-k", "20", "--filter", "kind == \"image\""]);
    assert!(!pictures.is_empty() && pictures.iter().all(|h| h["payload"]["kind"] == "image"), "{pictures:?}");

    // `kin eval` scores the fused spaces, or one space.
    let queries = dir.path().join("queries.jsonl");
    let qrels = dir.path().join("qrels.tsv");
    std::fs::write(
        &queries,
        "{\"_id\": \"q1\", \"text\": \"how do I make bread at home\"}\n\
         {\"_id\": \"q2\", \"text\": \"telescopes looking at galaxies\"}\n",
    )
    .unwrap();
    std::fs::write(
        &qrels,
        "query-id\tcorpus-id\tscore\nq1\tfolder/notes/bread.txt\t1\nq2\tfolder/notes/galaxies.md\t1\n",
    )
    .unwrap();
    let eval = |extra: &[&str]| -> Value {
        let out = ok(kin(&data)
            .args(["eval", "mixed", "--json", "--queries", queries.to_str().unwrap(), "--qrels"])
            .arg(&qrels)
            .args(extra)
            .output()
            .unwrap());
        serde_json::from_str(&out).unwrap()
    };
    let text_only = eval(&["--space", "text"]);
    assert_eq!(text_only["ndcg@10"], 1.0, "{text_only}");
    let fused = eval(&["--space-weight", "image=0.5"]);
    assert!(fused["ndcg@10"].as_f64().unwrap() > 0.5 && fused["queries"] == 2, "{fused}");
    let err = fails(
        kin(&data)
            .args(["eval", "mixed", "--queries", queries.to_str().unwrap(), "--qrels", qrels.to_str().unwrap()])
            .args(["--space", "audio"])
            .output()
            .unwrap(),
    );
    assert!(err.contains("does not read text"), "{err}");

    // The same collection on Milvus: moved there space by space, it answers every query as
    // the embedded store does; `kin add` there routes the folder the same way.
    on_milvus(dir.path(), &data, &resized, &spoken);

    // Deleting a document deletes it from every space it is in.
    let out =
        ok(kin(&data).current_dir(dir.path()).args(["delete", "mixed", "--doc", "folder/clip.mp4"]).output().unwrap());
    assert!(!out.contains(" 0 items deleted"), "{out}");
    let pictures_left = search(&data, &["a", "-k", "50", "--space", "image"]);
    assert!(pictures_left.iter().all(|h| !path_of(h).ends_with("clip.mp4")), "{pictures_left:?}");
    let audio_left = search(&data, &["--audio", spoken.to_str().unwrap(), "-k", "50"]);
    assert!(audio_left.iter().all(|h| !path_of(h).ends_with("clip.mp4")), "{audio_left:?}");

    // Bad input: a clear error naming what is wrong.
    let err = fails(kin(&data).args(["collection", "create", "bad", "--space", "t=no-such-model"]).output().unwrap());
    assert!(err.contains("space \"t\"") && err.contains("no-such-model"), "{err}");
    let clip_space = format!("b={}", tiny_clip().display());
    let err = fails(
        kin(&data)
            .args([
                "collection",
                "create",
                "two",
                "--space",
                &clip_space,
                "--space",
                &format!("c={}", tiny_clip().display()),
            ])
            .output()
            .unwrap(),
    );
    assert!(err.contains("all take image content") && err.contains("--route image="), "{err}");
    let err = fails(kin(&data).args(["search", "mixed", "--video"]).arg(&clip).output().unwrap());
    assert!(err.contains("no space of collection \"mixed\" reads video queries"), "{err}");
    let err = fails(kin(&data).args(["search", "mixed", "bread", "--space", "audio"]).output().unwrap());
    assert!(err.contains("does not read text"), "{err}");
    // Query vectors are one space's: --space names it; chunk ids cannot fill an int64 .npy.
    let vectors = dir.path().join("query.npy");
    write_npy(&vectors, 1, 384, &[0.05; 384]);
    let ids = dir.path().join("ids.npy");
    let by_vector = |space: &[&str]| {
        fails(
            kin(&data)
                .args(["search", "mixed", "--vector-file"])
                .arg(&vectors)
                .args(space)
                .arg("--output")
                .arg(&ids)
                .output()
                .unwrap(),
        )
    };
    let err = by_vector(&[]);
    assert!(err.contains("name it with --space"), "{err}");
    let err = by_vector(&["--space", "text"]);
    assert!(err.contains("is not an integer"), "{err}");
}

/// The embedded collection `mixed` moved to Milvus (one Milvus collection, a vector field per
/// space), searched there with the same answers, a document deleted from all its spaces there,
/// and the folder added to a new mixed collection on Milvus directly.
fn on_milvus(dir: &Path, data: &Path, image: &Path, spoken: &Path) {
    let milvus = Milvus::get();
    let url = milvus.url.as_str();
    let name = format!("mixed_{}", std::process::id());
    let out = ok(kin(data).args(["migrate", "mixed", "--to", url]).output().unwrap());
    assert!(out.contains("space mixed:image") && out.contains("counts equal"), "{out}");
    let queries: Vec<Vec<&str>> = vec![
        vec!["how do I make bread at home", "-k", "5"],
        vec!["a photo", "-k", "20", "--filter", "kind == \"image\""],
        vec!["--image", image.to_str().unwrap(), "-k", "3"],
        vec!["--audio", spoken.to_str().unwrap(), "-k", "3"],
        vec!["a photo", "-k", "10", "--space", "image"],
    ];
    let found = |backend: Option<&str>, args: &[&str]| -> Vec<(String, String)> {
        let mut cmd = kin(data);
        if let Some(b) = backend {
            cmd.args(["--backend", b]);
        }
        let out = ok(cmd.args(["search", "mixed", "--json", "--exact"]).args(args).output().unwrap());
        let hits: Value = serde_json::from_str(&out).unwrap();
        let hits = hits.as_array().cloned().unwrap_or_default();
        hits.iter().map(|h| (h["id"].to_string(), h["space"].as_str().unwrap_or_default().to_string())).collect()
    };
    for args in &queries {
        let (here, there) = (found(None, args), found(Some(url), args));
        assert!(!here.is_empty(), "{args:?}");
        assert_eq!(here, there, "{args:?}: embedded, then Milvus");
    }
    let out = ok(kin(data)
        .current_dir(dir)
        .args(["--backend", url, "delete", "mixed", "--doc", "folder/clip.mp4"])
        .output()
        .unwrap());
    assert!(!out.contains(" 0 items deleted"), "{out}");
    let left = found(Some(url), &["--image", image.to_str().unwrap(), "-k", "50", "--space", "image"]);
    assert!(left.iter().all(|(id, _)| !id.contains("clip.mp4")), "{left:?}");
    ok(kin(data).args(["--backend", url, "collection", "drop", "mixed"]).output().unwrap());

    // Made on Milvus and filled by `kin add`: the same routing into the spaces.
    let image_space = format!("image={}", tiny_clip().display());
    ok(kin(data)
        .args(["--backend", url, "collection", "create", &name, "--space", "text=all-MiniLM-L6-v2"])
        .args(["--space", &image_space, "--space", "audio=whisper-base"])
        .output()
        .unwrap());
    let out = ok(kin(data).current_dir(dir).args(["--backend", url, "add", &name, "folder"]).output().unwrap());
    assert!(out.contains(": 9 added, 0 unchanged, 0 skipped, 1 failed"), "{out}");
    let again = ok(kin(data).current_dir(dir).args(["--backend", url, "add", &name, "folder"]).output().unwrap());
    assert!(again.contains("0 added, 9 unchanged"), "{again}");
    let out = ok(kin(data)
        .args(["--backend", url, "search", &name, "--json", "how do I make bread at home"])
        .output()
        .unwrap());
    let hits: Value = serde_json::from_str(&out).unwrap();
    assert!(path_of(&hits[0]).ends_with("bread.txt") && hits[0]["space"] == "text", "{hits}");
    ok(kin(data).args(["--backend", url, "collection", "drop", &name]).output().unwrap());
}

/// A video's frames (image space) and sound track (audio space) are written as one change:
/// `kin add` killed as that change is being logged leaves the video in neither space, killed
/// right after it is synced, in both; never in one.
fn video_parts_are_one_change(dir: &Path, data: &Path, clip: &Path) {
    use std::os::unix::process::ExitStatusExt;
    let only = dir.join("only-video");
    std::fs::create_dir_all(&only).unwrap();
    std::fs::copy(clip, only.join("clip.mp4")).unwrap();
    let image_space = format!("image={}", tiny_clip().display());
    for (point, present) in [("crash@wal.write#1", false), ("crash@wal.synced#1", true)] {
        let name = format!("video_{present}");
        ok(kin(data)
            .args(["collection", "create", &name, "--space", &image_space, "--space", "audio=whisper-base"])
            .output()
            .unwrap());
        let out = kin(data).env("KIN_FAULTS", point).args(["add", &name]).arg(&only).output().unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point}: {}", String::from_utf8_lossy(&out.stderr));
        let info: Value =
            serde_json::from_str(&ok(kin(data).args(["collection", "info", &name, "--json"]).output().unwrap()))
                .unwrap();
        let items = |space: &str| {
            let spaces = info["spaces"].as_array().unwrap();
            spaces.iter().find(|s| s["name"] == space).unwrap()["items"].as_u64().unwrap()
        };
        let (image, audio) = (items("image"), items("audio"));
        assert_eq!((image > 0, audio > 0), (present, present), "{point}: image {image}, audio {audio}");
        ok(kin(data).args(["collection", "drop", &name]).output().unwrap());
    }
}
