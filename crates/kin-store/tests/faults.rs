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
//!
//! A read-only file system (a tmpfs in a mount namespace of its own, remounted read-only): a
//! store opened on it, or created there, gets an error naming the file and saying that kin needs
//! a data directory it can write; once it is writable again, nothing is lost.
//!
//! A failing call at every I/O point of the store (`KIN_FAULTS=eio@POINT` or `enospc@POINT`:
//! the log's write and fsync, each snapshot file's write and fsync, emptying the log): the one
//! operation it hits is refused with an error naming the file and the fault, nothing refused is
//! visible, reads go on, the next write and snapshot succeed, and the reopened collection holds
//! every acknowledged write and passes `check`.

use std::path::Path;
use std::process::Command;

use kin_core::fault::IO_POINTS;
use kin_store::{CollectionConfig, Item, ItemId, SearchParams, Store, TextConfig};
use serde_json::json;

const DIM: usize = 32;
const ITEMS: usize = 600;

fn item(i: usize) -> Item {
    // The first component makes every vector its own (the rest repeat every 29 items).
    let vector = (0..DIM).map(|d| if d == 0 { i as f32 + 1.0 } else { ((i * 13 + d * 7) % 29) as f32 + 1.0 }).collect();
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

/// The operations under a fault: runs only inside the children started by the test below, and
/// prints one line per step.
#[test]
fn faults_io_point_child() {
    let Ok(dir) = std::env::var("KIN_FAULTS_DIR") else { return };
    let c = Store::open(Path::new(&dir)).unwrap().collection("c").unwrap();
    // A text search first, so that the text index is built and a snapshot writes it.
    let text = c.search_text("number", &SearchParams { k: 1000, ..SearchParams::default() }).unwrap();
    println!("text finds: {}", text.len());
    let say = |step: &str, result: kin_store::Result<()>| match result {
        Ok(()) => println!("{step}: ok"),
        Err(e) => println!("{step}: refused: {e}"),
    };
    say("upsert 1", c.upsert(vec![item(ITEMS)]));
    say("delete 1", c.delete(&[ItemId::Int(3)]).map(|_| ()));
    say("snapshot 1", c.snapshot());
    say("upsert 2", c.upsert(vec![item(ITEMS + 1)]));
    say("snapshot 2", c.snapshot());
    println!("visible: {} {}", c.get(&ItemId::Int(ITEMS as i64)).is_some(), c.get(&ItemId::Int(3)).is_some());
    let hits = c.search(&item(7).vector, &SearchParams::default()).unwrap();
    println!("search finds: {}", hits[0].id);
}

#[test]
fn a_failing_call_at_every_io_point_is_refused_clearly_and_loses_nothing() {
    const ITEMS_HERE: usize = 40;
    let exe = std::env::current_exe().unwrap();
    for (n, point) in IO_POINTS.iter().enumerate() {
        let action = if n % 2 == 0 { "eio" } else { "enospc" };
        let rule = format!("{action}@{point}");
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            let mut config = CollectionConfig::new("c", DIM);
            config.text = Some(TextConfig { fields: vec!["text".into()], ..TextConfig::default() });
            let c = store.create(config).unwrap();
            c.upsert((0..ITEMS_HERE).map(item).collect()).unwrap();
        }
        let out = Command::new(&exe)
            .args(["--exact", "faults_io_point_child", "--nocapture", "--test-threads", "1"])
            .env("KIN_FAULTS_DIR", dir.path())
            .env("KIN_FAULTS", &rule)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{rule}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        let line = |prefix: &str| {
            stdout.lines().find_map(|l| l.find(prefix).map(|at| l[at + prefix.len()..].trim().to_string()))
        };
        let steps = ["upsert 1:", "delete 1:", "snapshot 1:", "upsert 2:", "snapshot 2:"];
        let refused: Vec<(&str, String)> =
            steps.iter().filter_map(|s| line(s).filter(|r| r != "ok").map(|r| (*s, r))).collect();
        // The log's faults hit the first write; the snapshot files' the first snapshot.
        let (step, file) = match point.split('.').next() {
            Some("wal") if *point != "wal.clear" => ("upsert 1:", "wal.log"),
            Some("wal") => ("snapshot 1:", "wal.log"),
            Some("index") => ("snapshot 1:", "index.hnsw"),
            Some("text") => ("snapshot 1:", "text.idx"),
            _ => ("snapshot 1:", "snapshot.bin"),
        };
        assert_eq!(refused.len(), 1, "{rule}: one operation refused, not {refused:?}\n{stdout}");
        let (refused_step, why) = &refused[0];
        assert_eq!(*refused_step, step, "{rule}: {why}");
        let named = format!("injected by KIN_FAULTS at {point}");
        assert!(why.contains(file) && why.contains(&named), "{rule}: the error names the file and fault: {why}");
        let first_kept = step != "upsert 1:";
        assert_eq!(line("visible:"), Some(format!("{first_kept} false")), "{rule}: {stdout}");
        assert_eq!(line("search finds:").as_deref(), Some("7"), "{rule}: reads go on");
        let files = dir.path().join("collections").join("c");
        let leftovers: Vec<_> = std::fs::read_dir(&files)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty(), "{rule}: partial files left: {leftovers:?}");

        // Reopened: every acknowledged write, nothing refused, no damage.
        let store = Store::open(dir.path()).unwrap();
        assert!(!store.check("c").unwrap().damaged(), "{rule}");
        let c = store.collection("c").unwrap();
        let live = ITEMS_HERE - 1 + usize::from(first_kept) + 1;
        assert_eq!(c.count(), live, "{rule}");
        assert_eq!(c.get(&ItemId::Int(ITEMS as i64)).is_some(), first_kept, "{rule}");
        assert!(c.get(&ItemId::Int(ITEMS as i64 + 1)).is_some() && c.get(&ItemId::Int(3)).is_none(), "{rule}");
        let text = c.search_text("number", &SearchParams { k: 1000, ..SearchParams::default() }).unwrap();
        assert_eq!(text.len(), live, "{rule}: the text index agrees");
        let exact = SearchParams { k: 1000, exact: true, ..SearchParams::default() };
        assert_eq!(c.search(&item(7).vector, &exact).unwrap().len(), live, "{rule}: the vector index agrees");
    }
}

/// Runs only inside the mount namespace set up by the test below: `KIN_FAULTS_DIR` is a tmpfs
/// this process may remount.
#[test]
fn faults_read_only_child() {
    let Ok(dir) = std::env::var("KIN_FAULTS_DIR") else { return };
    let remount = |how: &str| {
        let out = Command::new("mount").args(["-o", &format!("remount,{how}"), &dir]).output().unwrap();
        assert!(out.status.success(), "mount -o remount,{how}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let data = Path::new(&dir).join("data");
    {
        let store = Store::open(&data).unwrap();
        let c = store.create(CollectionConfig::new("c", DIM)).unwrap();
        c.upsert((0..20).map(item).collect()).unwrap();
    }
    // (Linux remounts read-only only while no file on it is open for writing.)
    remount("ro");
    match Store::open(&data) {
        Ok(_) => println!("open: ok"),
        Err(e) => println!("open: refused: {e}"),
    }
    match Store::open(&Path::new(&dir).join("fresh")) {
        Ok(_) => println!("create: ok"),
        Err(e) => println!("create: refused: {e}"),
    }
    remount("rw");
    let c = Store::open(&data).unwrap().collection("c").unwrap();
    c.upsert(vec![item(20)]).unwrap();
    println!("writable again: {}", c.count());
}

#[test]
fn a_read_only_data_directory_gives_a_clear_error() {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root {
        eprintln!("skipped: mounting a read-only file system needs root (CI and the project's machines run as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let script = r#"set -e; mount -t tmpfs -o size=16m tmpfs "$KIN_FAULTS_DIR"; exec "$0" --exact faults_read_only_child --nocapture --test-threads 1"#;
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "bash", "-c", script])
        .arg(&exe)
        .env("KIN_FAULTS_DIR", dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let line =
        |prefix: &str| stdout.lines().find_map(|l| l.find(prefix).map(|at| l[at..].to_string())).unwrap_or_default();
    for step in ["open:", "create:"] {
        let said = line(step);
        assert!(
            said.contains("refused")
                && said.contains("Read-only file system")
                && said.contains("needs one it can write"),
            "{step} {stdout}"
        );
    }
    assert!(line("open:").contains("LOCK"), "the error names the file: {stdout}");
    assert_eq!(line("writable again:"), "writable again: 21", "{stdout}");
}
