//! Property-based fuzzing of the store's file readers: the log, the snapshot, the saved graph
//! and the text index of a collection, each mutated at random (bits flipped, cut short, bytes
//! inserted, stretches overwritten or zeroed). For every mutation: opening, `check` and `repair`
//! never panic, repair always leaves a collection that opens and searches, and it holds what the
//! repair reports. `KIN_FUZZ_RUNS` mutations per file (default 40; `scripts/fuzz.sh` runs more).

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use kin_core::mutate::Mutator;
use kin_store::{CollectionConfig, Item, SearchParams, Store, SyncPolicy, TextConfig};
use serde_json::json;

mod common;
use common::copy_dir;

fn runs() -> usize {
    std::env::var("KIN_FUZZ_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(40)
}

/// A collection with a text index: 120 items in a snapshot (with its graph and text index),
/// then 40 writes in the log.
fn pristine(dir: &Path) {
    let store = Store::open_with(dir, SyncPolicy::Never).unwrap();
    let mut config = CollectionConfig::new("c", 8);
    config.text = Some(TextConfig { fields: vec!["text".into()], ..TextConfig::default() });
    let c = store.create(config).unwrap();
    let item = |i: usize| {
        let vector = (0..8).map(|d| ((i * 7 + d * 3) % 11) as f32 + 0.5).collect();
        Item::new(i as i64, vector).with_payload(json!({"text": format!("word{} item{i}", i % 9)}))
    };
    for chunk in (0..120).collect::<Vec<_>>().chunks(10) {
        c.upsert(chunk.iter().map(|&i| item(i)).collect()).unwrap();
    }
    c.snapshot().unwrap();
    for i in 100..140 {
        c.upsert(vec![item(i)]).unwrap();
    }
    c.delete(&[7.into(), 8.into()]).unwrap();
}

#[test]
fn mutated_files_never_panic_and_repair_always_leaves_a_collection_that_opens() {
    let base = tempfile::tempdir().unwrap();
    pristine(base.path());
    let mut rng = Mutator::new(0x5EED);
    let mut executions = 0;
    for file in ["wal.log", "snapshot.bin", "index.hnsw", "text.idx"] {
        for run in 0..runs() {
            let data = tempfile::tempdir().unwrap();
            copy_dir(base.path(), data.path());
            let path = data.path().join("collections/c").join(file);
            let mut bytes = fs::read(&path).unwrap();
            rng.mutate(&mut bytes);
            fs::write(&path, &bytes).unwrap();
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                let store = Store::open(data.path()).unwrap();
                // Opening may refuse (with an error), never panic.
                if let Ok(c) = store.collection("c") {
                    let _ = c.search(&[1.0; 8], &SearchParams::default());
                    let _ = c.search_text("word3", &SearchParams::default());
                }
                drop(store);
                let store = Store::open(data.path()).unwrap();
                store.check("c").unwrap();
                let repair = store.repair("c").unwrap();
                let c = store.collection("c").unwrap_or_else(|e| panic!("does not open after repair: {e}"));
                assert_eq!(c.count(), repair.items);
                let exact = SearchParams { k: 1000, exact: true, ..SearchParams::default() };
                assert_eq!(c.search(&[1.0; 8], &exact).unwrap().len(), repair.items, "index and items agree");
                let text = SearchParams { k: 1000, ..SearchParams::default() };
                let words = (0..9).map(|w| c.search_text(&format!("word{w}"), &text).unwrap().len()).sum::<usize>();
                assert_eq!(words, repair.items, "the text index and the items agree");
                assert!(!store.check("c").unwrap().damaged(), "damaged after repair");
            }));
            executions += 1;
            if let Err(panic) = outcome {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{file}, run {run} ({} bytes after the mutation): {message}", bytes.len());
            }
        }
    }
    eprintln!("{executions} mutated collections opened, checked and repaired");
}
