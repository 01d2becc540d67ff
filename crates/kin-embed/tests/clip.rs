//! CLIP against transformers' `CLIPModel`: small randomly initialised checkpoints with the real
//! layout, made by `scripts/golden/make_clip_golden.py`. A full-size random
//! `openai/clip-vit-base-patch32` is checked too when `KIN_TEST_CLIP_FULL_DIR` names one.

use std::path::{Path, PathBuf};

use kin_embed::{ClipModel, Embedder};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    texts: Vec<String>,
    ids: Vec<Vec<u32>>,
    dim: usize,
    image_size: usize,
    images: usize,
    #[serde(default)]
    files: Vec<String>,
}

fn golden_dir(variant: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/clip").join(variant)
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// Checks token ids, text vectors and image vectors of one golden folder; returns the lowest cosine.
fn check(dir: &Path, min_cos: f64) -> f64 {
    let golden: Golden = serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap();
    let model = ClipModel::load(dir, "clip-test").unwrap();
    assert_eq!(model.dim(), golden.dim);
    assert_eq!(model.image_size(), golden.image_size);

    let texts: Vec<&str> = golden.texts.iter().map(String::as_str).collect();
    let ids = model.tokenize(&texts).unwrap();
    for (i, (got, want)) in ids.iter().zip(&golden.ids).enumerate() {
        assert_eq!(got, want, "token ids of text {i} {:?}", texts[i]);
    }

    let mut worst = 1.0f64;
    let want = read_f32(&dir.join("text.f32"));
    let got = model.embed_text(&texts).unwrap();
    for (i, (g, w)) in got.iter().zip(want.chunks_exact(golden.dim)).enumerate() {
        let norm: f32 = g.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "text {i}: not normalised ({norm})");
        let c = cosine(g, w);
        assert!(c >= min_cos, "text {i} {:?}: cosine {c:.9}", texts[i]);
        worst = worst.min(c);
    }

    // One at a time equals batched.
    for (i, text) in texts.iter().enumerate().step_by(5) {
        let single = model.embed_text(&[text]).unwrap();
        assert!(cosine(&single[0], &got[i]) >= 0.999999, "text {i}: single differs from batched");
    }

    let pixels = read_f32(&dir.join("pixels.f32"));
    let want = read_f32(&dir.join("image.f32"));
    let got = model.embed_pixel_data(&pixels, golden.images).unwrap();
    assert_eq!(got.len(), golden.images);
    for (i, (g, w)) in got.iter().zip(want.chunks_exact(golden.dim)).enumerate() {
        let c = cosine(g, w);
        assert!(c >= min_cos, "image {i}: cosine {c:.9}");
        worst = worst.min(c);
    }

    // Image files end to end: kin decodes and preprocesses, transformers used Pillow.
    let images_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kin-image/tests/golden/images");
    if !golden.files.is_empty() {
        let images: Vec<_> = golden
            .files
            .iter()
            .map(|f| kin_image::decode(&std::fs::read(images_dir.join(f)).unwrap(), &Default::default()).unwrap())
            .collect();
        let got = model.embed_image(&images).unwrap();
        let want = read_f32(&dir.join("files.f32"));
        for (i, (g, w)) in got.iter().zip(want.chunks_exact(golden.dim)).enumerate() {
            let c = cosine(g, w);
            assert!(c >= min_cos, "file {}: cosine {c:.9}", golden.files[i]);
            worst = worst.min(c);
        }
    }
    worst
}

#[test]
fn tiny_quick_gelu_with_legacy_eos_pooling_matches_transformers() {
    let worst = check(&golden_dir("tiny-quick"), 0.9999);
    println!("tiny-quick: min cosine {worst:.9}");
}

#[test]
fn tiny_gelu_with_eos_id_pooling_matches_transformers() {
    let worst = check(&golden_dir("tiny-gelu"), 0.9999);
    println!("tiny-gelu: min cosine {worst:.9}");
}

#[test]
fn many_images_run_in_parallel_batches_and_keep_their_order() {
    let dir = golden_dir("tiny-gelu");
    let golden: Golden = serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap();
    let model = ClipModel::load(&dir, "clip-test").unwrap();
    let pixels = read_f32(&dir.join("pixels.f32"));
    let per_image = pixels.len() / golden.images;
    // 20 images (more than one batch): image k is golden image k % 3.
    let many: Vec<f32> = (0..20).flat_map(|k| pixels[(k % 3) * per_image..(k % 3 + 1) * per_image].to_vec()).collect();
    let got = model.embed_pixel_data(&many, 20).unwrap();
    let want = model.embed_pixel_data(&pixels, golden.images).unwrap();
    for (k, v) in got.iter().enumerate() {
        assert!(cosine(v, &want[k % 3]) >= 0.999999, "image {k}");
    }
}

#[test]
fn a_checkpoint_without_weights_or_with_a_wrong_shape_is_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let src = golden_dir("tiny-gelu");
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), tmp.path().join(f)).unwrap();
    }
    let err = ClipModel::load(tmp.path(), "x").err().unwrap().to_string();
    assert!(err.contains("model.safetensors"), "{err}");

    // A config whose projection size disagrees with the tensors.
    std::fs::copy(src.join("model.safetensors"), tmp.path().join("model.safetensors")).unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    cfg["projection_dim"] = serde_json::json!(25);
    std::fs::write(tmp.path().join("config.json"), cfg.to_string()).unwrap();
    let err = ClipModel::load(tmp.path(), "x").err().unwrap().to_string();
    assert!(err.contains("text_projection") && err.contains("25"), "{err}");
}

#[test]
#[ignore = "needs KIN_TEST_CLIP_FULL_DIR from make_clip_golden.py --full"]
fn full_size_clip_vit_base_patch32_matches_transformers() {
    let dir = PathBuf::from(std::env::var("KIN_TEST_CLIP_FULL_DIR").expect("KIN_TEST_CLIP_FULL_DIR"));
    let worst = check(&dir, 0.9999);
    println!("full-size clip-vit-base-patch32: min cosine {worst:.9}");
}
