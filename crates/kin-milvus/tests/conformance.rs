//! One conformance suite for every storage backend: the embedded store and Milvus (a real
//! server: `KIN_TEST_MILVUS=HOST:PORT`, which `scripts/test.sh` starts, or a `milvus-lite server` this
//! suite starts itself). Then what only Milvus needs: a restart in the middle of an ingest,
//! pymilvus reading what kin wrote, and clear errors for bad servers and foreign collections.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use kin_core::filter::Filter;
use kin_core::Metric;
use kin_core::Modality;
use kin_milvus::{MilvusBackend, MilvusTarget};
use kin_store::{Backend, CollectionConfig, Error, IndexKind, Item, ItemId, SearchParams, SpaceConfig, Store};
use serde_json::{json, Value};

#[path = "conformance/milvus_only.rs"]
mod milvus_only;
#[path = "conformance/text.rs"]
mod text;

/// A `milvus-lite server` of this test run, on a free port, stopped when dropped.
struct LiteServer {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl LiteServer {
    fn start(dir: &Path, port: Option<u16>) -> LiteServer {
        let port = port.unwrap_or_else(|| TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
        // `timeout` bounds the server's life even if this process dies without dropping it.
        let child = Command::new("timeout")
            .args(["1800", "milvus-lite", "server", "--data-dir"])
            .arg(dir)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("milvus-lite runs (`pip install milvus-lite pymilvus`; scripts/test.sh installs them)");
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "milvus-lite did not start on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        LiteServer { child, port, dir: dir.to_path_buf() }
    }

    fn url(&self) -> String {
        format!("milvus://127.0.0.1:{}", self.port)
    }

    fn kill(&mut self) {
        let _ =
            Command::new("pkill").args(["-KILL", "-f", &format!("milvus-lite server .*port {}", self.port)]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LiteServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The Milvus server the suite shares: `scripts/test.sh`'s, or one started here.
fn milvus_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(addr) = std::env::var("KIN_TEST_MILVUS") {
            return format!("milvus://{addr}");
        }
        let dir = tempfile::tempdir().unwrap().keep();
        let server = LiteServer::start(&dir, None);
        let url = server.url();
        std::mem::forget(server); // lives for the test run; `timeout` ends it
        url
    })
    .clone()
}

fn milvus() -> MilvusBackend {
    MilvusBackend::connect(&MilvusTarget::parse(&milvus_url()).unwrap()).unwrap()
}

/// A collection name no other test (or earlier run) uses.
fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() % 1_000_000_000;
    format!("{prefix}_{t}_{}", N.fetch_add(1, Ordering::Relaxed))
}

/// One backend under test: its name, the backend, a fresh collection, and the embedded store's folder.
type Side = (&'static str, Arc<dyn Backend>, Arc<dyn kin_store::CollectionWrite>, tempfile::TempDir);

/// Both backends, each with a fresh collection made from `config`.
fn both(config: &CollectionConfig) -> Vec<Side> {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Backend> = Arc::new(Store::open(dir.path()).unwrap());
    let mut cfg = config.clone();
    cfg.name = unique(&config.name);
    let a = store.create(cfg.clone()).unwrap();
    let m: Arc<dyn Backend> = Arc::new(milvus());
    let b = m.create(cfg).unwrap();
    vec![("embedded", store, a, dir), ("milvus", m, b, tempfile::tempdir().unwrap())]
}

/// Both backends, and on each a mixed collection's space as a side of its own: the collection's
/// settings are space `main`, and its other space already holds vectors of its own under the
/// same ids (a space's reads, searches, scans and deletes never see the other's).
fn with_mixed(config: &CollectionConfig) -> Vec<Side> {
    let mut sides = both(config);
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Backend> = Arc::new(Store::open(dir.path()).unwrap());
    sides.push(mixed_side("embedded, one space of a mixed collection", store, config, dir));
    let m: Arc<dyn Backend> = Arc::new(milvus());
    sides.push(mixed_side("milvus, one space of a mixed collection", m, config, tempfile::tempdir().unwrap()));
    sides
}

fn mixed_side(
    label: &'static str,
    backend: Arc<dyn Backend>,
    config: &CollectionConfig,
    dir: tempfile::TempDir,
) -> Side {
    let name = unique(&config.name);
    let main = SpaceConfig {
        settings: CollectionConfig { name: "main".into(), model: Some("main-model".into()), ..config.clone() },
        accepts: vec![Modality::Text],
        ingests: vec![Modality::Text],
    };
    let other = SpaceConfig {
        settings: CollectionConfig { model: Some("other-model".into()), ..CollectionConfig::new("other", 3) },
        accepts: vec![Modality::Image],
        ingests: vec![Modality::Image],
    };
    backend.create(CollectionConfig::mixed(&name, vec![main, other])).unwrap();
    let noise: Vec<Item> =
        (0..40).map(|i| Item::new(i, vec![1.0, i as f32, 2.0]).with_payload(json!({"n": i}))).collect();
    backend.space(&name, "other").unwrap().upsert(noise).unwrap();
    let c = backend.space(&name, "main").unwrap();
    (label, backend, c, dir)
}

/// A deterministic pseudo-random generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.next()).collect()
    }
}

fn payload_of(i: i64) -> Value {
    let mut p = json!({
        "n": i,
        "half": if i % 2 == 0 { "even" } else { "odd" },
        "score": (i % 10) as f64 / 2.0,
        "tags": [format!("t{}", i % 3), format!("u{}", i % 5)],
        "meta": {"group": i % 4},
    });
    if i % 7 == 0 {
        p.as_object_mut().unwrap().remove("score");
    }
    p
}

fn dataset(n: i64, dim: usize, seed: u64) -> Vec<Item> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let id = if i % 3 == 0 { ItemId::Str(format!("doc-{i}")) } else { ItemId::Int(i) };
            Item {
                id,
                vector: rng.vector(dim),
                payload: payload_of(i),
                source: Some(format!("src/{i}")),
                content_hash: Some(format!("h{i}")),
            }
        })
        .collect()
}

#[test]
fn collections_are_created_listed_described_and_dropped_alike() {
    let cfg = CollectionConfig { model: Some("all-MiniLM-L6-v2".into()), ..CollectionConfig::new("life", 8) };
    for (name, backend, c, _dir) in both(&cfg) {
        assert_eq!(c.config().dim, 8, "{name}");
        assert_eq!(c.config().model.as_deref(), Some("all-MiniLM-L6-v2"), "{name}");
        assert!(backend.names().unwrap().contains(&c.name().to_string()), "{name}");
        let again = backend.collection(c.name()).unwrap();
        assert_eq!(again.config(), c.config(), "{name}: the settings survive");
        assert!(matches!(backend.create(c.config().clone()), Err(Error::CollectionExists(_))), "{name}");
        assert!(
            matches!(backend.collection("no_such_collection_here"), Err(Error::UnknownCollection { .. })),
            "{name}"
        );
        assert!(matches!(c.check_model("all-mpnet-base-v2"), Err(Error::ModelMismatch { .. })), "{name}");
        backend.drop_collection(c.name()).unwrap();
        assert!(!backend.names().unwrap().contains(&c.name().to_string()), "{name}");
    }
}

#[test]
fn items_are_written_read_replaced_and_deleted_alike() {
    let cfg = CollectionConfig { metric: Metric::L2, ..CollectionConfig::new("items", 4) };
    for (name, _backend, c, _dir) in with_mixed(&cfg) {
        let items = dataset(30, 4, 7);
        c.upsert(items.clone()).unwrap();
        assert_eq!(c.count().unwrap(), 30, "{name}");
        for item in &items {
            assert_eq!(c.get(&item.id).unwrap().as_ref(), Some(item), "{name}: {}", item.id);
        }
        assert!(c.has_content(&ItemId::Int(1), "h1").unwrap(), "{name}");
        assert!(!c.has_content(&ItemId::Int(1), "h2").unwrap(), "{name}");
        assert!(c.get(&ItemId::Str("1".into())).unwrap().is_none(), "{name}: string \"1\" is not integer 1");
        let replaced = Item::new(1, vec![9.0, 9.0, 9.0, 9.0]).with_payload(json!({"new": true}));
        c.upsert(vec![replaced.clone()]).unwrap();
        assert_eq!(c.get(&ItemId::Int(1)).unwrap().unwrap().payload, json!({"new": true}), "{name}");
        assert_eq!(c.count().unwrap(), 30, "{name}");
        let gone = c.delete(&[ItemId::Int(1), ItemId::Str("doc-3".into()), ItemId::Int(999)]).unwrap();
        assert_eq!(gone, 2, "{name}");
        assert_eq!(c.count().unwrap(), 28, "{name}");
        assert!(c.get(&ItemId::Str("doc-3".into())).unwrap().is_none(), "{name}");

        // Bad batches are refused whole, with the same errors.
        let bad = vec![Item::new(100, vec![1.0; 4]), Item::new(101, vec![1.0; 3])];
        assert!(matches!(c.upsert(bad), Err(Error::DimensionMismatch { expected: 4, got: 3, .. })), "{name}");
        assert!(c.get(&ItemId::Int(100)).unwrap().is_none(), "{name}: nothing of a refused batch is written");
        assert!(
            matches!(c.upsert(vec![Item::new(5, vec![f32::NAN, 0.0, 0.0, 0.0])]), Err(Error::NonFinite { .. })),
            "{name}"
        );
        assert!(matches!(c.search(&[1.0; 3], &SearchParams::default()), Err(Error::QueryDimension { .. })), "{name}");

        // A scan visits every item once.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = c.scan(cursor.as_deref(), 7).unwrap();
            seen.extend(page.into_iter().map(|i| i.id));
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        seen.sort();
        let before = seen.len();
        seen.dedup();
        assert_eq!((before, seen.len()), (28, 28), "{name}");
    }
}

#[test]
fn a_mixed_collection_as_a_whole_counts_reads_scans_and_deletes_across_its_spaces_alike() {
    let space = |name: &str, dim, text: bool| SpaceConfig {
        settings: CollectionConfig {
            model: Some(format!("{name}-model")),
            text: text.then(kin_store::TextConfig::default),
            ..CollectionConfig::new(name, dim)
        },
        accepts: vec![if text { Modality::Text } else { Modality::Image }],
        ingests: vec![if text { Modality::Text } else { Modality::Image }],
    };
    let dir = tempfile::tempdir().unwrap();
    let backends: Vec<(&str, Arc<dyn Backend>)> =
        vec![("embedded", Arc::new(Store::open(dir.path()).unwrap())), ("milvus", Arc::new(milvus()))];
    for (name, backend) in backends {
        let config =
            CollectionConfig::mixed(unique("whole"), vec![space("words", 4, true), space("pictures.v2", 3, false)]);
        backend.create(config.clone()).unwrap();
        let words = backend.space(&config.name, "words").unwrap();
        let pictures = backend.space(&config.name, "pictures.v2").unwrap();
        let text = |i: i64| json!({"text": format!("word{i} common")});
        words
            .upsert((0..10).map(|i| Item::new(i, vec![1.0, i as f32, 0.0, 1.0]).with_payload(text(i))).collect())
            .unwrap();
        let mut pics: Vec<Item> = (5..15).map(|i| Item::new(i, vec![i as f32, 1.0, 1.0])).collect();
        pics.push(Item { content_hash: Some("hs".into()), ..Item::new("s", vec![0.0, 0.0, 1.0]) });
        pictures.upsert(pics).unwrap();

        let whole = backend.collection(&config.name).unwrap();
        assert_eq!(whole.config(), &config, "{name}: the settings survive");
        assert_eq!(whole.count().unwrap(), 16, "{name}: an item in two spaces counts once");
        assert_eq!((words.count().unwrap(), pictures.count().unwrap()), (10, 11), "{name}");
        assert_eq!(whole.get(&ItemId::Int(7)).unwrap().unwrap().vector.len(), 4, "{name}: the first space's");
        assert_eq!(whole.get(&ItemId::Int(12)).unwrap().unwrap().vector.len(), 3, "{name}");
        assert!(whole.get(&ItemId::Int(99)).unwrap().is_none(), "{name}");
        assert!(whole.has_content(&ItemId::Str("s".into()), "hs").unwrap(), "{name}");
        assert!(pictures.get(&ItemId::Int(2)).unwrap().is_none(), "{name}: a space holds its own items only");
        assert!(matches!(whole.search(&[1.0; 4], &SearchParams::default()), Err(Error::SpaceNeeded { .. })), "{name}");
        assert!(matches!(whole.upsert(vec![Item::new(1, vec![1.0; 4])]), Err(Error::SpaceNeeded { .. })), "{name}");
        assert!(matches!(backend.space(&config.name, "sounds"), Err(Error::UnknownSpace { .. })), "{name}");
        assert!(
            matches!(pictures.search_text("word3", &SearchParams::default()), Err(Error::NoTextIndex { .. })),
            "{name}"
        );
        let found = words.search_text("word3", &SearchParams::default()).unwrap();
        assert_eq!(
            found.iter().map(|h| (&h.id, h.space.as_deref())).collect::<Vec<_>>(),
            [(&ItemId::Int(3), Some("words"))],
            "{name}"
        );
        let near =
            pictures.search(&[12.0, 1.0, 1.0], &SearchParams { k: 1, exact: true, ..Default::default() }).unwrap();
        assert_eq!((&near[0].id, near[0].space.as_deref()), (&ItemId::Int(12), Some("pictures.v2")), "{name}");

        // A scan of the whole visits each space's items once.
        let (mut seen, mut cursor) = (Vec::new(), None::<String>);
        loop {
            let (page, next) = whole.scan(cursor.as_deref(), 4).unwrap();
            seen.extend(page.into_iter().map(|i| (i.id, i.vector.len())));
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen.len(), 21, "{name}: {seen:?}");
        seen.dedup();
        assert_eq!(seen.len(), 21, "{name}");

        // A delete of the whole reaches every space; one of a space, that space only.
        assert_eq!(whole.delete(&[ItemId::Int(7), ItemId::Int(12), ItemId::Int(99)]).unwrap(), 2, "{name}");
        assert_eq!((words.count().unwrap(), pictures.count().unwrap()), (9, 9), "{name}");
        assert_eq!(pictures.delete(&[ItemId::Int(5), ItemId::Int(1)]).unwrap(), 1, "{name}");
        assert!(words.get(&ItemId::Int(5)).unwrap().is_some(), "{name}");
        assert_eq!(whole.count().unwrap(), 14, "{name}");
        backend.drop_collection(&config.name).unwrap();
    }
}

fn exact_ids(c: &dyn kin_store::CollectionRead, q: &[f32], k: usize, filter: Option<&Filter>) -> Vec<ItemId> {
    let params = SearchParams { k, ef: None, filter, exact: true };
    c.search(q, &params).unwrap().into_iter().map(|h| h.id).collect()
}

#[test]
fn exact_top_k_is_identical_for_every_metric_and_filter() {
    let filters = [
        "half == 'even'",
        "half != 'even'",
        "score >= 2.5",
        "score < 1 or n > 40",
        "not (score < 1)",
        "tags == 't1'",
        "tags != 't1'",
        "half in ['odd', 'none']",
        "meta.group not in [0, 1]",
        "exists(score) and meta.group == 2",
        "not exists(score)",
        "n == 3.0",
        "missing == 1",
        "missing != 1",
        "half in []",
        "half like 'ev%'",
        "half LIKE 'o_d' AND n > 100",
        "half not like 'e%'",
        "tags like 't1'",
        "tags like 'u%' and tags like '%4'",
        "tags[0] == 't1'",
        "tags[1] like 'u_' and meta['group'] == 2",
        "array_contains(tags, 't2')",
        "array_contains_all(tags, ['t0', 'u0'])",
        "ARRAY_CONTAINS_ANY(tags, ['t0', 'u4'])",
        "not array_contains_any(tags, [])",
        "array_length(tags) == 2 and array_length(tags) != 3",
        "array_length(tags) > 2",
        "array_length(meta) == 0",
        "array_contains(missing, 1) or array_length(missing) < 1",
        "array_length(tags) <= 1 or array_length(tags) != 2",
        "tags[5] == 'x' or half[0] == 'e'",
        r"half like 'o\\d%' or half like 'e_e%'",
    ];
    for metric in [Metric::L2, Metric::Cosine, Metric::Dot] {
        let cfg = CollectionConfig { metric, index: IndexKind::Flat, ..CollectionConfig::new("exact", 16) };
        let sides = with_mixed(&cfg);
        let data = dataset(300, 16, 42);
        for (_, _, c, _) in &sides {
            c.upsert(data.clone()).unwrap();
        }
        let mut rng = Rng(99);
        for q in 0..10 {
            let query = rng.vector(16);
            let a = exact_ids(&*sides[0].2, &query, 10, None);
            let b = exact_ids(&*sides[1].2, &query, 10, None);
            assert_eq!(a, b, "{metric:?}, query {q}");
            for side in &sides[2..] {
                assert_eq!(a, exact_ids(&*side.2, &query, 10, None), "{metric:?}, query {q}: {}", side.0);
            }
            let scores_a: Vec<f32> = sides[0]
                .2
                .search(&query, &SearchParams { k: 3, exact: true, ..Default::default() })
                .unwrap()
                .iter()
                .map(|h| h.score)
                .collect();
            let scores_b: Vec<f32> = sides[1]
                .2
                .search(&query, &SearchParams { k: 3, exact: true, ..Default::default() })
                .unwrap()
                .iter()
                .map(|h| h.score)
                .collect();
            for (x, y) in scores_a.iter().zip(&scores_b) {
                assert!((x - y).abs() <= 1e-4 * x.abs().max(1.0), "{metric:?}: scores {scores_a:?} vs {scores_b:?}");
            }
        }
        for text in filters {
            let filter = Filter::parse(text).unwrap();
            let query = rng.vector(16);
            let a = exact_ids(&*sides[0].2, &query, 10, Some(&filter));
            let b = exact_ids(&*sides[1].2, &query, 10, Some(&filter));
            assert_eq!(a, b, "{metric:?}, filter {text}");
            for side in &sides[2..] {
                assert_eq!(a, exact_ids(&*side.2, &query, 10, Some(&filter)), "{metric:?}, filter {text}: {}", side.0);
            }
            let matching = data.iter().filter(|i| filter.matches(&i.payload)).count();
            assert_eq!(a.len(), matching.min(10), "{metric:?}, filter {text}");
        }
    }
}

#[test]
fn approximate_recall_at_10_is_at_least_0_95_on_both() {
    let cfg = CollectionConfig { metric: Metric::Cosine, ..CollectionConfig::new("ann", 32) };
    let sides = with_mixed(&cfg);
    let data = dataset(2000, 32, 5);
    for (_, _, c, _) in &sides {
        for chunk in data.chunks(500) {
            c.upsert(chunk.to_vec()).unwrap();
        }
    }
    for (name, _, c, _) in &sides {
        let mut rng = Rng(11);
        let (mut found, mut total) = (0, 0);
        for _ in 0..50 {
            let q = rng.vector(32);
            let truth = exact_ids(&**c, &q, 10, None);
            let approx: Vec<ItemId> = c
                .search(&q, &SearchParams { k: 10, ..Default::default() })
                .unwrap()
                .into_iter()
                .map(|h| h.id)
                .collect();
            found += approx.iter().filter(|id| truth.contains(id)).count();
            total += truth.len();
        }
        let recall = found as f64 / total as f64;
        eprintln!("{name}: recall@10 = {recall:.3}");
        assert!(recall >= 0.95, "{name}: recall@10 {recall}");
    }
}
