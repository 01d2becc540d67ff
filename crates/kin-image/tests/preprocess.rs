//! kin-image against the reference pipelines: fixtures and expected outputs made by
//! `scripts/golden/make_image_preprocess_golden.py` (Pillow, transformers, torchvision).

use std::path::{Path, PathBuf};

use kin_image::{decode, preprocess, resize_and_crop, Image, ImageError, Limits, PreprocessConfig, ResizeTo};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Largest per-sample difference between kin's and Pillow's decoding of a lossy source (levels of 255),
/// and the largest mean difference. JPEG, zune-jpeg vs libjpeg-turbo: measured at most 5 levels, mean
/// 0.38, on colour 4:2:0 files (chroma upsampling); 1 level, mean 0.012, on grayscale and CMYK.
/// Lossy WebP, image-webp vs libwebp: identical.
const LOSSY_MAX_LEVELS: u8 = 6;
const LOSSY_MEAN_LEVELS: f64 = 0.5;
/// Largest difference in the final tensor for lossy sources: 6 levels over the smallest std (0.224)
/// is 0.105; measured 0.071.
const LOSSY_TENSOR_TOLERANCE: f32 = 0.11;
/// Tolerance on the final tensor when the decoded pixels agree.
const TENSOR_TOLERANCE: f32 = 1e-4;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(golden().join("manifest.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["sources"].as_array().unwrap().clone()
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(golden().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn kin_decode(rel: &str) -> Image {
    decode(&read(rel), &Limits::default()).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// What the reference pipelines started from: Pillow's decoded RGB (alpha already dropped).
fn pillow_decoded(src: &Value) -> Image {
    let img = match src["decoded"].as_str() {
        Some(rel) => kin_decode(rel),
        None => kin_decode(&format!("images/{}", src["file"].as_str().unwrap())),
    };
    Image { alpha: None, ..img }
}

fn pipelines() -> Vec<(&'static str, PreprocessConfig)> {
    let configs = golden().join("configs");
    vec![
        ("clip", PreprocessConfig::from_hf_file(configs.join("clip-vit-base-patch32.json")).unwrap()),
        ("convnext", PreprocessConfig::from_hf_file(configs.join("resnet-50.json")).unwrap()),
        ("torchvision", PreprocessConfig::torchvision_classification(256, 224)),
    ]
}

fn abs_diff(a: &[u8], b: &[u8]) -> (u8, f64) {
    assert_eq!(a.len(), b.len());
    let max = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0);
    let sum: u64 = a.iter().zip(b).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    (max, sum as f64 / a.len() as f64)
}

fn max_abs(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn decoding_matches_pillow() {
    let sources = manifest();
    assert!(sources.len() >= 12);
    for src in &sources {
        let file = src["file"].as_str().unwrap();
        let img = kin_decode(&format!("images/{file}"));
        let size = (u64::from(img.width), u64::from(img.height));
        assert_eq!(size, (src["width"].as_u64().unwrap(), src["height"].as_u64().unwrap()), "{file}");
        if src["lossy"].as_bool().unwrap() {
            let reference = pillow_decoded(src);
            let (max, mean) = abs_diff(&img.rgb, &reference.rgb);
            println!("{file}: kin vs Pillow decode, max {max} levels, mean {mean:.3}");
            assert!(max <= LOSSY_MAX_LEVELS && mean <= LOSSY_MEAN_LEVELS, "{file}: max {max}, mean {mean}");
        } else {
            assert_eq!(sha256(&img.rgb), src["rgb_sha256"].as_str().unwrap(), "{file}: RGB differs from Pillow");
        }
    }
}

#[test]
fn resize_and_crop_equal_every_pipeline_bit_for_bit() {
    let pipelines = pipelines();
    for src in manifest() {
        let file = src["file"].as_str().unwrap();
        let img = pillow_decoded(&src);
        assert_eq!(sha256(&img.rgb), src["rgb_sha256"].as_str().unwrap(), "{file}: decoded reference");
        for (name, cfg) in &pipelines {
            let case = &src["pipelines"][name];
            let out = resize_and_crop(&img, cfg);
            assert_eq!((u64::from(out.height), u64::from(out.width)), (224, 224), "{file} {name}");
            assert_eq!(sha256(&out.rgb), case["u8_sha256"].as_str().unwrap(), "{file} {name}: pixels differ");
            let px = preprocess(&img, cfg);
            for sample in case["samples"].as_array().unwrap() {
                let (i, want) = (sample[0].as_u64().unwrap() as usize, sample[1].as_f64().unwrap() as f32);
                let got = px.data[i];
                assert!((got - want).abs() <= TENSOR_TOLERANCE, "{file} {name} [{i}]: {got} vs {want}");
            }
        }
    }
}

#[test]
fn full_tensor_matches_the_reference() {
    let mut checked = 0;
    for src in manifest() {
        for (name, cfg) in pipelines() {
            let Some(rel) = src["pipelines"][name]["tensor"].as_str() else { continue };
            let want: Vec<f32> =
                read(rel).chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            let img = pillow_decoded(&src);
            let px = preprocess(&img, &cfg);
            assert_eq!((px.channels, px.height, px.width), (3, 224, 224));
            let err = max_abs(&px.data, &want);
            assert!(err <= TENSOR_TOLERANCE, "{rel}: max abs {err}");
            checked += 1;
        }
    }
    assert!(checked >= 1);
}

#[test]
fn lossy_sources_end_to_end_stay_within_the_decoder_difference() {
    let mut worst = 0.0f32;
    for src in manifest().iter().filter(|s| s["lossy"].as_bool().unwrap()) {
        let file = src["file"].as_str().unwrap();
        let ours = kin_decode(&format!("images/{file}"));
        let reference = pillow_decoded(src);
        for (name, cfg) in pipelines() {
            // `reference` preprocesses to exactly the pipeline's tensor (previous tests).
            let err = max_abs(&preprocess(&ours, &cfg).data, &preprocess(&reference, &cfg).data);
            worst = worst.max(err);
            assert!(err <= LOSSY_TENSOR_TOLERANCE, "{file} {name}: {err}");
        }
    }
    println!("lossy sources, kin vs reference tensor: max abs {worst:.4}");
}

#[test]
fn hf_configs_load_as_the_checkpoints_define_them() {
    let [(_, clip), (_, resnet), _] = <[_; 3]>::try_from(pipelines()).unwrap();
    assert_eq!(clip, PreprocessConfig::default());
    assert_eq!(resnet.resize, Some(ResizeTo::ShortestEdge(256)));
    assert_eq!(resnet.crop, Some((224, 224)));
    let err = PreprocessConfig::from_hf_file(golden().join("configs/missing.json")).unwrap_err();
    assert!(matches!(err, ImageError::ConfigIo { .. }) && err.to_string().contains("missing.json"), "{err}");
}

#[path = "preprocess/bad_input.rs"]
mod bad_input;

/// Transparent images through the CLIP processor, straight from the file: transformers lays them
/// over white first (`scripts/golden/make_image_alpha_golden.py`).
#[test]
fn transparent_images_are_composited_on_white_as_the_clip_processor_does() {
    let cases: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(golden().join("alpha.json")).unwrap()).unwrap();
    let clip = PreprocessConfig::from_hf_file(golden().join("configs/clip-vit-base-patch32.json")).unwrap();
    assert!(clip.composite_alpha);
    for case in &cases {
        let file = case["file"].as_str().unwrap();
        let img = kin_decode(&format!("images/{file}"));
        let u8_image = resize_and_crop(&img, &clip);
        assert_eq!(sha256(&u8_image.rgb), case["u8_sha256"].as_str().unwrap(), "{file}");
        let pixels = preprocess(&img, &clip);
        for s in case["samples"].as_array().unwrap() {
            let (i, want) = (s[0].as_u64().unwrap() as usize, s[1].as_f64().unwrap() as f32);
            assert!((pixels.data[i] - want).abs() <= 1e-4, "{file}[{i}]: {} vs {want}", pixels.data[i]);
        }
    }
    // torchvision on a PIL image drops alpha (Pillow's convert("RGB")), so kin does too there.
    assert!(!PreprocessConfig::torchvision_classification(256, 224).composite_alpha);
}
