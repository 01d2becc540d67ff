//! The text index's tests: its own behaviour, and Lucene's output it is held to.

use std::path::Path;

use super::*;
use serde_json::json;

fn index(docs: &[Value]) -> TextIndex {
    let mut t = TextIndex::new(&TextConfig::default());
    for (slot, d) in docs.iter().enumerate() {
        t.add(slot as u32, d);
    }
    t
}

fn slots(t: &TextIndex, q: &str) -> Vec<u32> {
    t.search(q, 10, None).unwrap().into_iter().map(|(s, _)| s).collect()
}

#[test]
fn bm25_scores_as_lucene_does() {
    let docs = [json!({"text": "apple banana"}), json!({"text": "apple apple cherry date"}), json!({"text": "fig"})];
    let t = index(&docs);
    let hits = t.search("apple", 10, None).unwrap();
    // N = 3, df = 2: idf = ln(1 + 1.5 / 2.5); avgdl = 7 / 3 (lengths under 24 are exact).
    let idf = (1.0f32 + 1.5 / 2.5).ln();
    let bm25 = |tf: f32, dl: f32| idf * tf / (tf + 1.2 * (0.25 + 0.75 * dl / (7.0 / 3.0)));
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 0]);
    assert!((hits[0].1 - bm25(2.0, 4.0)).abs() < 1e-6, "{hits:?}");
    assert!((hits[1].1 - bm25(1.0, 2.0)).abs() < 1e-6);
}

/// A fixture written by `scripts/eval/bm25_reference.py --fixtures` from Lucene 8.
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lucene").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn english_terms_are_lucenes() {
    let a = Analyzer::new(Language::English, true, true);
    let mut checked = 0;
    for line in fixture("english.tsv").lines() {
        let (word, lucene) = line.split_once('\t').expect("word<TAB>terms");
        assert_eq!(a.analyze(word).join(" "), lucene, "{word}");
        checked += 1;
    }
    assert!(checked >= 2000, "{checked} words");
}

#[test]
fn lengths_read_back_from_norms_as_lucene_reads_them() {
    for line in fixture("norms.tsv").lines() {
        let (len, back) = line.split_once('\t').expect("length<TAB>decoded");
        let (len, back): (u32, u32) = (len.parse().unwrap(), back.parse().unwrap());
        assert_eq!(decode_length(encode_length(len)), back, "{len}");
    }
    // Lucene's SmallFloat.byte4ToInt(intToByte4(n)) for larger lengths.
    for (len, back) in [(5_000, 4_632), (65_535, 61_464), (1_000_000, 983_064), (i32::MAX as u32, 2_013_265_944)] {
        assert_eq!(decode_length(encode_length(len)), back, "{len}");
    }
    assert_eq!(encode_length(u32::MAX), 255);
}

#[test]
fn top_ten_and_scores_are_lucenes() {
    let docs: Vec<Value> = fixture("corpus.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let t = index(&docs);
    let mut lucene: HashMap<String, Vec<(String, f32)>> = HashMap::new();
    for line in fixture("bm25.run").lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        lucene.entry(parts[0].to_string()).or_default().push((parts[2].to_string(), parts[4].parse().unwrap()));
    }
    let mut compared = 0;
    for line in fixture("queries.jsonl").lines() {
        let q: Value = serde_json::from_str(line).unwrap();
        let (id, text) = (q["_id"].as_str().unwrap(), q["text"].as_str().unwrap());
        let want = lucene.remove(id).unwrap_or_default();
        let got: Vec<(String, f32)> = t
            .search(text, 10, None)
            .unwrap()
            .into_iter()
            .map(|(slot, score)| (docs[slot as usize]["_id"].as_str().unwrap().to_string(), score))
            .collect();
        assert_eq!(got.len(), want.len(), "{id}: {got:?}\nLucene: {want:?}");
        for ((doc, score), (lucene_doc, lucene_score)) in got.iter().zip(&want) {
            assert_eq!(doc, lucene_doc, "{id}: {got:?}\nLucene: {want:?}");
            assert_eq!(score, lucene_score, "{id} {doc}");
            compared += 1;
        }
    }
    assert!(compared >= 100, "{compared} hits compared");
}

/// The fixture's documents cut into chunks of `size` words, each sharing `overlap` words
/// with the one before, with the payload kin's chunker gives a chunk.
fn chunked(docs: &[Value], size: usize, overlap: usize) -> Vec<Value> {
    let mut items = Vec::new();
    for d in docs {
        let chars: Vec<char> = d["text"].as_str().unwrap().chars().collect();
        let mut words: Vec<(usize, usize)> = Vec::new();
        for (i, c) in chars.iter().enumerate() {
            match (c.is_whitespace(), words.last_mut()) {
                (false, Some(w)) if w.1 == i => w.1 = i + 1,
                (false, _) => words.push((i, i + 1)),
                (true, _) => {}
            }
        }
        let starts: Vec<usize> = (0..words.len().max(1)).step_by(size - overlap).collect();
        let chunks = starts.iter().take_while(|&&a| a == 0 || a + overlap < words.len()).count();
        for (n, &a) in starts.iter().take(chunks).enumerate() {
            let b = (a + size).min(words.len());
            let (start, end) = if words.is_empty() { (0, 0) } else { (words[a].0, words[b - 1].1) };
            items.push(json!({
                "doc": d["_id"], "chunk": n, "chunks": chunks, "char_start": start, "char_end": end,
                "title": d["title"], "text": chars[start..end].iter().collect::<String>(),
            }));
        }
    }
    items
}

#[test]
fn documents_cut_into_chunks_score_as_whole_documents() {
    let docs: Vec<Value> = fixture("corpus.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let whole = index(&docs);
    let items = chunked(&docs, 12, 3);
    assert!(items.len() > docs.len() * 2, "{} chunks", items.len());
    let mut cut = index(&items);
    let doc_of = |items: &[Value], slot: u32| items[slot as usize]["doc"].as_str().unwrap().to_string();
    let queries: Vec<String> = fixture("queries.jsonl")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["text"].as_str().unwrap().to_string())
        .collect();
    let answers = |t: &TextIndex, items: &[Value], q: &str| -> Vec<(String, f32)> {
        t.search_documents(q, 10, None).unwrap().into_iter().map(|(s, score)| (doc_of(items, s), score)).collect()
    };
    let by_whole = |t: &TextIndex, docs: &[Value], q: &str| -> Vec<(String, f32)> {
        t.search(q, 10, None).unwrap().into_iter().map(|(s, score)| (doc_of_whole(docs, s), score)).collect()
    };
    for q in &queries {
        assert_eq!(answers(&cut, &items, q), by_whole(&whole, &docs, q), "{q}");
    }
    // Documents deleted (every chunk), then compacted and saved: still the whole-document answers.
    let gone: Vec<String> = docs.iter().step_by(3).map(|d| d["_id"].as_str().unwrap().to_string()).collect();
    for (slot, item) in items.iter().enumerate() {
        if gone.iter().any(|g| *g == item["doc"]) {
            cut.remove(slot as u32, item);
        }
    }
    let kept_docs: Vec<Value> = docs.iter().filter(|d| !gone.iter().any(|g| *g == d["_id"])).cloned().collect();
    let whole = index(&kept_docs);
    for q in &queries {
        assert_eq!(answers(&cut, &items, q), by_whole(&whole, &kept_docs, q), "{q}, after deletes");
    }
    let remap: Vec<u32> = {
        let mut next = 0;
        items
            .iter()
            .map(|item| {
                if gone.iter().any(|g| *g == item["doc"]) {
                    return kin_index::REMOVED;
                }
                next += 1;
                next - 1
            })
            .collect()
    };
    let kept_items: Vec<Value> = items.iter().filter(|i| !gone.iter().any(|g| *g == i["doc"])).cloned().collect();
    let compacted = cut.compacted(&remap);
    let dir = tempfile::tempdir().unwrap();
    compacted.save(&dir.path().join("text.idx"), 1).unwrap();
    let config = TextConfig::default();
    let loaded = TextIndex::load(&dir.path().join("text.idx"), 1, &config, kept_items.len()).unwrap().unwrap();
    for q in &queries {
        let want = by_whole(&whole, &kept_docs, q);
        assert_eq!(answers(&compacted, &kept_items, q), want, "{q}, compacted");
        assert_eq!(answers(&loaded, &kept_items, q), want, "{q}, saved and loaded");
    }
}

fn doc_of_whole(docs: &[Value], slot: u32) -> String {
    docs[slot as usize]["_id"].as_str().unwrap().to_string()
}

#[test]
fn best_field_plus_tie_breaker_times_the_rest() {
    let docs = [json!({"title": "rust", "text": "rust is a language"}), json!({"text": "rust never sleeps"})];
    let t = index(&docs);
    let hits = t.search("rust", 10, None).unwrap();
    assert_eq!(hits[0].0, 0, "the slot with the term in both fields wins: {hits:?}");
}

#[test]
fn deletes_leave_results_and_statistics_then_compaction_drops_them() {
    let docs = [json!({"text": "alpha beta"}), json!({"text": "alpha"}), json!({"text": "gamma"})];
    let mut t = index(&docs);
    t.remove(1, &docs[1]);
    assert_eq!(slots(&t, "alpha"), [0]);
    assert_eq!(t.fields[1].df[0], 1, "the text field's df of alpha");
    let remap = [0, kin_index::REMOVED, 1];
    let c = t.compacted(&remap);
    assert_eq!(slots(&c, "alpha"), [0]);
    assert_eq!(slots(&c, "gamma"), [1]);
    let fresh = index(&[docs[0].clone(), docs[2].clone()]);
    assert_eq!(c.search("alpha beta", 5, None).unwrap(), fresh.search("alpha beta", 5, None).unwrap());
}

#[test]
fn filters_apply_before_the_top_k() {
    let docs: Vec<Value> = (0..50).map(|i| json!({"text": format!("common word {i}"), "n": i})).collect();
    let t = index(&docs);
    let hits = t.search("common", 3, Some(&|s| s >= 47)).unwrap();
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [47, 48, 49]);
}

#[test]
fn bad_queries_are_refused_clearly() {
    let t = index(&[json!({"text": "x"})]);
    assert!(matches!(t.search("   ", 10, None), Err(Error::EmptyTextQuery)));
    let long = "word ".repeat(10_000);
    assert!(matches!(t.search(&long, 10, None), Err(Error::TextQueryTooLong { terms: 10_000, .. })));
    assert!(t.search("the of", 10, None).unwrap().is_empty(), "stop words only: nothing matches");
    assert!(t.search("AND OR \"( title:", 10, None).is_ok(), "every string is a query");
}
