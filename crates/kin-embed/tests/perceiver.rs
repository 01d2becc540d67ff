//! The multimodal Perceiver's encoder against transformers' `PerceiverForMultimodalAutoencoding`
//! on a small random checkpoint in the real layout (`scripts/golden/make_perceiver_golden.py`).

use std::path::{Path, PathBuf};

use kin_embed::PerceiverEncoder;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/perceiver")
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path).unwrap().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

#[test]
fn mean_latent_matches_transformers() {
    let model = PerceiverEncoder::load(&dir()).unwrap();
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("golden.json")).unwrap()).unwrap();
    let want: Vec<f32> = golden["pooled"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let got = model.embed(&read_f32(&dir().join("video.f32")), &read_f32(&dir().join("audio.f32"))).unwrap();
    assert_eq!(got.len(), model.dim());
    let dot: f64 = got.iter().zip(&want).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let cosine = dot / (norm(&got) * norm(&want));
    println!("perceiver: cosine {cosine:.9}");
    assert!(cosine >= 0.9999, "cosine {cosine}");
    let err = model.embed(&[0.0; 5], &[0.0; 128]).unwrap_err().to_string();
    assert!(err.contains("2 frames of 3×16×16") && err.contains("got 5 pixel values"), "{err}");
}

#[test]
fn a_missing_tensor_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(dir().join("config.json"), tmp.path().join("config.json")).unwrap();
    let err = PerceiverEncoder::load(tmp.path()).err().unwrap().to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}
