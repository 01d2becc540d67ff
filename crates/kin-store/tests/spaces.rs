//! Mixed collections: several named vector spaces, each with its own model, dimension and
//! index, behind one log. Items of one id may live in several spaces; a write across spaces is
//! one frame, so a crash keeps all of it or none of it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kin_core::Modality;
use kin_store::{Backend, CollectionConfig, Error, Item, ItemId, SearchParams, SpaceConfig, Store, TextConfig};
use serde_json::json;

fn space(name: &str, model: &str, dim: usize, accepts: &[Modality], ingests: &[Modality]) -> SpaceConfig {
    SpaceConfig {
        settings: CollectionConfig { model: Some(model.into()), ..CollectionConfig::new(name, dim) },
        accepts: accepts.to_vec(),
        ingests: ingests.to_vec(),
    }
}

fn mixed(name: &str) -> CollectionConfig {
    let mut text = space("text", "text-model", 3, &[Modality::Text], &[Modality::Text]);
    text.settings.text = Some(TextConfig { fields: vec!["text".into()], ..TextConfig::default() });
    let image = space("image", "image-model", 2, &[Modality::Text, Modality::Image], &[Modality::Image]);
    CollectionConfig::mixed(name, vec![text, image])
}

#[test]
fn each_space_keeps_its_own_vectors_and_the_collection_spans_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let c = store.create(mixed("m")).unwrap();
    let text = Backend::space(&store, "m", "text").unwrap();
    let image = Backend::space(&store, "m", "image").unwrap();
    assert_eq!((text.config().dim, image.config().dim), (3, 2));
    assert_eq!(text.config().name, "m:text");

    text.upsert(vec![
        Item::new("a.txt", vec![1.0, 0.0, 0.0]).with_payload(json!({"text": "red apples", "lang": "en"})),
        Item::new("b.txt", vec![0.0, 1.0, 0.0]).with_payload(json!({"text": "green pears", "lang": "fr"})),
    ])
    .unwrap();
    image.upsert(vec![Item::new("p.jpg", vec![1.0, 0.0]), Item::new("b.txt", vec![0.0, 1.0])]).unwrap();
    // A vector of the wrong space's dimension is refused by name.
    let err = image.upsert(vec![Item::new("x", vec![1.0, 0.0, 0.0])]).unwrap_err();
    assert!(matches!(err, Error::DimensionMismatch { expected: 2, got: 3, .. }), "{err}");

    // One id in two spaces is one item of the collection.
    assert_eq!(c.count(), 3);
    assert_eq!((text.count().unwrap(), image.count().unwrap()), (2, 2));
    let hits = image.search(&[1.0, 0.1], &SearchParams::default()).unwrap();
    assert_eq!(hits[0].id, ItemId::from("p.jpg"));
    assert_eq!(hits[0].space.as_deref(), Some("image"));
    let hits = text.search_text("apples", &SearchParams::default()).unwrap();
    assert_eq!(hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>(), [ItemId::from("a.txt")]);
    let filter = kin_core::filter::Filter::parse("lang == \"fr\"").unwrap();
    let params = SearchParams { filter: Some(&filter), ..Default::default() };
    assert_eq!(text.search(&[1.0, 0.0, 0.0], &params).unwrap()[0].id, ItemId::from("b.txt"));

    // The collection itself asks which space a vector search means.
    let err = c.search(&[1.0, 0.0], &SearchParams::default()).unwrap_err();
    assert!(err.to_string().contains("text, image"), "{err}");
    let err = Backend::space(&store, "m", "audio").err().unwrap();
    assert!(matches!(err, Error::UnknownSpace { .. }) && err.to_string().contains("audio"), "{err}");

    // Deleting from the collection deletes from every space; from a space, from it alone.
    assert_eq!(c.delete(&[ItemId::from("b.txt")]).unwrap(), 1);
    assert_eq!((text.count().unwrap(), image.count().unwrap()), (1, 1));
    image.upsert(vec![Item::new("a.txt", vec![0.5, 0.5])]).unwrap();
    assert_eq!(image.delete(&[ItemId::from("a.txt")]).unwrap(), 1);
    assert!(text.get(&ItemId::from("a.txt")).unwrap().is_some());

    // Scans visit every space, and reopening (from the log, then from snapshots) keeps it all.
    let scan_all = |c: &dyn kin_store::CollectionRead| {
        let (mut ids, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let (items, next) = c.scan(cursor.as_deref(), 1).unwrap();
            ids.extend(items.into_iter().map(|i| (i.id, i.vector.len())));
            match next {
                Some(n) => cursor = Some(n),
                None => return ids,
            }
        }
    };
    let before = scan_all(&*c);
    assert_eq!(before, [(ItemId::from("a.txt"), 3), (ItemId::from("p.jpg"), 2)]);
    drop((c, text, image, store));
    for round in 0..2 {
        let store = Store::open(dir.path()).unwrap();
        let c = store.collection("m").unwrap();
        assert_eq!(scan_all(&*c), before, "round {round}");
        let text = Backend::space(&store, "m", "text").unwrap();
        assert_eq!(text.search_text("apples", &SearchParams::default()).unwrap().len(), 1);
        c.snapshot().unwrap();
    }
    assert!(dir.path().join("collections/m/spaces/image/snapshot.bin").exists());
}

#[test]
fn a_write_across_spaces_is_one_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let c = store.create(mixed("m")).unwrap();
    // A bad item in one space refuses the items of the other too.
    let err = c
        .upsert_spaces(vec![(0, vec![Item::new("v", vec![1.0, 0.0, 0.0])]), (1, vec![Item::new("v", vec![0.0, 0.0])])])
        .unwrap_err();
    assert!(matches!(err, Error::ZeroVector { .. }), "{err}");
    assert_eq!(c.count(), 0);
    c.upsert_spaces(vec![(0, vec![Item::new("v", vec![1.0, 0.0, 0.0])]), (1, vec![Item::new("v", vec![0.0, 1.0])])])
        .unwrap();
    let log = dir.path().join("collections/m/wal.log");
    let frames = std::fs::read(&log).unwrap();
    let first_len = u32::from_le_bytes(frames[0..4].try_into().unwrap()) as usize + 8;
    assert_eq!(first_len, frames.len(), "one frame for both spaces");
}

#[test]
fn bad_space_declarations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut twice = mixed("m");
    twice.spaces[1].ingests = vec![Modality::Text];
    let err = store.create(twice).err().unwrap().to_string();
    assert!(err.contains("both take text content"), "{err}");
    let mut unread = mixed("m");
    unread.spaces[0].ingests = vec![Modality::Audio];
    let err = store.create(unread).err().unwrap().to_string();
    assert!(err.contains("does not read"), "{err}");
    let mut named = mixed("m");
    named.spaces[1].settings.name = "text".into();
    assert!(store.create(named).err().unwrap().to_string().contains("declared twice"));
    assert!(store.names().unwrap().is_empty());
}

#[test]
fn a_collection_of_a_later_format_is_refused_and_one_model_collections_keep_their_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.create(CollectionConfig::new("plain", 2)).unwrap();
    store.create(mixed("m")).unwrap();
    drop(store);
    let settings = |name: &str| dir.path().join("collections").join(name).join("collection.json");
    let plain: serde_json::Value = serde_json::from_slice(&std::fs::read(settings("plain")).unwrap()).unwrap();
    assert!(plain.get("format").is_none() && plain.get("spaces").is_none(), "{plain}");
    let mut later: serde_json::Value = serde_json::from_slice(&std::fs::read(settings("m")).unwrap()).unwrap();
    assert_eq!(later["format"], 2);
    later["format"] = json!(3);
    std::fs::write(settings("m"), serde_json::to_vec(&later).unwrap()).unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = store.collection("m").err().unwrap().to_string();
    assert!(err.contains("format 3") && err.contains("later kin"), "{err}");
    assert!(store.collection("plain").is_ok());
}

/// Kill cycles: 30, or `KIN_CRASH_CYCLES` (`scripts/crash.sh` runs 1,000).
fn cycles() -> u64 {
    std::env::var("KIN_CRASH_CYCLES").ok().and_then(|c| c.parse().ok()).unwrap_or(30)
}
const IDS: i64 = 60;

/// The writer of `sigkill_during_writes_across_spaces`: every write puts one id in both spaces
/// (or deletes it from both); snapshots every 7 writes.
#[test]
fn spaces_crash_writer_child() {
    let Ok(dir) = std::env::var("KIN_SPACES_CRASH_DIR") else { return };
    let start: i64 = std::env::var("KIN_SPACES_CRASH_START").unwrap().parse().unwrap();
    let store = Store::open(Path::new(&dir)).unwrap();
    let c = match store.collection("m") {
        Ok(c) => c,
        Err(_) => store.create(mixed("m")).unwrap(),
    };
    let mut out = std::io::stdout().lock();
    for v in start.. {
        let id = ItemId::Int((v * 7919) % IDS);
        if v % 4 == 0 {
            writeln!(out, "begin D {id} {v}").unwrap();
            out.flush().unwrap();
            c.delete(std::slice::from_ref(&id)).unwrap();
        } else {
            writeln!(out, "begin U {id} {v}").unwrap();
            out.flush().unwrap();
            let payload = json!({ "v": v, "text": format!("v{v}") });
            let text = Item { id: id.clone(), payload: payload.clone(), ..Item::new(0, vec![1.0, v as f32, 2.0]) };
            let image = Item { id: id.clone(), payload, ..Item::new(0, vec![v as f32, 1.0]) };
            c.upsert_spaces(vec![(0, vec![text]), (1, vec![image])]).unwrap();
        }
        writeln!(out, "ack {} {id} {v}", if v % 4 == 0 { "D" } else { "U" }).unwrap();
        out.flush().unwrap();
        if v % 7 == 0 {
            c.snapshot().unwrap();
        }
    }
}

#[test]
fn sigkill_during_writes_across_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut expected: HashMap<i64, Option<i64>> = HashMap::new();
    let mut next_version = 1i64;
    let mut rng = 0x2545_F491_4F6C_DD1Du64;
    for cycle in 0..cycles() {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let acks_before_kill = 3 + rng % 40;
        let mut child = Command::new(&exe)
            .args(["--exact", "spaces_crash_writer_child", "--nocapture", "--test-threads", "1"])
            .env("KIN_SPACES_CRASH_DIR", dir.path())
            .env("KIN_SPACES_CRASH_START", next_version.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (mut in_flight, mut acks, mut killed) = (None, 0, false);
        let deadline = Instant::now() + Duration::from_secs(30);
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let parts: Vec<&str> = line.split_whitespace().collect();
            if parts.len() == 4 {
                let (id, v): (i64, i64) = (parts[2].parse().unwrap(), parts[3].parse().unwrap());
                let state = (parts[1] == "U").then_some(v);
                if parts[0] == "begin" {
                    in_flight = Some((id, state));
                } else {
                    expected.insert(id, state);
                    in_flight = None;
                    next_version = v + 1;
                    acks += 1;
                }
            }
            if !killed && (acks >= acks_before_kill || Instant::now() > deadline) {
                child.kill().unwrap();
                killed = true;
            }
        }
        if !killed {
            child.kill().unwrap();
        }
        child.wait().unwrap();
        if let Some((_, Some(v))) = in_flight {
            next_version = next_version.max(v + 1);
        }
        let store = Store::open(dir.path()).unwrap();
        if store.names().unwrap().contains(&"m".to_string()) {
            let check = store.check("m").unwrap();
            assert!(!check.damaged(), "cycle {cycle}: {check:?}");
        }
        let Ok(c) = store.collection("m") else {
            assert!(expected.is_empty(), "cycle {cycle}: collection lost");
            continue;
        };
        let spaces = [Backend::space(&store, "m", "text").unwrap(), Backend::space(&store, "m", "image").unwrap()];
        for id in 0..IDS {
            let key = ItemId::Int(id);
            let versions: Vec<Option<i64>> =
                spaces.iter().map(|s| s.get(&key).unwrap().map(|i| i.payload["v"].as_i64().unwrap())).collect();
            assert_eq!(versions[0], versions[1], "cycle {cycle}: item {id} differs between spaces");
            let want = expected.get(&id).copied().flatten();
            let in_flight_here = in_flight.filter(|(f, _)| *f == id).map(|(_, s)| s);
            assert!(
                versions[0] == want || in_flight_here == Some(versions[0]),
                "cycle {cycle}: item {id} is {:?}, acknowledged {want:?}",
                versions[0]
            );
            if let Some(v) = versions[0] {
                let hits = spaces[0].search_text(&format!("v{v}"), &SearchParams::default()).unwrap();
                assert_eq!(
                    hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
                    std::slice::from_ref(&key),
                    "cycle {cycle}"
                );
            }
            if in_flight_here.is_some() {
                expected.insert(id, versions[0]);
            }
        }
        let live = expected.values().filter(|v| v.is_some()).count();
        assert_eq!(c.count(), live, "cycle {cycle}");
        for s in &spaces {
            let dim = s.config().dim;
            let exact = SearchParams { k: IDS as usize, exact: true, ..Default::default() };
            assert_eq!(s.search(&vec![1.0; dim], &exact).unwrap().len(), live, "cycle {cycle}: index and items");
        }
    }
}
