//! The crash harness through the binary: writers over HTTP and through the CLI are killed with
//! SIGKILL over and over, and after every restart the collection is checked against what was
//! acknowledged. (`kin-store`'s `crash.rs` and `crash_points.rs` do the same to the library.)
//!
//! - `kin serve`: four clients upsert (batches of one to three items) and delete, each over ids
//!   of its own, at once, while the server compacts and snapshots (an upsert leaves a dead slot,
//!   so about every thousand writes fold the log). Every other cycle the server also runs with
//!   `KIN_FAULTS=crash@POINT`, a step of the snapshot, and dies there if it gets that far.
//! - `kin import` (3,000 items in batches of 1,000, then a checkpoint) and `kin delete`, killed at
//!   a random moment: each batch is all there or not at all, in order, and a run that exited 0 is
//!   whole.
//!
//! After each restart: `check` finds no damage; every acknowledged write is there, nothing else
//! (a request cut off by the kill is there whole or not at all); the text index agrees with the
//! items; the count and an exact search agree with them too.
//! Cycles: `KIN_CRASH_CYCLES` (default 50 and 16; `scripts/crash.sh` runs 1,000).

mod common;

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{kin, ok, write_npy, Served};
use kin_core::fault::CRASH_POINTS;
use kin_core::mutate::Mutator;
use kin_store::{ItemId, SearchParams, Store};
use serde_json::{json, Value};

fn cycles(default: u64) -> u64 {
    std::env::var("KIN_CRASH_CYCLES").ok().and_then(|c| c.parse().ok()).unwrap_or(default)
}

const DIM: usize = 8;

fn vector(id: i64, version: i64) -> Vec<f32> {
    (0..DIM as i64).map(|d| ((id * 31 + version * 17 + d * 7) % 97) as f32 + 1.0).collect()
}

/// An item's state: its version, or deleted (never written counts as deleted).
type Version = Option<i64>;

/// What the store holds of `ids`, read in-process after the writer is gone, checked: no damage,
/// each item's vector is its version's, the count and an exact search agree with the items, and
/// the text index agrees (each version's term finds exactly the items at that version; a sample
/// of items, all of them when there are few, is found by its own term while it lives, alone).
fn stored(data: &Path, ids: impl Iterator<Item = i64>, cycle: &str) -> HashMap<i64, Version> {
    let store = Store::open(data).unwrap();
    let check = store.check("c").unwrap();
    assert!(!check.damaged(), "{cycle}: {check:?}");
    let c = store.collection("c").unwrap();
    let mut state = HashMap::new();
    let mut by_version: HashMap<i64, Vec<i64>> = HashMap::new();
    for id in ids {
        let version = c.get(&ItemId::Int(id)).map(|item| {
            let v = item.payload["v"].as_i64().unwrap();
            assert_eq!(item.vector, vector(id, v), "{cycle}: item {id}'s vector is not its version {v}'s");
            v
        });
        if let Some(v) = version {
            by_version.entry(v).or_default().push(id);
        }
        state.insert(id, version);
    }
    let live = by_version.values().map(Vec::len).sum::<usize>();
    assert_eq!(c.count(), live, "{cycle}: items beyond those written (phantoms), or a count that disagrees");
    let exact = SearchParams { k: live + 10, exact: true, ..Default::default() };
    assert_eq!(c.search(&vector(0, 0), &exact).unwrap().len(), live, "{cycle}: the vector index disagrees");
    let text = |term: &str, k: usize| -> Vec<i64> {
        let params = SearchParams { k, ..Default::default() };
        let mut found: Vec<i64> = c
            .search_text(term, &params)
            .unwrap()
            .into_iter()
            .map(|h| match h.id {
                ItemId::Int(id) => id,
                other => panic!("{cycle}: text search found {other:?}"),
            })
            .collect();
        found.sort_unstable();
        found
    };
    for (v, ids) in &mut by_version {
        ids.sort_unstable();
        assert_eq!(&text(&format!("v{v}"), ids.len() + 10), ids, "{cycle}: text search for version {v}");
    }
    let step = (state.len() / 500).max(1);
    for (&id, version) in state.iter().filter(|(id, _)| (**id as usize).is_multiple_of(step)) {
        let want: Vec<i64> = version.map(|_| id).into_iter().collect();
        assert_eq!(text(&format!("item{id}"), 5), want, "{cycle}: text search for item {id} ({version:?})");
    }
    state
}

/// One HTTP client's history: acknowledged states, and the request cut off by the kill.
#[derive(Default)]
struct Client {
    acked: HashMap<i64, Version>,
    in_flight: Vec<(i64, Version)>,
    writes: u64,
}

/// Runs one client until the server stops answering.
fn client_loop(url: &str, first_id: i64, seed: u64, version: &mut i64, client: &Mutex<Client>) {
    let mut rng = Mutator::new(seed);
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(20)).build();
    loop {
        let ids: Vec<i64> = (0..1 + rng.below(3)).map(|_| first_id + rng.below(50) as i64).collect();
        let (request, change): (Value, Vec<(i64, Version)>) = if rng.below(4) == 0 {
            let change = ids.iter().map(|&id| (id, None)).collect();
            (json!({ "ids": ids }), change)
        } else {
            *version += 1;
            let v = *version;
            let mut ids = ids;
            ids.sort_unstable();
            ids.dedup();
            let items: Vec<Value> = ids
                .iter()
                .map(|&id| json!({"id": id, "vector": vector(id, v), "payload": {"v": v, "text": format!("item{id} v{v}")}}))
                .collect();
            (json!({ "items": items }), ids.iter().map(|&id| (id, Some(v))).collect())
        };
        let path = if request.get("ids").is_some() { "items/delete" } else { "items" };
        client.lock().unwrap().in_flight = change.clone();
        let answer = agent.post(&format!("{url}/v1/collections/c/{path}")).send_json(request);
        let mut c = client.lock().unwrap();
        match answer {
            Ok(r) if r.status() == 200 => {
                c.acked.extend(change);
                c.in_flight.clear();
                c.writes += 1;
            }
            Ok(r) => panic!("write answered {}", r.status()),
            // Too busy: refused, so nothing of it may appear.
            Err(ureq::Error::Status(429, _)) => c.in_flight.clear(),
            Err(ureq::Error::Status(code, r)) => panic!("write refused with {code}: {}", r.into_string().unwrap()),
            // The server is gone: the request may or may not have been applied.
            Err(_) => return,
        }
    }
}

#[test]
fn sigkill_during_concurrent_http_writes() {
    const CLIENTS: i64 = 4;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Served::start(&data, &[]);
    server.post("/v1/collections", json!({"name": "c", "dim": DIM, "metric": "l2", "text": true})).unwrap();
    drop(server);
    let clients: Vec<Arc<Mutex<Client>>> = (0..CLIENTS).map(|_| Arc::default()).collect();
    let mut versions = vec![0i64; CLIENTS as usize];
    let mut rng = Mutator::new(0x2545_F491_4F6C_DD1D);
    let (cycles, mut at_point, mut writes) = (cycles(50), 0, 0);
    let snapshot_points: Vec<&str> = CRASH_POINTS.iter().copied().filter(|p| !p.starts_with("wal.")).collect();
    for cycle in 0..cycles {
        let fault = (cycle % 2 == 1)
            .then(|| format!("crash@{}", snapshot_points[(cycle / 2) as usize % snapshot_points.len()]));
        let env: Vec<(&str, &str)> = fault.iter().map(|f| ("KIN_FAULTS", f.as_str())).collect();
        let mut server = Served::start_with(&data, &[], &env);
        let url = server.url.clone();
        let runs: Vec<_> = clients
            .iter()
            .zip(versions.iter_mut())
            .enumerate()
            .map(|(t, (client, version))| {
                let (client, url, seed) = (client.clone(), url.clone(), rng.next());
                let mut v = *version;
                let handle = std::thread::spawn(move || {
                    client_loop(&url, t as i64 * 1000, seed, &mut v, &client);
                    v
                });
                (handle, version)
            })
            .collect();
        // Kill it after a while, unless its fault point killed it first.
        let deadline = Instant::now() + Duration::from_millis(200 + rng.below(1200) as u64);
        let mut died_at_point = false;
        while Instant::now() < deadline {
            if let Some(status) = server.child.try_wait().unwrap() {
                assert_eq!(status.signal(), Some(9), "cycle {cycle}: the server ended by itself ({status})");
                died_at_point = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(server);
        for (handle, version) in runs {
            *version = handle.join().unwrap();
        }
        at_point += usize::from(died_at_point);

        // Every acknowledged write is there; a cut-off request is there whole or not at all.
        let label = format!("cycle {cycle} ({})", fault.as_deref().unwrap_or("SIGKILL"));
        let ids = (0..CLIENTS).flat_map(|t| (0..50).map(move |i| t * 1000 + i));
        let state = stored(&data, ids, &label);
        for (t, client) in clients.iter().enumerate() {
            let mut c = client.lock().unwrap();
            let landed = c.in_flight.iter().all(|(id, v)| state[id] == *v);
            for id in (0..50).map(|i| t as i64 * 1000 + i) {
                let (want, got) = (c.acked.get(&id).copied().flatten(), state[&id]);
                let flying = c.in_flight.iter().any(|(f, v)| *f == id && *v == got);
                assert!(
                    got == want || (landed && flying),
                    "{label}: item {id} is {got:?}, acknowledged {want:?}, in flight {:?}",
                    c.in_flight
                );
            }
            // Adopt what the store says of the cut-off request.
            let flight = std::mem::take(&mut c.in_flight);
            if landed {
                c.acked.extend(flight);
            }
            writes += std::mem::take(&mut c.writes);
        }
    }
    eprintln!(
        "{cycles} kill cycles, {writes} acknowledged writes over HTTP; {at_point} servers died at their fault point"
    );
    assert!(writes > cycles * 10, "too few writes were acknowledged to prove anything: {writes}");
}

#[test]
fn sigkill_during_cli_imports_and_deletes() {
    const N: i64 = 3_000;
    const BATCH: i64 = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(kin(&data).args(["collection", "create", "c", "--dim", "8", "--metric", "l2", "--text"]).output().unwrap());
    let ids_file = dir.path().join("ids.txt");
    std::fs::write(&ids_file, (0..N).map(|i| format!("{i}\n")).collect::<String>()).unwrap();
    let mut state: HashMap<i64, Version> = (0..N).map(|i| (i, None)).collect();
    let mut rng = Mutator::new(0x9E37_79B9_7F4A_7C15);
    let (cycles, mut whole, mut cut) = (cycles(16), 0, 0);
    for cycle in 0..cycles as i64 {
        let v = cycle + 1;
        let label = format!("cycle {cycle}");
        let vectors: Vec<f32> = (0..N).flat_map(|id| vector(id, v)).collect();
        write_npy(&dir.path().join("v.npy"), N as usize, DIM, &vectors);
        let payloads: String =
            (0..N).map(|id| format!("{}\n", json!({"v": v, "text": format!("item{id} v{v}")}))).collect();
        std::fs::write(dir.path().join("p.jsonl"), payloads).unwrap();
        let mut import = kin(&data)
            .args(["import", "c", "--batch-size", &BATCH.to_string(), "--vectors"])
            .arg(dir.path().join("v.npy"))
            .arg("--ids")
            .arg(&ids_file)
            .arg("--payloads")
            .arg(dir.path().join("p.jsonl"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Every fourth import runs to the end; the others are killed within a second (an
        // import of 3,000 items in three batches, then a checkpoint, takes about that here).
        if cycle % 4 != 3 {
            std::thread::sleep(Duration::from_millis(rng.below(1000) as u64));
            let _ = import.kill();
        }
        let finished = import.wait().unwrap().success();
        let now = stored(&data, 0..N, &label);
        // Batch by batch, in order: a batch is all of this version or all as before.
        let mut earlier_landed = true;
        for first in (0..N).step_by(BATCH as usize) {
            let batch = first..(first + BATCH).min(N);
            let landed = batch.clone().all(|id| now[&id] == Some(v));
            assert!(landed || batch.clone().all(|id| now[&id] == state[&id]), "{label}: batch at {first} is torn");
            assert!(earlier_landed || !landed, "{label}: the batch at {first} landed before the one ahead of it");
            assert!(landed || !finished, "{label}: kin import exited 0 without batch {first}");
            earlier_landed = landed;
        }
        if finished {
            whole += 1
        } else {
            cut += 1
        }
        state = now;

        // A delete of a few ids, killed at once or let run: all of them go, or none does.
        let doomed: Vec<i64> = (0..20).map(|_| rng.below(N as usize) as i64).collect();
        let mut delete = kin(&data)
            .args(["delete", "c"])
            .args(doomed.iter().map(i64::to_string))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.below(60) as u64));
        let _ = delete.kill();
        let deleted = delete.wait().unwrap().success();
        let now = stored(&data, 0..N, &label);
        let gone = doomed.iter().all(|id| now[id].is_none());
        assert!(gone || doomed.iter().all(|id| now[id] == state[id]), "{label}: a delete was torn");
        assert!(gone || !deleted, "{label}: kin delete exited 0 and items are still there");
        assert!(
            (0..N).filter(|id| !doomed.contains(id)).all(|id| now[&id] == state[&id]),
            "{label}: a delete changed others"
        );
        state = now;
    }
    eprintln!("{cycles} kill cycles of kin import and kin delete: {whole} imports finished, {cut} were cut off");
    assert!(cut > 0 && (whole > 0 || cycles < 4), "imports must both finish and be cut off");
}
