//! I/O faults: a data directory that vanishes under an open store, and a disk that fills up.
//!
//! A vanished directory: writes are refused with an error naming the log, searches go on from
//! memory, and a directory put back takes writes again with nothing lost.
//!
//! A full disk: a child process runs under a file-size limit (`ulimit -f`,
//! with SIGXFSZ ignored, so a write past the limit fails with EFBIG as a full disk fails with
//! ENOSPC): a log append and a snapshot are refused with an error naming the file, nothing
//! refused is acknowledged or visible, reads go on working, no partial file is left, and once the
//! limit is gone the collection opens with every acknowledged write and takes new ones.

use std::path::Path;
use std::process::Command;

use kin_store::{CollectionConfig, Item, ItemId, SearchParams, Store, TextConfig};
use serde_json::json;

const DIM: usize = 32;
const ITEMS: usize = 600;

fn item(i: usize) -> Item {
    let vector = (0..DIM).map(|d| ((i * 13 + d * 7) % 29) as f32 + 1.0).collect();
    Item::new(i as i64, vector).with_payload(json!({"text": format!("item number {i}")}))
}

/// The writer under the limit: runs only inside the child started by the test below, and
/// reports each step on stdout.
#[test]
fn faults_full_disk_child() {
    let Ok(dir) = std::env::var("KIN_FAULTS_DIR") else { return };
    let store = Store::open(Path::new(&dir)).unwrap();
    let c = store.collection("c").unwrap();
    match c.upsert(vec![item(ITEMS)]) {
        Ok(()) => println!("upsert acknowledged"),
        Err(e) => println!("upsert refused: {e}"),
    }
    println!("refused item visible: {}", c.get(&ItemId::Int(ITEMS as i64)).is_some());
    println!("count: {}", c.count());
    let hits = c.search(&item(7).vector, &SearchParams::default()).unwrap();
    println!("search finds: {}", hits[0].id);
    match c.snapshot() {
        Ok(()) => println!("snapshot written"),
        Err(e) => println!("snapshot refused: {e}"),
    }
    println!("count after: {}", c.count());
}

#[test]
fn a_full_disk_refuses_writes_clearly_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let mut config = CollectionConfig::new("c", DIM);
        config.text = Some(TextConfig { fields: vec!["text".into()], ..TextConfig::default() });
        let c = store.create(config).unwrap();
        for i in 0..ITEMS {
            c.upsert(vec![item(i)]).unwrap();
        }
    }
    let files = dir.path().join("collections").join("c");
    let log_bytes = std::fs::metadata(files.join("wal.log")).unwrap().len();
    assert!(log_bytes > 100 << 10, "the log ({log_bytes} bytes) must outgrow the limit");

    // 64 KiB per file: the log is past it already, and so is the snapshot of its items.
    let exe = std::env::current_exe().unwrap();
    let script = r#"trap '' XFSZ; ulimit -f 64; exec "$0" --exact faults_full_disk_child --nocapture --test-threads 1"#;
    let out = Command::new("bash").args(["-c", script]).arg(&exe).env("KIN_FAULTS_DIR", dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // (libtest prints the child's first line after the test's name.)
    let line =
        |prefix: &str| stdout.lines().find_map(|l| l.find(prefix).map(|at| l[at..].to_string())).unwrap_or_default();
    let upsert = line("upsert");
    assert!(
        upsert.starts_with("upsert refused") && upsert.contains("wal.log") && upsert.contains("too large"),
        "{stdout}"
    );
    assert_eq!(line("refused item visible"), "refused item visible: false", "{stdout}");
    assert_eq!(line("count:"), format!("count: {ITEMS}"), "{stdout}");
    assert_eq!(line("search finds"), "search finds: 7", "{stdout}");
    let snapshot = line("snapshot");
    assert!(snapshot.starts_with("snapshot refused") && snapshot.contains(".partial"), "{stdout}");
    assert_eq!(line("count after"), format!("count after: {ITEMS}"), "{stdout}");
    let leftovers: Vec<_> = std::fs::read_dir(&files)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "partial files left on a full disk: {leftovers:?}");

    // Space is back: everything acknowledged is there, the refused write is not, writes go on.
    let store = Store::open(dir.path()).unwrap();
    assert!(!store.check("c").unwrap().damaged());
    let c = store.collection("c").unwrap();
    assert_eq!(c.count(), ITEMS);
    assert!(c.get(&ItemId::Int(ITEMS as i64)).is_none());
    for i in [0, ITEMS / 2, ITEMS - 1] {
        // (Cosine collections keep vectors normalised.)
        assert_eq!(c.get(&ItemId::Int(i as i64)).unwrap().payload, item(i).payload);
    }
    c.upsert(vec![item(ITEMS)]).unwrap();
    c.snapshot().unwrap();
    drop(c);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    let c = store.collection("c").unwrap();
    assert_eq!(c.count(), ITEMS + 1);
    assert_eq!(c.search_text("number", &SearchParams { k: 1000, ..SearchParams::default() }).unwrap().len(), ITEMS + 1);
}

#[test]
fn a_vanished_data_directory_refuses_writes_instead_of_losing_them() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let store = Store::open(&data).unwrap();
    let c = store.create(CollectionConfig::new("c", DIM)).unwrap();
    c.upsert((0..10).map(item).collect()).unwrap();

    let moved = root.path().join("moved");
    std::fs::rename(&data, &moved).unwrap();
    let err = c.upsert(vec![item(10)]).unwrap_err().to_string();
    assert!(err.contains("wal.log") && err.contains("deleted, moved or replaced"), "{err}");
    assert!(c.delete(&[ItemId::Int(1)]).is_err(), "deletes are refused too");
    let hits = c.search(&item(3).vector, &SearchParams { k: 1, exact: true, ..SearchParams::default() }).unwrap();
    assert_eq!(hits[0].id, ItemId::Int(3), "searches go on from memory");
    assert_eq!(c.count(), 10, "nothing refused became visible");

    std::fs::rename(&moved, &data).unwrap();
    c.upsert(vec![item(10)]).unwrap();
    drop(c);
    drop(store);
    let c = Store::open(&data).unwrap().collection("c").unwrap();
    assert_eq!(c.count(), 11, "every acknowledged write is there after reopening");
}
