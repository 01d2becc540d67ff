//! Durability under `kill -9`: a writer process is killed at random points, over and over; after
//! each restart every acknowledged upsert and delete is there, nothing else appears (beyond the
//! one write in flight at the kill), and the index agrees with the stored items. The writer
//! snapshots every 13 writes, so kills also land while the snapshot and the graph saved beside it
//! are written. The collection has a text index: every acknowledged item is found by an
//! exact-term text query after each restart, and no deleted or replaced version is.
//! (`crash_points.rs` kills the writer at each named point of a write and a snapshot instead.)

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::writer::{write_forever, History};

/// Kill cycles: 60, or `KIN_CRASH_CYCLES` (`scripts/crash.sh` runs 1,000).
fn cycles() -> u64 {
    std::env::var("KIN_CRASH_CYCLES").ok().and_then(|c| c.parse().ok()).unwrap_or(60)
}

/// The writer: runs only inside the child process started by `sigkill_at_random_points`.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var("KIN_CRASH_DIR") else { return };
    let start: i64 = std::env::var("KIN_CRASH_START").unwrap().parse().unwrap();
    // Snapshots often, so that many kills land while the snapshot and the saved index are
    // being written (three fsyncs each against one per write).
    write_forever(Path::new(&dir), start, 13);
}

#[test]
fn sigkill_at_random_points() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut history = History::new();
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
            .env("KIN_CRASH_START", history.next_version().to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut acks = 0;
        let mut killed = false;
        let reader = BufReader::new(child.stdout.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        // Read what the writer acknowledged; kill it mid-stream, then read what it had already
        // printed before it died.
        for line in reader.lines() {
            acks += usize::from(history.read(&line.unwrap())) as u64;
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
        history.verify(dir.path(), &format!("cycle {cycle}"));
        history.settle(dir.path());
    }
    eprintln!("{mid_snapshot} of {cycles} kills landed while a snapshot or its index file was being written");
}
