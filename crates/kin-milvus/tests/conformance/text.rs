//! Text and hybrid search on both backends: the same documents found for each term and filter,
//! Milvus's fused results checked against the two lists they fuse, deletes and replacements
//! seen by the text index, and clear errors for what cannot be asked.

use std::collections::{BTreeSet, HashMap};

use kin_store::{Fusion, Query, TextConfig};

use super::*;

const WORDS: [&str; 8] = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"];
/// The one item whose text holds [`RARE`].
const RARE_ITEM: i64 = 17;
const RARE: &str = "zyzzyva";

fn text_config() -> CollectionConfig {
    CollectionConfig { text: Some(TextConfig::default()), ..CollectionConfig::new("text", 8) }
}

/// Items with a title and a text of a few of [`WORDS`] each (which, by their number), and one
/// rare term; each text is as many words longer as the item's number, so no two score alike.
fn documents(n: i64) -> Vec<Item> {
    let mut rng = Rng(21);
    (0..n)
        .map(|i| {
            let pick = |salt: i64| WORDS[((i * 7 + salt * 3) % WORDS.len() as i64) as usize];
            let mut text = format!("{} {} {}", pick(1), pick(2), pick(2));
            if i == RARE_ITEM {
                text.push_str(&format!(" {RARE}"));
            }
            for j in 0..i {
                text.push_str(&format!(" f{i}x{j}"));
            }
            let payload = json!({
                "n": i,
                "half": if i % 2 == 0 { "even" } else { "odd" },
                "title": pick(5),
                "text": text,
            });
            Item::new(i, rng.vector(8)).with_payload(payload)
        })
        .collect()
}

/// The items whose title or text holds `word`, by the data itself.
fn holding(items: &[Item], word: &str, filter: Option<&Filter>) -> BTreeSet<ItemId> {
    items
        .iter()
        .filter(|i| filter.is_none_or(|f| f.matches(&i.payload)))
        .filter(|i| {
            ["title", "text"].iter().any(|f| i.payload[*f].as_str().is_some_and(|t| t.split(' ').any(|w| w == word)))
        })
        .map(|i| i.id.clone())
        .collect()
}

fn params(k: usize, filter: Option<&Filter>) -> SearchParams<'_> {
    SearchParams { k, ef: None, filter, exact: true }
}

fn ids(hits: &[kin_store::Hit]) -> Vec<ItemId> {
    hits.iter().map(|h| h.id.clone()).collect()
}

#[test]
fn text_search_finds_the_same_documents_on_both_for_every_term_and_filter() {
    let data = documents(60);
    let sides = with_mixed(&text_config());
    for (_, _, c, _) in &sides {
        c.upsert(data.clone()).unwrap();
    }
    let filters =
        ["half == 'even'", "n >= 30", "title like 'a%' OR half LIKE 'o_d'"].map(|f| Some(Filter::parse(f).unwrap()));
    let filters: Vec<Option<Filter>> = [None].into_iter().chain(filters).collect();
    for (name, _, c, _) in &sides {
        for word in WORDS.iter().copied().chain([RARE]) {
            for filter in &filters {
                let hits = c.search_text(word, &params(100, filter.as_ref())).unwrap();
                let got: BTreeSet<ItemId> = ids(&hits).into_iter().collect();
                assert_eq!(got, holding(&data, word, filter.as_ref()), "{name}: {word:?}, filter {filter:?}");
                assert!(hits.windows(2).all(|w| w[0].score >= w[1].score), "{name}: best first");
                assert!(hits.iter().all(|h| h.score > 0.0), "{name}: BM25 scores are positive");
            }
        }
        // A rare term: the one item, ranked first, with its payload, marked as found by text.
        let found = c.find(&Query::Text(&format!("{RARE} alpha")), &params(3, None)).unwrap();
        assert_eq!(found[0].id, ItemId::Int(RARE_ITEM), "{name}: {found:?}");
        assert_eq!(found[0].payload["n"], RARE_ITEM, "{name}");
        assert_eq!(found[0].found.text.map(|r| r.rank), Some(1), "{name}");
        assert!(found[0].found.dense.is_none(), "{name}");
        assert!(c.search_text("nowhere", &params(5, None)).unwrap().is_empty(), "{name}");
    }
    // Reopened by a new client, the collection still searches its text.
    let name = sides[1].2.name().to_string();
    let reopened = milvus().collection(&name).unwrap();
    assert_eq!(reopened.config().text, Some(TextConfig::default()));
    assert_eq!(ids(&reopened.search_text(RARE, &params(5, None)).unwrap()), [ItemId::Int(RARE_ITEM)]);
}

/// Reciprocal-rank fusion of two lists by kin's formula, `Σ 1 / (k + rank)`.
fn rrf(dense: &[ItemId], text: &[ItemId], k: f32) -> HashMap<ItemId, f32> {
    let mut scores = HashMap::new();
    for list in [dense, text] {
        for (i, id) in list.iter().enumerate() {
            *scores.entry(id.clone()).or_insert(0.0) += 1.0 / (k + i as f32 + 1.0);
        }
    }
    scores
}

#[test]
fn hybrid_search_on_milvus_fuses_its_two_lists_with_filters() {
    let m = milvus();
    let mut cfg = text_config();
    cfg.name = unique("hybrid");
    let c = m.create(cfg).unwrap();
    let data = documents(80);
    c.upsert(data.clone()).unwrap();
    let mut rng = Rng(5);
    let even = Filter::parse("half == 'even'").unwrap();
    for (q, filter) in [None, Some(&even), None, Some(&even)].into_iter().enumerate() {
        let vector = rng.vector(8);
        let text = format!("{} {}", WORDS[q], WORDS[q + 3]);
        let deep = params(kin_store::HYBRID_DEPTH, filter);
        let dense = ids(&c.search(&vector, &deep).unwrap());
        let texts = ids(&c.search_text(&text, &deep).unwrap());
        let k = 10;
        let hybrid = Query::Hybrid { vector: &vector, text: &text, fusion: Fusion::default() };
        let fused = c.find(&hybrid, &params(k, filter)).unwrap();
        assert_eq!(fused.len(), k, "query {q}");
        let expected = rrf(&dense, &texts, 60.0);
        for h in &fused {
            let want = expected.get(&h.id).copied().unwrap_or(0.0);
            assert!((h.score - want).abs() < 1e-5, "query {q}: {} scored {}, rrf of its ranks {want}", h.id, h.score);
            let payload = &data.iter().find(|i| i.id == h.id).unwrap().payload;
            assert_eq!(&h.payload, payload, "query {q}");
            assert!(filter.is_none_or(|f| f.matches(&h.payload)), "query {q}: {} passes the filter", h.id);
            // Each hit says where each list ranked it, and its fused score is made of those ranks.
            let rank_in = |list: &[ItemId]| list.iter().position(|id| id == &h.id).map(|i| i as u32 + 1);
            assert_eq!(h.found.dense.map(|r| r.rank), rank_in(&dense), "query {q}: {}", h.id);
            assert_eq!(h.found.text.map(|r| r.rank), rank_in(&texts), "query {q}: {}", h.id);
            let from_ranks: f32 =
                [h.found.dense, h.found.text].iter().flatten().map(|r| 1.0 / (60.0 + r.rank as f32)).sum();
            assert!((h.score - from_ranks).abs() < 1e-5, "query {q}: {}", h.id);
        }
        // The best k by fused score, best first (ties in any order).
        assert!(fused.windows(2).all(|w| w[0].score >= w[1].score - 1e-7), "query {q}");
        let kth = fused[k - 1].score;
        let returned: BTreeSet<&ItemId> = fused.iter().map(|h| &h.id).collect();
        assert!(
            expected.iter().all(|(id, s)| returned.contains(id) || *s <= kth + 1e-6),
            "query {q}: a better item left out"
        );

        // All weight on one side: that side's order.
        let all_dense = Query::Hybrid { vector: &vector, text: &text, fusion: Fusion::Weighted { alpha: 1.0 } };
        assert_eq!(ids(&c.find(&all_dense, &params(k, filter)).unwrap()), dense[..k], "query {q}");
        let all_text = Query::Hybrid { vector: &vector, text: &text, fusion: Fusion::Weighted { alpha: 0.0 } };
        assert_eq!(ids(&c.find(&all_text, &params(k, filter)).unwrap())[0], texts[0], "query {q}");
    }
    // A rare term and the vector of another item: both come back, first and second.
    let near = data[3].vector.clone();
    let hybrid = Query::Hybrid { vector: &near, text: RARE, fusion: Fusion::Rrf { k: 10.0 } };
    let top: BTreeSet<ItemId> = ids(&c.find(&hybrid, &params(2, None)).unwrap()).into_iter().collect();
    assert_eq!(top, BTreeSet::from([ItemId::Int(3), ItemId::Int(RARE_ITEM)]));
}

#[test]
fn deleted_and_replaced_items_leave_the_text_index() {
    for (name, _, c, _) in both(&text_config()) {
        c.upsert(documents(30)).unwrap();
        assert_eq!(ids(&c.search_text(RARE, &params(5, None)).unwrap()), [ItemId::Int(RARE_ITEM)], "{name}");
        assert_eq!(c.delete(&[ItemId::Int(RARE_ITEM)]).unwrap(), 1, "{name}");
        assert!(c.search_text(RARE, &params(5, None)).unwrap().is_empty(), "{name}: deleted");
        let v = vec![0.5; 8];
        let hybrid = Query::Hybrid { vector: &v, text: RARE, fusion: Fusion::default() };
        assert!(!ids(&c.find(&hybrid, &params(30, None)).unwrap()).contains(&ItemId::Int(RARE_ITEM)), "{name}");

        // A replaced item is found by its new text only.
        let item = Item::new(4, vec![0.1; 8]).with_payload(json!({"title": "quokka", "text": "wombat"}));
        c.upsert(vec![item]).unwrap();
        assert_eq!(ids(&c.search_text("wombat", &params(5, None)).unwrap()), [ItemId::Int(4)], "{name}");
        let before = holding(&documents(30), "alpha", None);
        let after: BTreeSet<ItemId> = ids(&c.search_text("alpha", &params(50, None)).unwrap()).into_iter().collect();
        let mut expected = before.clone();
        expected.remove(&ItemId::Int(4));
        expected.remove(&ItemId::Int(RARE_ITEM));
        assert_eq!(after, expected, "{name}");
    }
}

#[test]
fn bad_text_queries_and_missing_text_indexes_get_clear_errors() {
    for (name, backend, c, _) in both(&text_config()) {
        c.upsert(documents(10)).unwrap();
        let v = vec![0.5; 8];
        for empty in ["", "   "] {
            let e = c.search_text(empty, &params(5, None)).unwrap_err();
            assert!(matches!(e, Error::EmptyTextQuery), "{name}: {e}");
            let hybrid = Query::Hybrid { vector: &v, text: empty, fusion: Fusion::default() };
            assert!(matches!(c.find(&hybrid, &params(5, None)), Err(Error::EmptyTextQuery)), "{name}");
        }
        let short = Query::Hybrid { vector: &v[..3], text: "alpha", fusion: Fusion::default() };
        assert!(matches!(c.find(&short, &params(5, None)), Err(Error::QueryDimension { .. })), "{name}");
        let wide = Query::Hybrid { vector: &v, text: "alpha", fusion: Fusion::Weighted { alpha: 2.0 } };
        assert!(matches!(c.find(&wide, &params(5, None)), Err(Error::InvalidSearch(_))), "{name}");
        // Asking for the text index the collection has changes nothing.
        backend.set_text_index(c.name(), Some(TextConfig::default())).unwrap();
    }
    let m = milvus();
    let bare = m.create(CollectionConfig::new(unique("bare"), 8)).unwrap();
    let e = bare.search_text("alpha", &params(5, None)).unwrap_err();
    assert!(matches!(e, Error::NoTextIndex { .. }), "{e}");
    let v = vec![0.5; 8];
    let hybrid = Query::Hybrid { vector: &v, text: "alpha", fusion: Fusion::default() };
    assert!(matches!(bare.find(&hybrid, &params(5, None)), Err(Error::NoTextIndex { .. })));
    // What Milvus cannot do is named.
    let e = m.set_text_index(bare.name(), Some(TextConfig::default())).err().expect("not on Milvus");
    assert!(matches!(e, Error::Unsupported { .. }) && e.to_string().contains("existing collection"), "{e}");
    let with_text = m.create(CollectionConfig { name: unique("rrf"), ..text_config() }).unwrap();
    let odd_k = Query::Hybrid { vector: &v, text: "alpha", fusion: Fusion::Rrf { k: 0.5 } };
    let e = with_text.find(&odd_k, &params(5, None)).unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }) && e.to_string().contains("whole k"), "{e}");
}

#[test]
fn pymilvus_sees_the_bm25_function_kin_made() {
    let m = milvus();
    let c = m.create(CollectionConfig { name: unique("pytext"), ..text_config() }).unwrap();
    c.upsert(documents(5)).unwrap();
    let script = r#"
import json, sys
from pymilvus import MilvusClient, DataType
c = MilvusClient(uri=sys.argv[1])
d = c.describe_collection(sys.argv[2])
fields = {f["name"]: (DataType(int(f["type"])).name, f.get("params", {})) for f in d["fields"]}
functions = [(f["name"], int(f["type"]), list(f["input_field_names"]), list(f["output_field_names"])) for f in d.get("functions", [])]
hits = c.search(sys.argv[2], data=["charlie"], anns_field="text_sparse", limit=10, output_fields=["text"])
print(json.dumps({"fields": fields, "functions": functions, "texts": [h["entity"]["text"] for h in hits[0]]}, default=str))
"#;
    let url = milvus_url().replace("milvus://", "http://");
    let out = Command::new("python3").args(["-c", script, &url, c.name()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["fields"]["text"][0], "VARCHAR", "{got}");
    assert_eq!(got["fields"]["text"][1]["enable_analyzer"].to_string().trim_matches('"'), "true", "{got}");
    assert_eq!(got["fields"]["text_sparse"][0], "SPARSE_FLOAT_VECTOR", "{got}");
    assert_eq!(got["functions"], json!([["kin_bm25", 1, ["text"], ["text_sparse"]]]), "{got}");
    // The text field holds the title and the text, one a line.
    let expected: Vec<String> = documents(5)
        .iter()
        .filter(|i| holding(std::slice::from_ref(i), "charlie", None).len() == 1)
        .map(|i| format!("{}\n{}", i.payload["title"].as_str().unwrap(), i.payload["text"].as_str().unwrap()))
        .collect();
    let mut texts: Vec<String> = serde_json::from_value(got["texts"].clone()).unwrap();
    texts.sort();
    let mut expected = expected;
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(texts, expected);
}
