//! `kin collection`, `kin add`, `kin import` and `kin search` end to end on the embedded store.

use std::path::Path;

mod common;
use common::{fails, kin, ok, write_npy};

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
