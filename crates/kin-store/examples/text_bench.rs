//! The text index's speed: indexing throughput and query throughput (1 and 2 threads) of
//! `TextIndex` on a BEIR corpus and its queries, then dense against hybrid search through a
//! `Collection` of the same documents with random vectors. Prints one JSON object;
//! `scripts/bench/bench_text_search.py` runs it beside tantivy.
//!
//!     cargo run --release -p kin-store --example text_bench -- corpus.jsonl queries.jsonl

use std::io::BufRead;
use std::time::Instant;

use kin_store::{CollectionConfig, Fusion, Item, Query, SearchParams, Store, TextConfig, TextIndex};
use serde_json::{json, Value};

const K: usize = 10;
const DIM: usize = 384;

fn read_jsonl(path: &str) -> Vec<Value> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    std::io::BufReader::new(file).lines().map(|l| serde_json::from_str(&l.unwrap()).expect("a JSON line")).collect()
}

/// Runs `f` over `queries` split across `threads`; queries per second.
fn qps<T: Sync>(queries: &[T], threads: usize, f: impl Fn(&T) + Sync) -> f64 {
    let started = Instant::now();
    let per = queries.len().div_ceil(threads);
    std::thread::scope(|s| {
        for part in queries.chunks(per) {
            let f = &f;
            s.spawn(move || part.iter().for_each(f));
        }
    });
    queries.len() as f64 / started.elapsed().as_secs_f64()
}

fn random_vector(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, corpus, queries, ..] = args.as_slice() else {
        eprintln!("usage: text_bench CORPUS.jsonl QUERIES.jsonl");
        std::process::exit(2);
    };
    let docs = read_jsonl(corpus);
    let texts: Vec<String> =
        read_jsonl(queries).iter().filter_map(|q| q["text"].as_str().map(str::to_string)).collect();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();

    // The index alone.
    let config = TextConfig::default();
    let started = Instant::now();
    let mut index = TextIndex::new(&config);
    for (slot, d) in docs.iter().enumerate() {
        index.add(slot as u32, d);
    }
    let index_secs = started.elapsed().as_secs_f64();
    let search = |q: &String| {
        std::hint::black_box(index.search(q, K, None).unwrap());
    };
    let text_qps_1 = qps(&texts, 1, search);
    let text_qps_2 = qps(&texts, 2, search);

    // Dense against hybrid through a collection (random vectors: the graph walk costs what
    // it costs on real ones of this size).
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut cfg = CollectionConfig::new("bench", DIM);
    cfg.text = Some(config);
    let c = store.create(cfg).unwrap();
    let items: Vec<Item> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| Item::new(i as i64, random_vector(i as u64)).with_payload(d.clone()))
        .collect();
    for batch in items.chunks(5_000) {
        c.upsert(batch.to_vec()).unwrap();
    }
    let vectors: Vec<Vec<f32>> = (0..texts.len()).map(|i| random_vector(1_000_000 + i as u64)).collect();
    let pairs: Vec<(&Vec<f32>, &String)> = vectors.iter().zip(&texts).collect();
    let params = SearchParams { k: K, ..SearchParams::default() };
    let dense_qps = qps(&pairs, 1, |(v, _)| {
        std::hint::black_box(c.find(&Query::Dense(v), &params).unwrap());
    });
    let hybrid_qps = qps(&pairs, 1, |(v, t)| {
        let q = Query::Hybrid { vector: v, text: t, fusion: Fusion::default() };
        std::hint::black_box(c.find(&q, &params).unwrap());
    });
    let collection_text_qps = qps(&pairs, 1, |(_, t)| {
        std::hint::black_box(c.find(&Query::Text(t), &params).unwrap());
    });
    let out = json!({
        "cpu": cpu,
        "docs": docs.len(),
        "queries": texts.len(),
        "index_seconds": index_secs,
        "index_docs_per_second": docs.len() as f64 / index_secs,
        "index_memory_bytes": index.usage(),
        "text_qps_1": text_qps_1,
        "text_qps_2": text_qps_2,
        "collection_text_qps_1": collection_text_qps,
        "dense_qps_1": dense_qps,
        "hybrid_qps_1": hybrid_qps,
    });
    println!("{out}");
}
