//! Golden outputs: kin's ResNet against transformers' `ResNetModel` and torchvision's `ResNet` on
//! the same randomly initialised checkpoints and pixels.
//!
//! The fixtures in `tests/golden/resnet/` were made by `scripts/golden/make_resnet_golden.py`;
//! with `--full DIR` it also writes full-size ResNet-50s, checked by the ignored test below when
//! `KIN_TEST_RESNET_FULL_DIR=DIR` is set.

use std::path::{Path, PathBuf};

use kin_embed::{Error, Exec, ResNet};
use serde_json::Value;

const MIN_COSINE: f64 = 0.9999;
/// Largest difference allowed, relative to the largest magnitude in the reference row.
const MAX_RELATIVE_ERROR: f64 = 1e-4;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/resnet")
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
}

fn shape(v: &Value) -> Vec<usize> {
    v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-30)
}

fn relative_error(got: &[f32], want: &[f32]) -> f64 {
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs() as f64)).max(1e-30);
    got.iter().zip(want).fold(0f64, |m, (g, w)| m.max((*g as f64 - *w as f64).abs())) / scale
}

/// Checks every model of the manifest in `dir` on every input; returns the smallest cosine per model.
fn check_manifest(dir: &Path, load: impl Fn(&Path) -> ResNet) -> Vec<(String, f64)> {
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    let inputs = manifest["inputs"].as_array().unwrap();
    let mut report = Vec::new();
    for entry in manifest["models"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let model = load(&dir.join(name));
        let (mut min_cos, mut max_rel) = (f64::INFINITY, 0f64);
        for output in entry["outputs"].as_array().unwrap() {
            let input = inputs.iter().find(|i| i["name"] == output["input"]).unwrap();
            let [n, _, h, w] = shape(input)[..] else { panic!("input shape") };
            let pixels = read_f32(&dir.join(input["file"].as_str().unwrap()));
            let want = read_f32(&dir.join(name).join(output["file"].as_str().unwrap()));
            let dim = shape(output)[1];
            assert_eq!(model.dim(), dim, "{name}");
            for exec in [Exec::Parallel, Exec::Sequential] {
                let got = model.forward(&pixels, n, h, w, exec);
                assert_eq!(got.len(), n);
                for (i, (row, reference)) in got.iter().zip(want.chunks_exact(dim)).enumerate() {
                    let (cos, rel) = (cosine(row, reference), relative_error(row, reference));
                    (min_cos, max_rel) = (min_cos.min(cos), max_rel.max(rel));
                    assert!(cos >= MIN_COSINE, "{name} {h}×{w} image {i} ({exec:?}): cosine {cos}");
                    assert!(rel <= MAX_RELATIVE_ERROR, "{name} {h}×{w} image {i} ({exec:?}): relative error {rel}");
                }
            }
        }
        println!("{name}: min cosine {min_cos:.9}, max relative error {max_rel:.2e}");
        report.push((name.to_string(), min_cos));
    }
    report
}

#[test]
fn small_models_match_their_reference_implementations() {
    let report = check_manifest(&golden_dir(), |dir| ResNet::load(dir).unwrap());
    let names: Vec<&str> = report.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["hf-bottleneck", "hf-flags-prefixed", "hf-basic", "tv-bottleneck", "tv-basic"]);
}

#[test]
fn a_batch_equals_its_images_one_by_one() {
    let dir = golden_dir();
    let model = ResNet::load(&dir.join("tv-bottleneck")).unwrap();
    let pixels = read_f32(&dir.join("input-a.f32"));
    let batch = model.forward(&pixels, 2, 48, 48, Exec::Parallel);
    for (i, image) in pixels.chunks_exact(3 * 48 * 48).enumerate() {
        let single = model.forward(image, 1, 48, 48, Exec::Parallel);
        assert_eq!(single[0], batch[i]);
    }
    assert!(model.forward(&[], 0, 48, 48, Exec::Parallel).is_empty());
}

#[test]
fn a_folder_without_weights_is_a_typed_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = ResNet::load(tmp.path()).err().unwrap();
    assert!(matches!(err, Error::MissingWeights { .. }), "{err}");
}

#[test]
fn unsupported_config_values_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let src = golden_dir().join("hf-basic");
    std::fs::copy(src.join("model.safetensors"), tmp.path().join("model.safetensors")).unwrap();
    let config = std::fs::read_to_string(src.join("config.json")).unwrap();
    for (from, to) in [("\"relu\"", "\"gelu\""), ("\"basic\"", "\"preactivation\"")] {
        std::fs::write(tmp.path().join("config.json"), config.replace(from, to)).unwrap();
        let err = ResNet::load(tmp.path()).err().unwrap();
        assert!(matches!(err, Error::InvalidConfig { .. }), "{err}");
    }
    // Widths that disagree with the checkpoint are named.
    std::fs::write(tmp.path().join("config.json"), config.replace("\"embedding_size\": 16", "\"embedding_size\": 8"))
        .unwrap();
    let err = ResNet::load(tmp.path()).err().unwrap();
    assert!(matches!(err, Error::TensorShape { .. }), "{err}");
}

#[test]
fn torchvision_names_without_a_config_need_the_stem() {
    let tmp = tempfile::tempdir().unwrap();
    let src = golden_dir().join("hf-bottleneck");
    std::fs::copy(src.join("model.safetensors"), tmp.path().join("model.safetensors")).unwrap();
    let err = ResNet::load(tmp.path()).err().unwrap();
    assert!(matches!(&err, Error::MissingTensor { name, .. } if name == "conv1.weight"), "{err}");
}

/// Loads a torchvision folder from its `model.pth` alone (torch.save's zip, no safetensors).
fn load_from_pth(dir: &Path) -> ResNet {
    if !dir.join("model.pth").is_file() {
        return ResNet::load(dir).unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("model.pth"), tmp.path().join("model.pth")).unwrap();
    ResNet::load(tmp.path()).unwrap()
}

#[test]
fn torch_save_state_dicts_load_like_safetensors() {
    let report = check_manifest(&golden_dir(), load_from_pth);
    assert_eq!(report.len(), 5);
}

#[test]
fn a_pickle_that_is_not_a_state_dict_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("model.pth"), b"not a zip").unwrap();
    let err = ResNet::load(tmp.path()).err().unwrap();
    assert!(matches!(err, Error::CorruptWeights { .. }), "{err}");
}

#[test]
#[ignore = "needs full-size checkpoints: make_resnet_golden.py --full DIR, then KIN_TEST_RESNET_FULL_DIR=DIR"]
fn full_size_resnet50_matches() {
    let Ok(dir) = std::env::var("KIN_TEST_RESNET_FULL_DIR") else {
        panic!("set KIN_TEST_RESNET_FULL_DIR to the folder written by make_resnet_golden.py --full");
    };
    let report = check_manifest(Path::new(&dir), |dir| ResNet::load(dir).unwrap());
    assert_eq!(report.len(), 2);
    check_manifest(Path::new(&dir), load_from_pth);
}
