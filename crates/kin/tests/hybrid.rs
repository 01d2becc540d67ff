//! Text and hybrid search end to end: exact terms that embeddings miss found by the BM25 index,
//! fusion that says which retriever found each hit, filters and documents in every mode, the
//! text index kept in step with replaced and deleted documents, a text index added to an
//! existing collection without embedding again, `kin eval --mode`, and bad text queries.

mod common;

use std::path::Path;

use common::{kin, ok};
use serde_json::Value;

fn setup(data: &Path, name: &str, extra: &[&str]) {
    ok(kin(data).args(["models", "pull", "all-MiniLM-L6-v2"]).output().unwrap());
    ok(kin(data).args(["collection", "create", name, "--model", "all-MiniLM-L6-v2"]).args(extra).output().unwrap());
}

fn search(data: &Path, args: &[&str]) -> Vec<Value> {
    let out = ok(kin(data).arg("search").args(args).arg("--json").output().unwrap());
    serde_json::from_str::<Value>(&out).unwrap().as_array().unwrap().clone()
}

fn ids(hits: &[Value]) -> Vec<String> {
    hits.iter().map(|h| h["id"].as_str().unwrap().to_string()).collect()
}

/// Documents about one topic each; `parts.md` alone names the part number `XK-4471-B`.
fn write_docs(dir: &Path) -> Vec<String> {
    let docs = [
        ("engines.txt", "Jet engines compress air, burn fuel with it and push the hot exhaust out of a nozzle."),
        ("parts.md", "# Spare parts\n\nThe replacement valve for the pump is catalogued as XK-4471-B in the index."),
        ("pumps.txt", "A centrifugal pump moves water by spinning an impeller that flings it outward."),
        ("valves.txt", "Valves open and close to control the flow of water through pipes and pumps."),
        ("birds.txt", "Swallows migrate south in autumn and return to the same nests every spring."),
    ];
    docs.iter()
        .map(|(name, text)| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        })
        .collect()
}

#[test]
fn exact_terms_are_found_by_text_and_hybrid_search_and_stay_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let docs_dir = dir.path().join("docs");
    std::fs::create_dir(&docs_dir).unwrap();
    let paths = write_docs(&docs_dir);
    setup(&data, "d", &[]);
    let info = ok(kin(&data).args(["collection", "info", "d", "--json"]).output().unwrap());
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["text_index"]["language"], "english", "text models get a text index: {info}");
    ok(kin(&data).args(["add", "d"]).arg(&docs_dir).output().unwrap());

    // A part number is one exact term: text search finds the one document that holds it.
    let text = search(&data, &["d", "part XK-4471-B", "--mode", "text"]);
    assert_eq!(ids(&text)[0], paths[1], "{text:?}");
    assert!(text[0]["found_by"]["text"]["rank"] == 1 && text[0]["found_by"].get("dense").is_none());
    assert_eq!(text.len(), 1, "only documents with a query term match: {text:?}");

    // Hybrid: both retrievers' lists fused; each hit says who found it.
    let hybrid = search(&data, &["d", "pump valve XK-4471-B", "--mode", "hybrid"]);
    assert_eq!(ids(&hybrid)[0], paths[1], "{hybrid:?}");
    let found = &hybrid[0]["found_by"];
    assert!(found["dense"]["rank"].is_u64() && found["text"]["rank"] == 1, "{found}");
    assert_eq!(hybrid.len(), 5, "the dense side reaches every document");
    let weighted = search(&data, &["d", "pump valve XK-4471-B", "--mode", "hybrid", "--alpha", "0"]);
    assert_eq!(ids(&weighted)[0], paths[1], "alpha 0 is text only: {weighted:?}");

    // Filters apply in every mode.
    for mode in ["dense", "text", "hybrid"] {
        let hits = search(&data, &["d", "water pumps", "--mode", mode, "--filter", "format == \"markdown\""]);
        assert_eq!(ids(&hits), [paths[1].clone()], "{mode}: {hits:?}");
    }

    // A changed document leaves no trace of its old words; a deleted one none at all.
    std::fs::write(&paths[1], "# Spare parts\n\nThe valve is now catalogued as ZQ-9 in the index.").unwrap();
    ok(kin(&data).args(["add", "d"]).arg(&paths[1]).output().unwrap());
    assert!(search(&data, &["d", "XK-4471-B", "--mode", "text"]).is_empty());
    assert_eq!(ids(&search(&data, &["d", "ZQ-9", "--mode", "text"])), [paths[1].clone()]);
    ok(kin(&data).args(["delete", "d", "--doc"]).arg(&paths[1]).output().unwrap());
    assert!(search(&data, &["d", "ZQ-9", "--mode", "text"]).is_empty());
    let swallows = search(&data, &["d", "swallows", "--mode", "text", "--chunks"]);
    assert_eq!(swallows.len(), 1);
    assert_eq!(swallows[0]["id"], format!("{}#0", paths[4]), "--chunks gives passages");
}

#[test]
fn a_text_index_is_added_to_an_existing_collection_without_embedding_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let docs_dir = dir.path().join("docs");
    std::fs::create_dir(&docs_dir).unwrap();
    let paths = write_docs(&docs_dir);
    setup(&data, "old", &["--no-text"]);
    ok(kin(&data).args(["add", "old"]).arg(&docs_dir).output().unwrap());
    let out = kin(&data).args(["search", "old", "XK-4471-B", "--mode", "text"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no text index") && err.contains("kin collection reindex old --text"), "{err}");

    // Offline with no model: reindexing reads the stored text, it embeds nothing.
    let out = ok(kin(&data)
        .args(["collection", "reindex", "old", "--text", "--language", "none"])
        .env("KIN_OFFLINE", "1")
        .env("KIN_HOME", dir.path().join("no-models"))
        .output()
        .unwrap());
    assert!(out.contains("indexed the text of 5 items"), "{out}");
    assert_eq!(ids(&search(&data, &["old", "xk-4471-b", "--mode", "text"])), [paths[1].clone()]);
    // Without stemming, "pumps" does not match "pump".
    let plural = ids(&search(&data, &["old", "pumps", "--mode", "text"]));
    assert_eq!(plural.len(), 1, "{plural:?}");
    ok(kin(&data).args(["collection", "reindex", "old", "--no-text"]).output().unwrap());
    assert_eq!(kin(&data).args(["search", "old", "pump", "--mode", "text"]).output().unwrap().status.code(), Some(2));
}

#[test]
fn bad_text_queries_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let docs_dir = dir.path().join("docs");
    std::fs::create_dir(&docs_dir).unwrap();
    write_docs(&docs_dir);
    setup(&data, "d", &[]);
    ok(kin(&data).args(["add", "d"]).arg(&docs_dir).output().unwrap());
    let long = "pump ".repeat(10_000);
    let vectors = dir.path().join("q.npy");
    common::write_npy(&vectors, 1, 384, &[0.1; 384]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["d", "   ", "--mode", "text"], "the text query is empty"),
        (vec!["d", long.as_str(), "--mode", "text"], "has 10000 terms; at most 4096"),
        (vec!["d", "--vector-file", vectors.to_str().unwrap(), "--mode", "hybrid"], "needs text queries"),
        (vec!["d", "pump", "--mode", "sparse"], "unknown search mode \"sparse\""),
        (vec!["d", "pump", "--mode", "hybrid", "--alpha", "2"], "alpha 2 is out of range"),
    ];
    for (args, message) in cases {
        let out = kin(&data).arg("search").args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Query syntax is free text: operators and quotes are words or nothing, never an error.
    let odd = search(&data, &["d", "pump AND (valve OR \"title:", "--mode", "text"]);
    assert!(!odd.is_empty());
    assert!(search(&data, &["d", "the of and", "--mode", "text"]).is_empty(), "stop words alone match nothing");
}

#[test]
fn eval_scores_each_mode() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let corpus = [
        ("c1", "Valve XK-4471-B", "The replacement valve for the pump."),
        ("c2", "Centrifugal pumps", "An impeller flings water outward."),
        ("c3", "Migration", "Swallows fly south in autumn."),
        ("c4", "Jet engines", "Compress air, burn fuel, push exhaust out."),
    ];
    let mut lines = String::new();
    for (id, title, text) in corpus {
        lines.push_str(&serde_json::json!({ "_id": id, "title": title, "text": text }).to_string());
        lines.push('\n');
    }
    let corpus_file = dir.path().join("corpus.jsonl");
    std::fs::write(&corpus_file, lines).unwrap();
    let queries = dir.path().join("queries.jsonl");
    std::fs::write(
        &queries,
        "{\"_id\": \"q1\", \"text\": \"XK-4471-B\"}\n{\"_id\": \"q2\", \"text\": \"birds heading south\"}\n",
    )
    .unwrap();
    let qrels = dir.path().join("qrels.tsv");
    std::fs::write(&qrels, "query-id\tcorpus-id\tscore\nq1\tc1\t1\nq2\tc3\t1\n").unwrap();
    setup(&data, "beir", &[]);
    ok(kin(&data).args(["add", "beir"]).arg(&corpus_file).output().unwrap());
    for (mode, at_least) in [("dense", 0.0), ("text", 0.5), ("hybrid", 0.5)] {
        let out = ok(kin(&data)
            .args(["eval", "beir", "--queries"])
            .arg(&queries)
            .arg("--qrels")
            .arg(&qrels)
            .args(["--mode", mode, "--json"])
            .output()
            .unwrap());
        let scores: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(scores["mode"], mode);
        assert!(scores["ndcg@10"].as_f64().unwrap() >= at_least, "{mode}: {scores}");
    }
}
