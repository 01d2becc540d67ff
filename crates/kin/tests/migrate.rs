//! `kin migrate`, `--backend` and `kin serve` on Milvus end to end: a collection from the embedded
//! store to Milvus (in two runs, the second resuming from the first's checkpoint), searched there
//! with the same results, and back into a fresh embedded store; the server writing to Milvus;
//! a collection's text index moved along and searched there by `--mode text` and `--mode hybrid`.

use std::net::TcpListener;
use std::process::Stdio;

mod common;
use common::{kin, ok, write_npy, Milvus};

#[test]
fn a_collection_moves_to_milvus_and_back_resumably_and_searches_the_same() {
    let milvus = Milvus::get();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let name = format!("mig_{}", std::process::id());
    let (n, dim) = (2500usize, 8usize);
    let vectors: Vec<f32> = (0..n * dim).map(|i| (((i * 7919) % 1013) as f32 / 1013.0) - 0.5).collect();
    let v = dir.path().join("v.npy");
    write_npy(&v, n, dim, &vectors);
    let payloads = dir.path().join("p.jsonl");
    std::fs::write(&payloads, (0..n).map(|i| format!("{{\"odd\": {}, \"n\": {i}}}\n", i % 2 == 1)).collect::<String>())
        .unwrap();
    ok(kin(&data).args(["collection", "create", &name, "--dim", "8", "--metric", "l2"]).output().unwrap());
    ok(kin(&data).args(["import", &name, "--vectors"]).arg(&v).arg("--payloads").arg(&payloads).output().unwrap());

    // Two pages, then stop; the second run resumes from the checkpoint.
    let first = ok(kin(&data)
        .args(["migrate", &name, "--to", &milvus.url, "--batch", "1000", "--max-batches", "2"])
        .output()
        .unwrap());
    assert!(first.contains("copied 2000 of 2500"), "{first}");
    let out = kin(&data).args(["migrate", &name, "--to", &milvus.url, "--batch", "1000"]).output().unwrap();
    let second = ok(out.clone());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("resuming after 2000 items"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(second.contains("counts equal (2500)"), "{second}");

    // The same exact search, embedded and on Milvus through --backend.
    let q = dir.path().join("q.npy");
    write_npy(&q, 3, dim, &vectors[40 * dim..43 * dim]);
    let search = |backend: Option<&str>| {
        let mut cmd = kin(&data);
        if let Some(b) = backend {
            cmd.args(["--backend", b]);
        }
        ok(cmd
            .args(["search", &name, "--vector-file"])
            .arg(&q)
            .args(["-k", "5", "--exact", "--json", "--filter", "odd == false"])
            .output()
            .unwrap())
    };
    let ids = |text: String| -> Vec<Vec<i64>> {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|hits| hits.as_array().unwrap().iter().map(|h| h["id"].as_i64().unwrap()).collect())
            .collect()
    };
    let embedded = ids(search(None));
    assert_eq!(embedded, ids(search(Some(&milvus.url))));
    assert_eq!(embedded[0][0], 40);

    // And back, into another embedded store.
    let back = dir.path().join("back");
    let out = ok(kin(&data).args(["--backend", &milvus.url, "migrate", &name, "--to"]).arg(&back).output().unwrap());
    assert!(out.contains("counts equal (2500)"), "{out}");
    let info = ok(kin(&back).args(["collection", "info", &name, "--json"]).output().unwrap());
    assert!(info.contains("\"items\": 2500"), "{info}");
    ok(kin(&data).args(["--backend", &milvus.url, "collection", "drop", &name]).output().unwrap());
}

#[test]
fn text_indexes_move_to_milvus_and_text_and_hybrid_search_run_there() {
    let milvus = Milvus::get();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let name = format!("migtext_{}", std::process::id());
    let words = ["anchor", "bridge", "canal", "dock", "estuary", "ferry"];
    let (n, dim) = (60usize, 8usize);
    let vectors: Vec<f32> = (0..n * dim).map(|i| (((i * 7919) % 1013) as f32 / 1013.0) - 0.5).collect();
    let v = dir.path().join("v.npy");
    write_npy(&v, n, dim, &vectors);
    let texts: Vec<String> = (0..n).map(|i| format!("{} {}", words[i % 6], words[(i / 6) % 6])).collect();
    let payloads = dir.path().join("p.jsonl");
    let lines: String =
        texts.iter().enumerate().map(|(i, t)| format!("{{\"odd\": {}, \"text\": \"{t}\"}}\n", i % 2 == 1)).collect();
    std::fs::write(&payloads, lines).unwrap();
    ok(kin(&data).args(["collection", "create", &name, "--dim", "8", "--text"]).output().unwrap());
    ok(kin(&data).args(["import", &name, "--vectors"]).arg(&v).arg("--payloads").arg(&payloads).output().unwrap());
    let out = ok(kin(&data).args(["migrate", &name, "--to", &milvus.url]).output().unwrap());
    assert!(out.contains("counts equal (60)"), "{out}");
    let info = ok(kin(&data).args(["--backend", &milvus.url, "collection", "info", &name, "--json"]).output().unwrap());
    assert!(info.contains("\"text_index\"") && info.contains("\"language\": \"english\""), "{info}");

    let search = |backend: Option<&str>, args: &[&str]| -> Vec<i64> {
        let mut cmd = kin(&data);
        if let Some(b) = backend {
            cmd.args(["--backend", b]);
        }
        let out = ok(cmd.arg("search").arg(&name).args(args).args(["--json", "--chunks"]).output().unwrap());
        let hits: serde_json::Value = serde_json::from_str(&out).unwrap();
        hits.as_array().unwrap().iter().map(|h| h["id"].as_i64().unwrap()).collect()
    };
    // The items holding a term, by the data; the same on both backends, filtered too.
    for (word, filter) in [("canal", None), ("ferry", Some("odd == true"))] {
        let mut args = vec![word, "--mode", "text", "-k", "60"];
        if let Some(f) = filter {
            args.extend(["--filter", f]);
        }
        let mut expected: Vec<i64> = (0..n)
            .filter(|&i| texts[i].split(' ').any(|w| w == word) && (filter.is_none() || i % 2 == 1))
            .map(|i| i as i64)
            .collect();
        let (mut here, mut there) = (search(None, &args), search(Some(&milvus.url), &args));
        for list in [&mut here, &mut there, &mut expected] {
            list.sort();
        }
        assert!(!expected.is_empty());
        assert_eq!((&here, &there), (&expected, &expected), "{word} {filter:?}");
    }
    // Hybrid search needs a query vector: a collection of bare vectors has no model to embed one.
    let out =
        kin(&data).args(["--backend", &milvus.url, "search", &name, "canal", "--mode", "hybrid"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no model"), "{err}");

    // A text model's collection made on Milvus gets a text index; a part number is found by
    // hybrid search (the text side), and a filter keeps it out.
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("parts.md"), "The replacement valve for the pump is catalogued as XK-4471-B.").unwrap();
    std::fs::write(docs.join("pumps.txt"), "A centrifugal pump moves water by spinning an impeller.").unwrap();
    std::fs::write(docs.join("birds.txt"), "Swallows migrate south in autumn and return every spring.").unwrap();
    let model = format!("{name}_model");
    let on_milvus = |args: &[&str]| kin(&data).args(["--backend", &milvus.url]).args(args).output().unwrap();
    ok(kin(&data).args(["models", "pull", "all-MiniLM-L6-v2"]).output().unwrap());
    ok(on_milvus(&["collection", "create", &model, "--model", "all-MiniLM-L6-v2"]));
    ok(kin(&data).args(["--backend", &milvus.url, "add", &model]).arg(&docs).output().unwrap());
    let hybrid = |extra: &[&str]| -> Vec<String> {
        let args = [&["search", model.as_str(), "part XK-4471-B", "--mode", "hybrid", "--json"], extra].concat();
        let hits: serde_json::Value = serde_json::from_str(&ok(on_milvus(&args))).unwrap();
        hits.as_array().unwrap().iter().map(|h| h["id"].as_str().unwrap().to_string()).collect()
    };
    let parts = docs.join("parts.md").display().to_string();
    let found = hybrid(&[]);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0], parts, "{found:?}");
    assert_eq!(hybrid(&["--alpha", "0.2"])[0], parts);
    let filter = format!("path != '{parts}'");
    assert!(!hybrid(&["--filter", &filter]).contains(&parts));
    ok(on_milvus(&["collection", "drop", &model]));
    ok(kin(&data).args(["--backend", &milvus.url, "collection", "drop", &name]).output().unwrap());
}

#[test]
fn an_unreachable_backend_is_named_with_its_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = kin(dir.path())
        .args(["--backend", &format!("milvus://127.0.0.1:{port}"), "collection", "list"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")) && err.contains("cannot reach"), "{err}");
    let out = kin(dir.path()).args(["--backend", "postgres://x", "collection", "list"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown backend"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kin_serve_on_milvus_writes_and_searches_there() {
    let milvus = Milvus::get();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let name = format!("served_{}", std::process::id());
    let mut child = kin(&data)
        .args(["--backend", &milvus.url, "serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    let url =
        line.split_whitespace().find(|w| w.starts_with("http://")).unwrap_or_else(|| panic!("{line:?}")).to_string();
    let post = |path: &str, body: serde_json::Value| -> serde_json::Value {
        ureq::post(&format!("{url}{path}"))
            .send_json(body)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_json()
            .unwrap()
    };
    post("/v1/collections", serde_json::json!({"name": name, "dim": 3, "metric": "cosine"}));
    let items: Vec<_> = (0..50)
        .map(|i| serde_json::json!({"id": i, "vector": [1.0, i as f32 / 10.0, 0.5], "payload": {"even": i % 2 == 0}}))
        .collect();
    post(&format!("/v1/collections/{name}/items"), serde_json::json!({ "items": items }));
    let found = post(
        &format!("/v1/collections/{name}/search"),
        serde_json::json!({"vector": [1.0, 0.6, 0.5], "k": 3, "filter": "even == true", "exact": true}),
    );
    let ids: Vec<i64> = found["results"].as_array().unwrap().iter().map(|h| h["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.first(), Some(&6), "{found}");
    assert!(ids.iter().all(|i| i % 2 == 0), "{found}");
    let _ = child.kill();
    let _ = child.wait();
    // Written to Milvus, not to the data directory: the CLI on the same backend sees it.
    let listed =
        ok(kin(&data).args(["--backend", &milvus.url, "collection", "info", &name, "--json"]).output().unwrap());
    assert!(listed.contains("\"items\": 50"), "{listed}");
    ok(kin(&data).args(["--backend", &milvus.url, "collection", "drop", &name]).output().unwrap());
}
