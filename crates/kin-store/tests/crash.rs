//! Durability under `kill -9`: a writer process is killed at random points, over and over; after
//! each restart every acknowledged upsert and delete is there, nothing else appears (beyond the
//! one write in flight at the kill), and the index agrees with the stored items. The writer
//! snapshots every 13 writes, so kills also land while the snapshot and the graph saved beside it
//! are written. The collection has a text index: every acknowledged item is found by an
//! exact-term text query after each restart, and no deleted or replaced version is.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kin_store::{CollectionConfig, Item, ItemId, SearchParams, Store, TextConfig};
use serde_json::json;

/// Kill cycles: 60, or `KIN_CRASH_CYCLES` (`scripts/crash.sh` runs 1,000).
fn cycles() -> u64 {
    std::env::var("KIN_CRASH_CYCLES").ok().and_then(|c| c.parse().ok()).unwrap_or(60)
}
const DIM: usize = 8;
const IDS: i64 = 200;

fn vector(version: i64) -> Vec<f32> {
    (0..DIM).map(|d| ((version * 31 + d as i64) % 97) as f32 + 1.0).collect()
}

/// The writer: runs only inside the child process started by `sigkill_at_random_points`.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var("KIN_CRASH_DIR") else { return };
    let start: i64 = std::env::var("KIN_CRASH_START").unwrap().parse().unwrap();
    let store = Store::open(Path::new(&dir)).unwrap();
    let c = match store.collection("c") {
        Ok(c) => c,
        Err(_) => {
            let mut config = CollectionConfig::new("c", DIM);
            config.text = Some(TextConfig { fields: vec!["text".into()], ..TextConfig::default() });
            store.create(config).unwrap()
        }
    };
    let mut out = std::io::stdout().lock();
    for v in start.. {
        let id = (v * 7919) % IDS;
        if v % 5 == 0 {
            writeln!(out, "begin D {id} {v}").unwrap();
            out.flush().unwrap();
            c.delete(&[ItemId::Int(id)]).unwrap();
            writeln!(out, "ack D {id} {v}").unwrap();
        } else {
            writeln!(out, "begin U {id} {v}").unwrap();
            out.flush().unwrap();
            let text = format!("item{id} version v{v}");
            c.upsert(vec![Item::new(id, vector(v)).with_payload(json!({ "v": v, "text": text }))]).unwrap();
            writeln!(out, "ack U {id} {v}").unwrap();
        }
        out.flush().unwrap();
        // Snapshots often, so that many kills land while the snapshot and the saved index are
        // being written (three fsyncs each against one per write).
        if v % 13 == 0 {
            c.snapshot().unwrap();
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum State {
    Live(i64),
    Deleted,
}

#[test]
fn sigkill_at_random_points() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut expected: HashMap<i64, State> = HashMap::new();
    let mut next_version = 1i64;
    let mut mid_snapshot = 0;
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let cycles = cycles();
    for cycle in 0..cycles {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let acks_before_kill = 5 + rng % 60;
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_writer_child", "--nocapture", "--test-threads", "1"])
            .env("KIN_CRASH_DIR", dir.path())
            .env("KIN_CRASH_START", next_version.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut in_flight = None;
        let mut acks = 0;
        let mut killed = false;
        let reader = BufReader::new(child.stdout.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        // Read what the writer acknowledged; kill it mid-stream, then read what it had already
        // printed before it died.
        for line in reader.lines() {
            let line = line.unwrap();
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.len() == 4 {
                let (id, v): (i64, i64) = (parts[2].parse().unwrap(), parts[3].parse().unwrap());
                let state = if parts[1] == "D" { State::Deleted } else { State::Live(v) };
                match parts[0] {
                    "begin" => in_flight = Some((id, state)),
                    "ack" => {
                        expected.insert(id, state);
                        in_flight = None;
                        next_version = v + 1;
                        acks += 1;
                    }
                    _ => {}
                }
            }
            if !killed && (acks >= acks_before_kill || Instant::now() > deadline) {
                // SIGKILL: no destructor, no flush.
                child.kill().unwrap();
                killed = true;
            }
        }
        if !killed {
            child.kill().unwrap();
        }
        child.wait().unwrap();
        let files = dir.path().join("collections").join("c");
        let partial = ["index.hnsw.partial", "snapshot.bin.partial"].iter().any(|f| files.join(f).exists());
        mid_snapshot += usize::from(partial);
        if let Some((_, State::Live(v))) = in_flight {
            next_version = next_version.max(v + 1);
        }
        verify(dir.path(), &expected, in_flight, cycle);
        // The in-flight write may or may not have landed; adopt what the store says.
        if let Some((id, _)) = in_flight {
            let store = Store::open(dir.path()).unwrap();
            let got = store.collection("c").unwrap().get(&ItemId::Int(id));
            let state = got.map_or(State::Deleted, |i| State::Live(i.payload["v"].as_i64().unwrap()));
            expected.insert(id, state);
        }
    }
    eprintln!("{mid_snapshot} of {cycles} kills landed while a snapshot or its index file was being written");
}

fn verify(dir: &Path, expected: &HashMap<i64, State>, in_flight: Option<(i64, State)>, cycle: u64) {
    let store = Store::open(dir).unwrap();
    // A kill leaves at most a torn tail, which is no damage.
    if store.names().unwrap().contains(&"c".to_string()) {
        let check = store.check("c").unwrap();
        assert!(!check.damaged(), "cycle {cycle}: {check:?}");
    }
    let Ok(c) = store.collection("c") else {
        assert!(expected.is_empty(), "cycle {cycle}: collection lost");
        return;
    };
    let mut live = 0;
    for id in 0..IDS {
        let got = c.get(&ItemId::Int(id)).map(|i| {
            let v = i.payload["v"].as_i64().unwrap();
            assert_eq!(i.vector.len(), DIM);
            State::Live(v)
        });
        let got = got.unwrap_or(State::Deleted);
        let want = expected.get(&id).copied().unwrap_or(State::Deleted);
        let allowed = got == want || in_flight.is_some_and(|(fid, fstate)| fid == id && fstate == got);
        assert!(allowed, "cycle {cycle}: item {id} is {got:?}, acknowledged state {want:?}, in flight {in_flight:?}");
        if got != State::Deleted {
            live += 1;
        }
        // The text index agrees: the item's own term finds it alone, and only while it lives;
        // its version's term finds it, an older version's does not.
        let by_term = |term: &str| -> Vec<ItemId> {
            c.search_text(term, &SearchParams { k: 10, ..Default::default() })
                .unwrap()
                .into_iter()
                .map(|h| h.id)
                .collect()
        };
        let own = by_term(&format!("item{id}"));
        match got {
            State::Live(v) => {
                assert_eq!(own, [ItemId::Int(id)], "cycle {cycle}: text search for live item {id}");
                assert_eq!(by_term(&format!("v{v}")), [ItemId::Int(id)], "cycle {cycle}: version {v} of {id}");
            }
            State::Deleted => assert!(own.is_empty(), "cycle {cycle}: deleted item {id} found by text: {own:?}"),
        }
    }
    assert_eq!(c.count(), live, "cycle {cycle}: count disagrees with items");
    // The index agrees with storage: an exact search over everything returns every live item.
    let hits = c.search(&vector(1), &SearchParams { k: IDS as usize, exact: true, ..Default::default() }).unwrap();
    assert_eq!(hits.len(), live, "cycle {cycle}: index and storage disagree");
    let approx = c.search(&vector(1), &SearchParams { k: 5, ..Default::default() }).unwrap();
    assert_eq!(approx.len(), live.min(5));
}
