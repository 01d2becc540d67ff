//! `Store::check` and `Store::repair` on damaged collections: a byte flipped at a random place
//! in the log, a snapshot and the index files. Repair keeps every intact record, names what the
//! damaged bytes held, and leaves a collection that opens and agrees with what it reports.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use kin_core::mutate::Mutator;
use kin_store::{CollectionConfig, Health, Item, ItemId, SearchParams, Store, SyncPolicy, TextConfig};
use serde_json::json;

mod common;
use common::copy_dir;

fn vector(i: usize) -> Vec<f32> {
    (0..8).map(|d| ((i * 31 + d * 7) % 17) as f32 - 8.0 + 0.5).collect()
}

fn id(i: usize) -> ItemId {
    if i.is_multiple_of(3) {
        ItemId::Int(i as i64)
    } else {
        ItemId::from(format!("doc-{i}").as_str())
    }
}

/// One write of the history: an upsert of item `i` at `version`, or a delete of it.
#[derive(Clone, Copy)]
enum Write {
    Upsert(usize, usize),
    Delete(usize),
}

/// Writes of 60 items, some written again and some deleted, each a record of its own; the
/// `n`th write (from 1) is log position `first + n - 1`.
fn history() -> Vec<Write> {
    let mut writes: Vec<Write> = (0..60).map(|i| Write::Upsert(i, 0)).collect();
    writes.extend((0..60).step_by(7).map(|i| Write::Upsert(i, 1)));
    writes.extend((0..60).step_by(11).map(Write::Delete));
    writes
}

fn apply(c: &kin_store::Collection, w: Write) {
    match w {
        Write::Upsert(i, v) => {
            let payload = json!({"title": format!("item {i}"), "text": format!("version {v} of item {i}"), "v": v});
            c.upsert(vec![Item::new(id(i), vector(i)).with_payload(payload)]).unwrap();
        }
        Write::Delete(i) => {
            c.delete(&[id(i)]).unwrap();
        }
    }
}

/// What the collection holds after `writes`: each item's version.
fn model(writes: impl Iterator<Item = Write>) -> BTreeMap<ItemId, usize> {
    let mut out = BTreeMap::new();
    for w in writes {
        match w {
            Write::Upsert(i, v) => {
                out.insert(id(i), v);
            }
            Write::Delete(i) => {
                out.remove(&id(i));
            }
        }
    }
    out
}

fn config(text: bool) -> CollectionConfig {
    let mut cfg = CollectionConfig::new("docs", 8);
    cfg.text = text.then(TextConfig::default);
    cfg
}

fn collection_dir(data: &Path) -> std::path::PathBuf {
    data.join("collections").join("docs")
}

fn flip(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 1 << (at % 8);
    fs::write(path, bytes).unwrap();
}

/// Every id the history touched, with what the collection holds for it now.
fn held(c: &kin_store::Collection) -> BTreeMap<ItemId, usize> {
    (0..60).filter_map(|i| c.get(&id(i)).map(|item| (id(i), item.payload["v"].as_u64().unwrap() as usize))).collect()
}

#[test]
fn a_byte_flipped_anywhere_in_the_log_loses_only_the_records_it_hit() {
    let pristine = tempfile::tempdir().unwrap();
    let writes = history();
    {
        let store = Store::open_with(pristine.path(), SyncPolicy::Never).unwrap();
        let c = store.create(config(false)).unwrap();
        writes.iter().for_each(|&w| apply(&c, w));
    }
    let log_len = fs::metadata(collection_dir(pristine.path()).join("wal.log")).unwrap().len() as usize;
    let mut rng = Mutator::new(7);
    for round in 0..40 {
        let data = tempfile::tempdir().unwrap();
        copy_dir(pristine.path(), data.path());
        let at = rng.below(log_len);
        flip(&collection_dir(data.path()).join("wal.log"), at);

        let store = Store::open(data.path()).unwrap();
        let check = store.check("docs").unwrap();
        assert!(check.damaged(), "round {round}, byte {at}: {check:?}");
        let repair = store.repair("docs").unwrap();
        assert_eq!(repair.lost.len(), 1, "round {round}, byte {at}: {repair:?}");
        let lost = &repair.lost[0];
        assert!(lost.bytes.contains(&(at as u64)), "round {round}: byte {at} is not in {:?}", lost.bytes);
        // The records lost are those numbered between the intact ones around the damage.
        let (after, before) = lost.between;
        let is_lost = |lsn: u64| after.is_none_or(|a| lsn > a) && before.is_none_or(|b| lsn < b);
        let lost_lsns: Vec<u64> = (1..=writes.len() as u64).filter(|&l| is_lost(l)).collect();
        assert_eq!(lost_lsns.len(), 1, "round {round}, byte {at}: one frame is hit, {lost:?}");
        let kept = writes.iter().enumerate().filter(|(n, _)| !is_lost(*n as u64 + 1)).map(|(_, w)| *w);
        let expected = model(kept);

        let c = store.collection("docs").unwrap();
        assert_eq!(held(&c), expected, "round {round}, byte {at}");
        assert_eq!(repair.items, expected.len());
        for (_, ids) in &lost.read_as {
            for (id, present) in ids {
                assert_eq!(*present, c.get(id).is_some(), "round {round}: {id}");
            }
        }
        assert!(!store.check("docs").unwrap().damaged(), "round {round}: damaged after the repair");
        let aside = repair.aside.as_ref().unwrap();
        assert_eq!(fs::read(aside.join("wal.log")).unwrap().len(), log_len, "the log as it was is kept");
        assert!(aside.join("repair.json").exists());
        drop(c);
        drop(store);
        let store = Store::open(data.path()).unwrap();
        assert_eq!(held(&store.collection("docs").unwrap()), expected, "round {round}: after reopening");
    }
}

#[test]
fn a_byte_flipped_in_a_snapshot_loses_only_the_items_it_hit() {
    let pristine = tempfile::tempdir().unwrap();
    let writes = history();
    let (snapshotted, logged) = writes.split_at(70);
    {
        let store = Store::open_with(pristine.path(), SyncPolicy::Never).unwrap();
        let c = store.create(config(true)).unwrap();
        snapshotted.iter().for_each(|&w| apply(&c, w));
        c.snapshot().unwrap();
        logged.iter().for_each(|&w| apply(&c, w));
    }
    let dir = collection_dir(pristine.path());
    let snap_len = fs::metadata(dir.join("snapshot.bin")).unwrap().len() as usize;
    let in_snapshot = model(snapshotted.iter().copied());
    let mut rng = Mutator::new(11);
    for round in 0..30 {
        let data = tempfile::tempdir().unwrap();
        copy_dir(pristine.path(), data.path());
        let at = rng.below(snap_len);
        flip(&collection_dir(data.path()).join("snapshot.bin"), at);

        let store = Store::open(data.path()).unwrap();
        assert!(store.collection("docs").is_err(), "round {round}: a damaged snapshot opens");
        let check = store.check("docs").unwrap();
        let snap = check.files.iter().find(|f| f.file == Path::new("snapshot.bin")).unwrap();
        assert_eq!(snap.health, Health::Damaged, "round {round}, byte {at}: {check:?}");
        let repair = store.repair("docs").unwrap();
        assert!(repair.rebuilt.iter().any(|f| f == Path::new("index.hnsw")), "{repair:?}");
        let c = store.collection("docs").unwrap();
        let now = held(&c);
        assert_eq!(repair.items, now.len());
        // What the snapshot lost: items it held that should be there and are not. At most the
        // one item the flip hit, named as its bytes still read (unless the flip hit its id, and
        // then the name read is not one the history wrote); a header flip loses nothing.
        let named: Vec<&ItemId> =
            repair.lost.iter().flat_map(|l| &l.read_as).flat_map(|(_, ids)| ids).map(|(id, _)| id).collect();
        let expected = model(writes.iter().copied());
        let gone: Vec<&ItemId> =
            in_snapshot.keys().filter(|id| expected.contains_key(*id) && !now.contains_key(*id)).collect();
        assert!(gone.len() <= 1, "round {round}, byte {at}: {gone:?}");
        if at < 24 {
            assert!(gone.is_empty() && repair.lost.is_empty(), "round {round}, byte {at}: {repair:?}");
        }
        let mangled = named.is_empty() || named.iter().any(|n| !in_snapshot.contains_key(*n));
        for id in &gone {
            assert!(named.contains(id) || mangled, "round {round}, byte {at}: {id} lost unnamed: {repair:?}");
        }
        for (id, version) in &now {
            assert_eq!(expected.get(id), Some(version), "round {round}: {id} is at the wrong version");
        }
        let hits = c.search_text("item", &SearchParams { k: 100, ..SearchParams::default() }).unwrap();
        assert_eq!(hits.len(), now.len(), "round {round}: the text index agrees with the items");
        assert!(!store.check("docs").unwrap().damaged());
    }
}

#[test]
fn damaged_index_files_are_rebuilt_and_nothing_is_lost() {
    let data = tempfile::tempdir().unwrap();
    let writes = history();
    let expected = model(writes.iter().copied());
    {
        let store = Store::open_with(data.path(), SyncPolicy::Never).unwrap();
        let c = store.create(config(true)).unwrap();
        writes.iter().for_each(|&w| apply(&c, w));
        c.snapshot().unwrap();
    }
    let dir = collection_dir(data.path());
    for file in ["index.hnsw", "text.idx"] {
        let len = fs::metadata(dir.join(file)).unwrap().len() as usize;
        flip(&dir.join(file), len / 2);
    }
    let store = Store::open(data.path()).unwrap();
    let check = store.check("docs").unwrap();
    assert!(!check.damaged(), "{check:?}");
    for file in ["index.hnsw", "text.idx"] {
        let f = check.files.iter().find(|f| f.file == Path::new(file)).unwrap();
        assert_eq!(f.health, Health::Rebuilt, "{f:?}");
    }
    let repair = store.repair("docs").unwrap();
    assert!(repair.lost.is_empty() && repair.aside.is_none(), "{repair:?}");
    let c = store.collection("docs").unwrap();
    assert_eq!(held(&c), expected);
    let query = vector(5);
    assert_eq!(c.search(&query, &SearchParams::default()).unwrap()[0].id, id(5));
    assert_eq!(
        c.search_text("item", &SearchParams { k: 100, ..SearchParams::default() }).unwrap().len(),
        expected.len()
    );
}

#[test]
fn an_intact_collection_checks_clean_and_repair_changes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let c = store.create(config(false)).unwrap();
    history().into_iter().for_each(|w| apply(&c, w));
    drop(c);
    let check = store.check("docs").unwrap();
    assert!(check.files.iter().all(|f| f.health == Health::Intact), "{check:?}");
    let before = fs::read(collection_dir(data.path()).join("wal.log")).unwrap();
    let repair = store.repair("docs").unwrap();
    assert!(repair.lost.is_empty() && repair.rewritten.is_empty() && repair.aside.is_none());
    assert_eq!(fs::read(collection_dir(data.path()).join("wal.log")).unwrap(), before);
    let err = store.check("nope").unwrap_err().to_string();
    assert!(err.contains("\"nope\""), "{err}");
}
