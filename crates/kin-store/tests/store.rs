//! The store's contract: collections, items, search with filters, persistence, bad input.

use kin_core::filter::Filter;
use kin_core::Metric;
use kin_store::{CollectionConfig, Error, Item, ItemId, SearchParams, Store};
use serde_json::json;

fn unit(i: usize, dim: usize) -> Vec<f32> {
    (0..dim).map(|d| (((i * 2654435761 + d * 40503) % 1000) as f32 / 500.0) - 1.0).collect()
}

#[test]
fn collections_are_created_listed_reopened_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let mut cfg = CollectionConfig::new("docs", 4);
        cfg.model = Some("all-MiniLM-L6-v2".into());
        store.create(cfg.clone()).unwrap();
        assert!(matches!(store.create(cfg).err().unwrap(), Error::CollectionExists(_)));
        let err = store.collection("doc").err().unwrap().to_string();
        assert!(err.contains("\"doc\"") && err.contains("docs"), "{err}");
        assert!(store.create(CollectionConfig::new("../evil", 4)).is_err());
        let c = store.collection("docs").unwrap();
        c.upsert(vec![Item::new(1, vec![1.0, 0.0, 0.0, 0.0]), Item::new("two", vec![0.0, 1.0, 0.0, 0.0])]).unwrap();
        assert!(c.check_model("all-mpnet-base-v2").unwrap_err().to_string().contains("all-MiniLM-L6-v2"));
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.names().unwrap(), vec!["docs"]);
    let c = store.collection("docs").unwrap();
    assert_eq!(c.count(), 2);
    assert_eq!(c.get(&ItemId::from("two")).unwrap().vector, vec![0.0, 1.0, 0.0, 0.0]);
    store.drop_collection("docs").unwrap();
    assert!(store.names().unwrap().is_empty());
}

#[test]
fn a_second_process_gets_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).err().unwrap();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    assert!(err.to_string().contains("another kin process"));
}

#[test]
fn bad_vectors_are_refused_and_nothing_of_the_batch_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let c = store.create(CollectionConfig::new("c", 3)).unwrap();
    c.upsert(vec![Item::new(1, vec![1.0, 2.0, 3.0])]).unwrap();
    let err = c.upsert(vec![Item::new(2, vec![1.0, 2.0, 3.0]), Item::new(3, vec![1.0, 2.0])]).unwrap_err();
    assert!(matches!(err, Error::DimensionMismatch { expected: 3, got: 2, .. }), "{err}");
    let err = c.upsert(vec![Item::new(4, vec![1.0, f32::NAN, 3.0])]).unwrap_err();
    assert!(err.to_string().contains("NaN"), "{err}");
    let err = c.upsert(vec![Item::new(5, vec![0.0; 3])]).unwrap_err();
    assert!(err.to_string().contains("zero vector"), "{err}");
    assert_eq!(c.count(), 1);
    assert!(c.search(&[1.0, 2.0], &SearchParams::default()).is_err());
}

#[test]
fn upsert_replaces_delete_removes_and_both_persist() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let c = store.create(CollectionConfig::new("c", 2)).unwrap();
        c.upsert(vec![Item::new(1, vec![1.0, 0.0]), Item::new(2, vec![0.0, 1.0])]).unwrap();
        c.upsert(vec![Item::new(1, vec![0.6, 0.8]).with_payload(json!({"v": 2}))]).unwrap();
        assert_eq!(c.delete(&[ItemId::Int(2), ItemId::Int(99)]).unwrap(), 1);
        c.snapshot().unwrap();
        c.upsert(vec![Item::new(3, vec![1.0, 1.0])]).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let c = store.collection("c").unwrap();
    assert_eq!(c.count(), 2);
    assert!(c.get(&ItemId::Int(2)).is_none());
    assert_eq!(c.get(&ItemId::Int(1)).unwrap().payload, json!({"v": 2}));
    let hits = c.search(&[0.6, 0.8], &SearchParams { k: 5, ..Default::default() }).unwrap();
    assert_eq!(hits[0].id, ItemId::Int(1));
    assert!((hits[0].score - 1.0).abs() < 1e-5);
    assert_eq!(hits.len(), 2);
}

#[test]
fn filtered_search_returns_k_matching_items_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut cfg = CollectionConfig::new("c", 16);
    cfg.metric = Metric::L2;
    let c = store.create(cfg).unwrap();
    let items: Vec<Item> = (0..3000)
        .map(|i| Item::new(i as i64, unit(i, 16)).with_payload(json!({"group": i % 100, "meta": {"even": i % 2 == 0}})))
        .collect();
    c.upsert(items).unwrap();
    let query = unit(12345, 16);
    for expr in ["group < 50", "group < 10", "group == 7", "meta.even == true and group in [1, 2, 3, 4]"] {
        let filter = Filter::parse(expr).unwrap();
        let exact = c
            .search(&query, &SearchParams { k: 10, filter: Some(&filter), exact: true, ..Default::default() })
            .unwrap();
        let approx = c
            .search(&query, &SearchParams { k: 10, ef: Some(100), filter: Some(&filter), ..Default::default() })
            .unwrap();
        assert_eq!(approx.len(), exact.len(), "{expr}");
        assert!(approx.iter().all(|h| filter.matches(&h.payload)), "{expr}");
        assert!(approx.windows(2).all(|w| w[0].score <= w[1].score), "{expr}: l2 results best first");
        let overlap = approx.iter().filter(|h| exact.iter().any(|e| e.id == h.id)).count();
        assert!(overlap >= 9, "{expr}: recall {overlap}/10");
    }
}

#[test]
fn a_damaged_log_is_reported_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let c = store.create(CollectionConfig::new("c", 2)).unwrap();
        for i in 0..3 {
            c.upsert(vec![Item::new(i, vec![1.0, i as f32])]).unwrap();
        }
    }
    let wal = dir.path().join("collections/c/wal.log");
    let mut bytes = std::fs::read(&wal).unwrap();
    bytes[20] ^= 0x55;
    std::fs::write(&wal, &bytes).unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = store.collection("c").err().unwrap().to_string();
    assert!(err.contains("wal.log") && err.contains("corrupt"), "{err}");
}

#[test]
fn the_text_index_follows_writes_compaction_and_reopening() {
    use kin_store::{Fusion, Query, TextConfig};
    let dir = tempfile::tempdir().unwrap();
    let words = ["alpha", "beta", "gamma", "delta", "omega"];
    let text_of = |i: usize, v: usize| format!("item{i} {} version{v}", words[i % words.len()]);
    let ids = |c: &kin_store::Collection, q: &str| -> Vec<ItemId> {
        c.search_text(q, &SearchParams { k: 100, ..Default::default() }).unwrap().into_iter().map(|h| h.id).collect()
    };
    let expected;
    {
        let store = Store::open(dir.path()).unwrap();
        let mut cfg = CollectionConfig::new("t", 8);
        cfg.text = Some(TextConfig::default());
        let c = store.create(cfg).unwrap();
        let items = |v: usize, range: std::ops::Range<usize>| -> Vec<Item> {
            range.map(|i| Item::new(i as i64, unit(i, 8)).with_payload(json!({ "text": text_of(i, v) }))).collect()
        };
        c.upsert(items(0, 0..50)).unwrap();
        // Built on this first text search; every write after it changes it.
        assert_eq!(ids(&c, "alpha").len(), 10);
        c.upsert(items(1, 0..10)).unwrap();
        c.delete(&[ItemId::Int(20), ItemId::Int(25)]).unwrap();
        assert_eq!(ids(&c, "version1").len(), 10);
        assert_eq!(ids(&c, "version0").len(), 38);
        assert!(ids(&c, "item20").is_empty());
        c.snapshot().unwrap(); // compacts: slots renumbered
        assert_eq!(ids(&c, "version0").len(), 38);
        assert_eq!(ids(&c, "item25"), Vec::<ItemId>::new());
        assert_eq!(ids(&c, "item30"), [ItemId::Int(30)]);
        c.upsert(items(2, 40..45)).unwrap();
        expected = ["alpha", "version2", "item44 omega", "gamma version0"].map(|q| ids(&c, q));
        let filter = Filter::parse("text != \"\"").unwrap();
        let q = Query::Hybrid { vector: &unit(3, 8), text: "gamma", fusion: Fusion::default() };
        let hits = kin_store::CollectionRead::find(
            &*c,
            &q,
            &SearchParams { k: 5, filter: Some(&filter), ..Default::default() },
        )
        .unwrap();
        assert_eq!(hits.len(), 5);
        assert!(hits.iter().any(|h| h.found.dense.is_some() && h.found.text.is_some()), "{hits:?}");
    }
    // Reopened, the index is read from the file saved with the snapshot and the log is applied
    // to it: the same answers. A damaged file is noticed and the index built from the items.
    let queries = ["alpha", "version2", "item44 omega", "gamma version0"];
    let file = dir.path().join("collections/t/text.idx");
    for damage in [false, true] {
        if damage {
            let mut bytes = std::fs::read(&file).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 0x20;
            std::fs::write(&file, bytes).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let c = store.collection("t").unwrap();
        assert_eq!(queries.map(|q| ids(&c, q)), expected, "damaged file: {damage}");
    }
    assert_eq!(expected[1].len(), 5);
}

#[test]
fn churn_is_compacted_so_memory_follows_the_live_items() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path(), kin_store::SyncPolicy::Never).unwrap();
    let c = store.create(CollectionConfig::new("c", 4)).unwrap();
    // 100 live items at any time, 3,000 written: deleted nodes must not pile up in the index.
    for i in 0..3000i64 {
        c.upsert(vec![Item::new(i, unit(i as usize, 4))]).unwrap();
        if i >= 100 {
            c.delete(&[ItemId::Int(i - 100)]).unwrap();
        }
        let nodes = c.usage().unwrap().index_nodes;
        assert!(nodes <= 100 + 1_001 + 1, "after write {i}: {nodes} index nodes for {} items", c.count());
    }
    assert_eq!(c.count(), 100);
    let hits = c.search(&unit(2990, 4), &SearchParams { k: 1, exact: true, ..SearchParams::default() }).unwrap();
    assert_eq!(hits[0].id, ItemId::Int(2990));
}

#[test]
fn documents_cut_into_chunks_are_found_whole_by_text_and_hybrid_search() {
    use kin_store::{CollectionRead, Fusion, Query, TextConfig};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let make = |name: &str| {
        let mut cfg = CollectionConfig::new(name, 8);
        cfg.text = Some(TextConfig::default());
        store.create(cfg).unwrap()
    };
    let (chunks, whole) = (make("chunks"), make("whole"));
    let filler = |i: usize| (0..20).map(|w| format!("w{}", (i * 7 + w * 3) % 23)).collect::<Vec<_>>().join(" ");
    let docs: Vec<(String, String)> =
        (0..6).map(|i| (format!("doc{i}"), format!("apple{} {} banana{}", i % 2, filler(i), i % 3))).collect();
    let (mut pieces, mut wholes) = (Vec::new(), Vec::new());
    for (d, (name, text)) in docs.iter().enumerate() {
        wholes.push(Item::new(name.as_str(), unit(d, 8)).with_payload(json!({ "title": name, "text": text })));
        // Three chunks of 10 words, each sharing 2 with the one before, as kin's chunker places them.
        let words: Vec<(usize, usize)> =
            text.match_indices(|c: char| c != ' ').fold(Vec::new(), |mut w: Vec<(usize, usize)>, (at, _)| {
                match w.last_mut() {
                    Some(last) if last.1 == at => last.1 = at + 1,
                    _ => w.push((at, at + 1)),
                }
                w
            });
        for (n, first) in [0usize, 8, 16].into_iter().enumerate() {
            let last = (first + 10).min(words.len()) - 1;
            let (start, end) = (words[first].0, words[last].1);
            let payload = json!({ "doc": name, "chunk": n, "chunks": 3, "char_start": start, "char_end": end,
                                  "title": name, "text": &text[start..end] });
            pieces.push(Item::new(format!("{name}#{n}"), unit(d * 3 + n, 8)).with_payload(payload));
        }
    }
    chunks.upsert(pieces).unwrap();
    whole.upsert(wholes).unwrap();
    let params = SearchParams { k: 10, ..Default::default() };
    let doc_of = |h: &kin_store::Hit| h.payload.get("doc").and_then(|d| d.as_str()).unwrap_or("").to_string();
    for q in ["apple1 banana2", "banana0 w5", "doc3 apple0"] {
        let want: Vec<(String, f32)> =
            whole.find(&Query::Text(q), &params).unwrap().into_iter().map(|h| (h.id.to_string(), h.score)).collect();
        let got: Vec<(String, f32)> = CollectionRead::find_documents(&*chunks, &Query::Text(q), &params)
            .unwrap()
            .iter()
            .map(|h| (doc_of(h), h.score))
            .collect();
        assert_eq!(got, want, "{q}: a document's chunks score as the whole document");
        let chunk_level = chunks.find(&Query::Text(q), &params).unwrap();
        assert!(chunk_level.iter().any(|h| h.score != want[0].1), "{q}: chunk by chunk scores differ");
    }
    // Hybrid by document: each document once, shown by its best dense chunk when dense found it.
    let vector = unit(7, 8);
    let dense = chunks.search(&vector, &SearchParams { k: 18, ..Default::default() }).unwrap();
    let hybrid = Query::Hybrid { vector: &vector, text: "apple1 banana2", fusion: Fusion::default() };
    let hits = CollectionRead::find_documents(&*chunks, &hybrid, &params).unwrap();
    let mut seen: Vec<String> = hits.iter().map(doc_of).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), hits.len(), "each document once: {seen:?}");
    for h in &hits {
        if h.found.dense.is_some() {
            let best = dense.iter().find(|d| doc_of(d) == doc_of(h)).unwrap();
            assert_eq!(h.id, best.id, "{} is shown by its best dense chunk", doc_of(h));
        }
        assert!(h.found.dense.is_some() || h.found.text.is_some());
    }
    assert!(hits.iter().any(|h| h.found.text.is_some() && h.found.dense.is_some()));
}
