//! The index saved beside the snapshot: opening reads it instead of building the graph, a damaged
//! or mismatched file is rebuilt from the vectors, snapshots drop deleted items from the index,
//! and scans go on across a compaction.

use std::collections::HashSet;
use std::path::Path;

use kin_store::{CollectionConfig, CollectionRead, Item, ItemId, SearchParams, Store};
use serde_json::json;

const DIM: usize = 16;

/// A pseudo-random vector in [-1, 1)^DIM, distinct for every `i`.
fn vector(i: usize) -> Vec<f32> {
    (0..DIM)
        .map(|d| {
            let mut z = (i as u64 * DIM as u64 + d as u64).wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn items(range: std::ops::Range<usize>) -> Vec<Item> {
    range.map(|i| Item::new(i as i64, vector(i)).with_payload(json!({ "i": i }))).collect()
}

/// Ids of the 10 nearest items to item `q`'s vector, by the graph and by a scan.
fn top10(store: &Store, q: usize, exact: bool) -> Vec<ItemId> {
    let c = store.collection("c").unwrap();
    let params = SearchParams { k: 10, ef: Some(128), exact, ..Default::default() };
    c.search(&vector(q), &params).unwrap().into_iter().map(|h| h.id).collect()
}

fn index_file(dir: &Path) -> std::path::PathBuf {
    dir.join("collections").join("c").join("index.hnsw")
}

#[test]
fn opening_reads_the_saved_graph_and_rebuilds_a_damaged_one() {
    let dir = tempfile::tempdir().unwrap();
    let before: Vec<Vec<ItemId>> = {
        let store = Store::open(dir.path()).unwrap();
        let c = store.create(CollectionConfig::new("c", DIM)).unwrap();
        c.upsert(items(0..3000)).unwrap();
        c.snapshot().unwrap();
        c.upsert(items(3000..3100)).unwrap();
        (0..20).map(|q| top10(&store, q * 97, false)).collect()
    };
    let file = index_file(dir.path());
    assert!(file.exists(), "the snapshot saved the index beside it");
    let saved = std::fs::read(&file).unwrap();
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let saved_inode = inode(&file);
    {
        // Same graph, same log tail: the same answers.
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.collection("c").unwrap().count(), 3100);
        let again: Vec<Vec<ItemId>> = (0..20).map(|q| top10(&store, q * 97, false)).collect();
        assert_eq!(again, before);
    }
    assert_eq!(inode(&file), saved_inode, "a good index file is read, not rewritten");

    for damage in [Damage::Flip, Damage::Truncate, Damage::Remove, Damage::OldVersion] {
        damage.apply(&file, &saved);
        let store = Store::open(dir.path()).unwrap();
        let c = store.collection("c").unwrap();
        assert_eq!(c.count(), 3100, "{damage:?}");
        for q in [0, 1234, 3050] {
            let (graph, exact) = (top10(&store, q, false), top10(&store, q, true));
            let common = graph.iter().filter(|id| exact.contains(id)).count();
            assert!(common >= 9, "{damage:?}: query {q}: {common} of 10");
        }
        drop(store);
        assert!(std::fs::read(&file).is_ok_and(|b| b.len() > 100), "{damage:?}: the rebuilt index was saved");
    }
}

#[derive(Debug, Clone, Copy)]
enum Damage {
    Flip,
    Truncate,
    Remove,
    OldVersion,
}

impl Damage {
    fn apply(self, file: &Path, saved: &[u8]) {
        let mut bytes = saved.to_vec();
        match self {
            Damage::Flip => bytes[saved.len() / 2] ^= 0x40,
            Damage::Truncate => bytes.truncate(saved.len() - 100),
            Damage::OldVersion => bytes[8..12].copy_from_slice(&1u32.to_le_bytes()),
            Damage::Remove => {
                std::fs::remove_file(file).unwrap();
                return;
            }
        }
        std::fs::write(file, bytes).unwrap();
    }
}

#[test]
fn an_index_file_from_another_snapshot_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let file = index_file(dir.path());
    let older = {
        let store = Store::open(dir.path()).unwrap();
        let c = store.create(CollectionConfig::new("c", DIM)).unwrap();
        c.upsert(items(0..500)).unwrap();
        c.snapshot().unwrap();
        let older = std::fs::read(&file).unwrap();
        c.upsert(items(500..1000)).unwrap();
        c.snapshot().unwrap();
        older
    };
    // As after a crash between the two files' renames: the graph belongs to the first snapshot.
    std::fs::write(&file, older).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.collection("c").unwrap().count(), 1000);
    let exact = top10(&store, 750, true);
    assert_eq!(top10(&store, 750, false)[0], exact[0]);
}

#[test]
fn churn_is_compacted_away_and_recall_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let c = store.create(CollectionConfig::new("c", DIM)).unwrap();
    c.upsert(items(0..4000)).unwrap();
    for round in 0..2 {
        // Half the items deleted and put back with new vectors, then a snapshot compacts.
        let gone: Vec<ItemId> = (0..4000).filter(|i| (i + round) % 2 == 0).map(|i| ItemId::Int(i as i64)).collect();
        c.delete(&gone).unwrap();
        let back: Vec<Item> = (0..4000)
            .filter(|i| (i + round) % 2 == 0)
            .map(|i| Item::new(i as i64, vector(i + 10_000 * (round + 1))).with_payload(json!({ "i": i })))
            .collect();
        c.upsert(back).unwrap();
        c.snapshot().unwrap();
    }
    assert_eq!(c.count(), 4000);
    let now = |i: usize| if i.is_multiple_of(2) { vector(i + 10_000) } else { vector(i + 20_000) };
    let mut found = 0;
    for q in (0..4000).step_by(40) {
        let hits = c.search(&now(q), &SearchParams { k: 1, ef: Some(64), ..Default::default() }).unwrap();
        found += usize::from(hits[0].id == ItemId::Int(q as i64));
    }
    assert!(found >= 98, "{found} of 100 items found by their own vector after churn");
    // The index holds live nodes only: reopened, the saved graph fits the 4,000 items exactly.
    drop(c);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.collection("c").unwrap().count(), 4000);
}

#[test]
fn a_scan_goes_on_across_a_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let c = store.create(CollectionConfig::new("c", DIM)).unwrap();
    c.upsert(items(0..100)).unwrap();
    let (first, cursor) = CollectionRead::scan(&*c, None, 30).unwrap();
    let gone: Vec<ItemId> = (0..100).filter(|i| i % 3 == 0).map(|i| ItemId::Int(i as i64)).collect();
    c.delete(&gone).unwrap();
    c.snapshot().unwrap();
    let mut seen: HashSet<ItemId> = first.into_iter().map(|i| i.id).collect();
    let mut cursor = cursor;
    while let Some(at) = cursor {
        let (page, next) = CollectionRead::scan(&*c, Some(&at), 7).unwrap();
        seen.extend(page.into_iter().map(|i| i.id));
        cursor = next;
    }
    let live: HashSet<ItemId> = (0..100).filter(|i| i % 3 != 0).map(|i| ItemId::Int(i as i64)).collect();
    assert!(live.is_subset(&seen), "every item live throughout was scanned");
    c.delete(&[ItemId::Int(1)]).unwrap();
    c.snapshot().unwrap();
    c.delete(&[ItemId::Int(2)]).unwrap();
    c.snapshot().unwrap();
    let err = CollectionRead::scan(&*c, Some("0:40"), 7).unwrap_err().to_string();
    assert!(err.contains("start the scan again"), "{err}");
    assert!(CollectionRead::scan(&*c, Some("x"), 7).is_err());
}

#[test]
fn files_left_half_written_by_a_kill_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("collections").join("c");
    {
        let store = Store::open(dir.path()).unwrap();
        let c = store.create(CollectionConfig::new("c", DIM)).unwrap();
        c.upsert(items(0..800)).unwrap();
        c.snapshot().unwrap();
        c.upsert(items(800..900)).unwrap();
    }
    // A kill in the middle of the next snapshot: both new files cut short, neither renamed.
    let index = std::fs::read(files.join("index.hnsw")).unwrap();
    let snapshot = std::fs::read(files.join("snapshot.bin")).unwrap();
    std::fs::write(files.join("index.hnsw.partial"), &index[..index.len() / 3]).unwrap();
    std::fs::write(files.join("snapshot.bin.partial"), &snapshot[..snapshot.len() / 2]).unwrap();
    let store = Store::open(dir.path()).unwrap();
    let c = store.collection("c").unwrap();
    assert_eq!(c.count(), 900);
    assert_eq!(top10(&store, 850, false)[0], ItemId::Int(850));
    // The next snapshot replaces the leftovers and the collection opens from it.
    c.snapshot().unwrap();
    assert!(!files.join("index.hnsw.partial").exists() && !files.join("snapshot.bin.partial").exists());
    drop(c);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.collection("c").unwrap().count(), 900);
}

/// The snapshot is read on a thread of its own while the saved graph is decoded: damage deep in
/// a large snapshot (past the chunks that can be waiting between them) is reported as damage,
/// and the reading stops on both sides rather than one waiting for the other.
#[test]
fn damage_deep_in_the_snapshot_is_reported_beside_a_good_graph() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let c = store.create(CollectionConfig::new("c", DIM)).unwrap();
        c.upsert(items(0..3000)).unwrap();
        c.snapshot().unwrap();
    }
    assert!(index_file(dir.path()).exists());
    let snapshot = dir.path().join("collections").join("c").join("snapshot.bin");
    let saved = std::fs::read(&snapshot).unwrap();
    for at in [saved.len() * 2 / 3, saved.len() - 3] {
        let mut bytes = saved.clone();
        bytes[at] ^= 0x40;
        std::fs::write(&snapshot, &bytes).unwrap();
        let path = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let store = Store::open(&path).unwrap();
            let _ = tx.send(store.collection("c").map(|c| c.count()).map_err(|e| e.to_string()));
        });
        let opened = rx.recv_timeout(std::time::Duration::from_secs(120)).expect("opening finishes");
        let message = opened.expect_err("a damaged snapshot is not opened as if whole");
        assert!(message.contains("snapshot.bin"), "byte {at}: {message}");
    }
    std::fs::write(&snapshot, &saved).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.collection("c").unwrap().count(), 3000, "the whole snapshot opens again");
}
