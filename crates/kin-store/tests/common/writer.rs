//! The crash tests' writer and checker: a child process upserts and deletes items of a
//! collection with a text index, and replaces documents (a document's chunks deleted and its new
//! ones written as one change, as `kin add` does), printing `begin` before each write and `ack`
//! after it; the parent reads those lines, kills the child (or has it killed at a fault point),
//! and checks the reopened collection against what was acknowledged.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use kin_store::{CollectionConfig, Item, ItemId, SearchParams, Store, TextConfig};
use serde_json::json;

pub const DIM: usize = 8;
pub const IDS: i64 = 200;
/// Documents replaced whole: document `d`'s chunks are items `DOCS_FROM + d * 10 + j`.
const DOCS: i64 = 20;
const DOCS_FROM: i64 = 1000;

/// Every id the writer may write: single items, then the documents' chunks.
pub fn all_ids() -> impl Iterator<Item = i64> {
    (0..IDS).chain((0..DOCS).flat_map(|d| (0..10).map(move |j| DOCS_FROM + d * 10 + j)))
}

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
        if v % 7 == 3 {
            // Document `d` gets 1 to 4 new chunks; all ten of its ids are deleted in the same
            // change, so the old chunks past the new count go.
            let d = id % DOCS;
            let chunks = 1 + v % 4;
            let ids: Vec<i64> = (0..10).map(|j| DOCS_FROM + d * 10 + j).collect();
            writeln!(out, "begin R {} {v} {chunks}", ids[0]).unwrap();
            out.flush().unwrap();
            let items = ids[..chunks as usize]
                .iter()
                .map(|&c| {
                    Item::new(c, vector(v)).with_payload(json!({ "v": v, "text": format!("item{c} version v{v}") }))
                })
                .collect();
            let delete: Vec<ItemId> = ids.iter().map(|&c| ItemId::Int(c)).collect();
            c.replace(&delete, items).unwrap();
            writeln!(out, "ack R {} {v} {chunks}", ids[0]).unwrap();
        } else if v % 5 == 0 {
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
    /// The write begun and not acknowledged when the writer died: it may or may not be there,
    /// all of it (a document's chunks) or none.
    pub in_flight: Vec<(i64, State)>,
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
        let Some(at) = words.iter().rposition(|w| *w == "begin" || *w == "ack") else { return false };
        let numbers: Vec<i64> = words.get(at + 2..).unwrap_or_default().iter().filter_map(|w| w.parse().ok()).collect();
        let change: Vec<(i64, State)> = match (words.get(at + 1).copied(), &numbers[..]) {
            (Some("U"), &[id, v]) => vec![(id, State::Live(v))],
            (Some("D"), &[id, _]) => vec![(id, State::Deleted)],
            // A document's ten ids from the first: the new chunks live, the rest deleted.
            (Some("R"), &[first, v, chunks]) => {
                (0..10).map(|j| (first + j, if j < chunks { State::Live(v) } else { State::Deleted })).collect()
            }
            _ => return false,
        };
        let v = numbers[1];
        if words[at] == "begin" {
            self.in_flight = change;
            return false;
        }
        self.expected.extend(change);
        self.in_flight.clear();
        self.next_version = v + 1;
        true
    }

    /// Reads every line of a writer's output until it ends; returns the acknowledgements.
    pub fn read_all(&mut self, output: impl BufRead) -> usize {
        output.lines().map_while(|l| l.ok()).filter(|l| self.read(l)).count()
    }

    /// After `verify`: the in-flight write may or may not have landed; adopt what the store says.
    pub fn settle(&mut self, dir: &Path) {
        let flight = std::mem::take(&mut self.in_flight);
        let store = Store::open(dir).unwrap();
        let c = store.collection("c").ok();
        for (id, state) in flight {
            if let State::Live(v) = state {
                self.next_version = self.next_version.max(v + 1);
            }
            let got = c.as_ref().and_then(|c| c.get(&ItemId::Int(id)));
            let state = got.map_or(State::Deleted, |i| State::Live(i.payload["v"].as_i64().unwrap()));
            self.expected.insert(id, state);
        }
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
        let state_of = |id: i64| {
            let got = c.get(&ItemId::Int(id)).map(|i| {
                assert_eq!(i.vector.len(), DIM);
                State::Live(i.payload["v"].as_i64().unwrap())
            });
            got.unwrap_or(State::Deleted)
        };
        // The write in flight landed whole or not at all.
        let landed = self.in_flight.iter().all(|&(id, state)| state_of(id) == state);
        let by_term = |term: &str| -> Vec<ItemId> {
            let params = SearchParams { k: 50, ..Default::default() };
            let mut found: Vec<ItemId> = c.search_text(term, &params).unwrap().into_iter().map(|h| h.id).collect();
            found.sort_by_key(|id| id.to_string());
            found
        };
        let mut at_version: HashMap<i64, Vec<ItemId>> = HashMap::new();
        for id in all_ids() {
            let got = state_of(id);
            let want = self.expected.get(&id).copied().unwrap_or(State::Deleted);
            let flying = landed && self.in_flight.contains(&(id, got));
            assert!(
                got == want || flying,
                "{cycle}: item {id} is {got:?}, acknowledged state {want:?}, in flight {:?}",
                self.in_flight
            );
            // The text index agrees: the item's own term finds it alone, and only while it lives.
            let own = by_term(&format!("item{id}"));
            match got {
                State::Live(v) => {
                    assert_eq!(own, [ItemId::Int(id)], "{cycle}: text search for live item {id}");
                    at_version.entry(v).or_default().push(ItemId::Int(id));
                }
                State::Deleted => assert!(own.is_empty(), "{cycle}: deleted item {id} found by text: {own:?}"),
            }
        }
        // A version's term finds the items at that version (a document's chunks share one), and
        // no older version of them.
        for (v, ids) in &mut at_version {
            ids.sort_by_key(|id| id.to_string());
            assert_eq!(&by_term(&format!("v{v}")), ids, "{cycle}: text search for version {v}");
        }
        let live = at_version.values().map(Vec::len).sum::<usize>();
        assert_eq!(c.count(), live, "{cycle}: count disagrees with items");
        // The index agrees with storage: an exact search over everything returns every live item.
        let hits = c.search(&vector(1), &SearchParams { k: live + 10, exact: true, ..Default::default() }).unwrap();
        assert_eq!(hits.len(), live, "{cycle}: index and storage disagree");
        let approx = c.search(&vector(1), &SearchParams { k: 5, ..Default::default() }).unwrap();
        assert_eq!(approx.len(), live.min(5));
    }
}
