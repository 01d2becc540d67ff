//! Kills timed into every step of a write and a snapshot: the writer of `crash.rs` runs with
//! `KIN_FAULTS=crash@POINT#N` and dies by SIGKILL the N-th time it reaches POINT (the log
//! appended or synced, the compaction done, the index, text index and snapshot each written
//! aside or renamed, the log emptied). A random kill lands inside a snapshot about once in a
//! thousand; here every step is hit on purpose, in a data directory that carries on from kill to
//! kill. After each restart the collection opens, `check` finds no damage, every acknowledged
//! write is there, nothing else is, and the vector and text indexes agree with the items.

mod common;

use std::io::BufReader;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::writer::{write_forever, History};
use kin_core::fault::CRASH_POINTS;

/// The writer: runs only inside the child processes started by the test below.
#[test]
fn crash_point_writer_child() {
    let Ok(dir) = std::env::var("KIN_CRASH_DIR") else { return };
    let start: i64 = std::env::var("KIN_CRASH_START").unwrap().parse().unwrap();
    write_forever(Path::new(&dir), start, 4);
}

#[test]
fn a_kill_at_every_step_of_a_write_and_a_snapshot_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut history = History::new();
    // The first time a point is reached, and a later time, when the collection holds more and
    // earlier snapshots and compactions lie behind it.
    for nth in [1, 3, 7] {
        for point in CRASH_POINTS {
            let rule = format!("crash@{point}#{nth}");
            let mut child = Command::new(&exe)
                .args(["--exact", "crash_point_writer_child", "--nocapture", "--test-threads", "1"])
                .env("KIN_CRASH_DIR", dir.path())
                .env("KIN_CRASH_START", history.next_version().to_string())
                .env("KIN_FAULTS", &rule)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let stdout = BufReader::new(child.stdout.take().unwrap());
            // The writer never stops by itself: only the fault point ends it.
            let (done, finished) = mpsc::channel();
            let (acks, timed_out) = std::thread::scope(|s| {
                let reader = s.spawn(|| {
                    let acks = history.read_all(stdout);
                    let _ = done.send(());
                    acks
                });
                let timed_out = finished.recv_timeout(Duration::from_secs(60)).is_err();
                if timed_out {
                    let _ = child.kill();
                }
                (reader.join().unwrap(), timed_out)
            });
            let status = child.wait().unwrap();
            assert!(!timed_out, "{rule}: the writer never reached its point ({acks} acks)");
            assert_eq!(status.signal(), Some(9), "{rule}: the writer was not killed at its point ({status})");
            history.verify(dir.path(), &rule);
            history.settle(dir.path());
        }
    }
    assert!(history.expected.len() > 50, "the writers wrote too little: {}", history.expected.len());
}
