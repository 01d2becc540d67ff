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
