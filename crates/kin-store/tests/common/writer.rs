//! The crash tests' writer and checker: a child process upserts and deletes items of a
//! collection with a text index, printing `begin` before each write and `ack` after it; the
//! parent reads those lines, kills the child (or has it killed at a fault point), and checks the
//! reopened collection against what was acknowledged.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use kin_store::{CollectionConfig, Item, ItemId, SearchParams, Store, TextConfig};
use serde_json::json;

pub const DIM: usize = 8;
pub const IDS: i64 = 200;

pub fn vector(version: i64) -> Vec<f32> {
    (0..DIM).map(|d| ((version * 31 + d as i64) % 97) as f32 + 1.0).collect()
}

/// Writes for ever from version `start`: every fifth write a delete, the rest upserts, with a
/// snapshot every `snapshot_every` writes (the snapshot compacts the deleted items away).
pub fn write_forever(dir: &Path, start: i64, snapshot_every: i64) {
    let store = Store::open(dir).unwrap();
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
        if v % snapshot_every == 0 {
            c.snapshot().unwrap();
        }
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum State {
    Live(i64),
    Deleted,
}

/// What the parent knows of the writer's history across kills.
#[derive(Default)]
pub struct History {
    pub expected: HashMap<i64, State>,
    /// The write begun and not acknowledged when the writer died: it may or may not be there.
    pub in_flight: Option<(i64, State)>,
    next_version: i64,
}

impl History {
    pub fn new() -> Self {
        History { next_version: 1, ..History::default() }
    }

    /// The version the next writer starts at.
    pub fn next_version(&self) -> i64 {
        self.next_version
    }

    /// Takes one line of the writer's output; returns whether it was an acknowledgement.
    pub fn read(&mut self, line: &str) -> bool {
        // (libtest prints the writer's first line after the test's name.)
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(parts) = words.len().checked_sub(4).map(|at| &words[at..]) else { return false };
        let (Ok(id), Ok(v)) = (parts[2].parse::<i64>(), parts[3].parse::<i64>()) else { return false };
        let state = if parts[1] == "D" { State::Deleted } else { State::Live(v) };
        match parts[0] {
            "begin" => {
                self.in_flight = Some((id, state));
                false
            }
            "ack" => {
                self.expected.insert(id, state);
                self.in_flight = None;
                self.next_version = v + 1;
                true
            }
            _ => false,
        }
    }

    /// Reads every line of a writer's output until it ends; returns the acknowledgements.
    pub fn read_all(&mut self, output: impl BufRead) -> usize {
        output.lines().map_while(|l| l.ok()).filter(|l| self.read(l)).count()
    }

    /// After `verify`: the in-flight write may or may not have landed; adopt what the store says.
    pub fn settle(&mut self, dir: &Path) {
        let Some((id, state)) = self.in_flight.take() else { return };
        if let State::Live(v) = state {
            self.next_version = self.next_version.max(v + 1);
        }
        let store = Store::open(dir).unwrap();
        let got = store.collection("c").ok().and_then(|c| c.get(&ItemId::Int(id)));
        let state = got.map_or(State::Deleted, |i| State::Live(i.payload["v"].as_i64().unwrap()));
        self.expected.insert(id, state);
    }

    /// Reopens the store and checks it against the history: every acknowledged write is there,
    /// nothing else is (but the write in flight), the text index and the vector index agree with
    /// the items, and `check` finds no damage.
    pub fn verify(&self, dir: &Path, cycle: &str) {
        let store = Store::open(dir).unwrap();
        // A kill leaves at most a torn tail, which is no damage.
        if store.names().unwrap().contains(&"c".to_string()) {
            let check = store.check("c").unwrap();
            assert!(!check.damaged(), "{cycle}: {check:?}");
        }
        let Ok(c) = store.collection("c") else {
            assert!(self.expected.is_empty(), "{cycle}: collection lost");
            return;
        };
        let mut live = 0;
        for id in 0..IDS {
            let got = c.get(&ItemId::Int(id)).map(|i| {
                assert_eq!(i.vector.len(), DIM);
                State::Live(i.payload["v"].as_i64().unwrap())
            });
            let got = got.unwrap_or(State::Deleted);
            let want = self.expected.get(&id).copied().unwrap_or(State::Deleted);
            let allowed = got == want || self.in_flight.is_some_and(|(fid, fstate)| fid == id && fstate == got);
            assert!(
                allowed,
                "{cycle}: item {id} is {got:?}, acknowledged state {want:?}, in flight {:?}",
                self.in_flight
            );
            if got != State::Deleted {
                live += 1;
            }
            // The text index agrees: the item's own term finds it alone, and only while it
            // lives; its version's term finds it, an older version's does not.
            let by_term = |term: &str| -> Vec<ItemId> {
                let params = SearchParams { k: 10, ..Default::default() };
                c.search_text(term, &params).unwrap().into_iter().map(|h| h.id).collect()
            };
            let own = by_term(&format!("item{id}"));
            match got {
                State::Live(v) => {
                    assert_eq!(own, [ItemId::Int(id)], "{cycle}: text search for live item {id}");
                    assert_eq!(by_term(&format!("v{v}")), [ItemId::Int(id)], "{cycle}: version {v} of {id}");
                }
                State::Deleted => assert!(own.is_empty(), "{cycle}: deleted item {id} found by text: {own:?}"),
            }
        }
        assert_eq!(c.count(), live, "{cycle}: count disagrees with items");
        // The index agrees with storage: an exact search over everything returns every live item.
        let hits = c.search(&vector(1), &SearchParams { k: IDS as usize, exact: true, ..Default::default() }).unwrap();
        assert_eq!(hits.len(), live, "{cycle}: index and storage disagree");
        let approx = c.search(&vector(1), &SearchParams { k: 5, ..Default::default() }).unwrap();
        assert_eq!(approx.len(), live.min(5));
    }
}
