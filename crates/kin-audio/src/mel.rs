//! Whisper's log-mel spectrogram, as transformers' `WhisperFeatureExtractor` computes it: the
//! window padded (or cut) to 30 s with zeros, a centred STFT (Hann window of 400, hop 160,
//! reflect padding), the power spectrum through Slaney-normalised mel filters, `log10` with a
//! floor of 1e-10, clamped to 8 below the window's maximum, then `(x + 4) / 4`. The spectrum is
//! computed in `f64` (as the NumPy path does), with the DFT as one matrix product.

use std::f64::consts::PI;
use std::path::Path;

use gemm::Parallelism;
use serde::Deserialize;

use crate::error::{AudioError, Result};

/// The feature extractor's settings (`preprocessor_config.json`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct MelConfig {
    /// Mel bins (`feature_size`): 80, or 128 for large-v3.
    pub feature_size: usize,
    pub sampling_rate: u32,
    pub hop_length: usize,
    pub n_fft: usize,
    /// Seconds per window (`chunk_length`).
    pub chunk_length: usize,
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig { feature_size: 80, sampling_rate: 16_000, hop_length: 160, n_fft: 400, chunk_length: 30 }
    }
}

impl MelConfig {
    /// Reads a Hugging Face `preprocessor_config.json`; absent fields take Whisper's defaults.
    pub fn from_hf_file(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).map_err(|source| AudioError::Io { path: path.to_path_buf(), source })?;
        let cfg: MelConfig = serde_json::from_str(&text)
            .map_err(|e| AudioError::InvalidConfig { path: path.to_path_buf(), message: e.to_string() })?;
        if cfg.feature_size == 0 || cfg.hop_length == 0 || cfg.n_fft < 2 || cfg.chunk_length == 0 {
            return Err(AudioError::InvalidConfig { path: path.to_path_buf(), message: "zero-sized features".into() });
        }
        Ok(cfg)
    }

    /// Samples per window (480,000).
    pub fn window_samples(&self) -> usize {
        self.chunk_length * self.sampling_rate as usize
    }

    /// Frames per window (3,000).
    pub fn frames(&self) -> usize {
        self.window_samples() / self.hop_length
    }
}

/// A log-mel window: `data[m * frames + t]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMel {
    pub data: Vec<f32>,
    pub n_mels: usize,
    pub frames: usize,
    /// Frames that hold audio rather than padding.
    pub audio_frames: usize,
}

fn hertz_to_mel(f: f64) -> f64 {
    let logstep = 27.0 / 6.4f64.ln();
    if f >= 1000.0 {
        15.0 + (f / 1000.0).ln() * logstep
    } else {
        3.0 * f / 200.0
    }
}

fn mel_to_hertz(m: f64) -> f64 {
    if m >= 15.0 {
        1000.0 * (6.4f64.ln() / 27.0 * (m - 15.0)).exp()
    } else {
        200.0 * m / 3.0
    }
}

/// Slaney-scale, Slaney-normalised triangular filters, `[bins][mels]`.
fn mel_filters(cfg: &MelConfig) -> Vec<f64> {
    let (bins, mels) = (cfg.n_fft / 2 + 1, cfg.feature_size);
    let (lo, hi) = (hertz_to_mel(0.0), hertz_to_mel(8000.0));
    let points: Vec<f64> = (0..mels + 2).map(|i| mel_to_hertz(lo + (hi - lo) * i as f64 / (mels + 1) as f64)).collect();
    let nyquist = f64::from(cfg.sampling_rate / 2);
    let mut out = vec![0.0; bins * mels];
    for b in 0..bins {
        let f = nyquist * b as f64 / (bins - 1) as f64;
        for m in 0..mels {
            let down = (f - points[m]) / (points[m + 1] - points[m]);
            let up = (points[m + 2] - f) / (points[m + 2] - points[m + 1]);
            let enorm = 2.0 / (points[m + 2] - points[m]);
            out[b * mels + m] = down.min(up).max(0.0) * enorm;
        }
    }
    out
}

/// `out = a[m×k] · b[k×n]`, row-major, in `f64`.
fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut out = vec![0.0f64; m * n];
    assert!(a.len() >= m * k && b.len() >= k * n);
    let threads = rayon::current_num_threads();
    let par = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
    // SAFETY: `a` holds m·k, `b` k·n and `out` m·n values (asserted / allocated above); the strides
    // describe row-major matrices and `out` aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            1,
            k as isize,
            b.as_ptr(),
            1,
            n as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        );
    }
    out
}

/// The log-mel features of one window of 16 kHz mono audio (at most `window_samples()`; longer
/// input is cut, shorter is padded with silence).
pub fn log_mel(samples: &[f32], cfg: &MelConfig) -> LogMel {
    let (n_fft, hop, frames, mels) = (cfg.n_fft, cfg.hop_length, cfg.frames(), cfg.feature_size);
    let total = cfg.window_samples();
    let used = samples.len().min(total);
    let mut wave = vec![0.0f64; total];
    for (w, s) in wave.iter_mut().zip(&samples[..used]) {
        *w = f64::from(*s);
    }
    // Centred frames: reflect-pad by n_fft/2 on both sides.
    let pad = n_fft / 2;
    let at = |i: isize| -> f64 {
        let n = total as isize;
        let j = if i < 0 {
            -i
        } else if i >= n {
            2 * (n - 1) - i
        } else {
            i
        };
        wave[j as usize]
    };
    let window: Vec<f64> = (0..n_fft).map(|n| 0.5 - 0.5 * (2.0 * PI * n as f64 / n_fft as f64).cos()).collect();
    let mut framed = vec![0.0f64; frames * n_fft];
    for (t, row) in framed.chunks_exact_mut(n_fft).enumerate() {
        let start = (t * hop) as isize - pad as isize;
        for (n, v) in row.iter_mut().enumerate() {
            *v = at(start + n as isize) * window[n];
        }
    }
    // DFT as a product with [cos | sin] bases: [frames, n_fft] · [n_fft, 2·bins].
    let bins = n_fft / 2 + 1;
    let mut basis = vec![0.0f64; n_fft * 2 * bins];
    for n in 0..n_fft {
        for k in 0..bins {
            let angle = 2.0 * PI * ((k * n) % n_fft) as f64 / n_fft as f64;
            basis[n * 2 * bins + k] = angle.cos();
            basis[n * 2 * bins + bins + k] = angle.sin();
        }
    }
    let spectrum = matmul(&framed, &basis, frames, n_fft, 2 * bins);
    let power: Vec<f64> = spectrum
        .chunks_exact(2 * bins)
        .flat_map(|r| (0..bins).map(move |k| r[k] * r[k] + r[bins + k] * r[bins + k]))
        .collect();
    let mel = matmul(&power, &mel_filters(cfg), frames, bins, mels); // [frames, mels]
    let logs: Vec<f64> = mel.iter().map(|v| v.max(1e-10).log10()).collect();
    let floor = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max) - 8.0;
    let mut data = vec![0.0f32; mels * frames];
    for t in 0..frames {
        for m in 0..mels {
            data[m * frames + t] = ((logs[t * mels + m].max(floor) + 4.0) / 4.0) as f32;
        }
    }
    LogMel { data, n_mels: mels, frames, audio_frames: used.div_ceil(hop).min(frames) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slaney_scale_round_trips_and_filters_cover_the_band() {
        for f in [0.0, 200.0, 999.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hertz(hertz_to_mel(f)) - f).abs() < 1e-9);
        }
        let filters = mel_filters(&MelConfig::default());
        // Every mel filter has weight somewhere; the DC bin belongs to none but the first.
        for m in 0..80 {
            assert!((0..201).any(|b| filters[b * 80 + m] > 0.0), "filter {m} is empty");
        }
    }

    #[test]
    fn silence_is_flat_and_a_tone_peaks_in_its_band() {
        let cfg = MelConfig::default();
        let silent = log_mel(&[], &cfg);
        assert_eq!((silent.n_mels, silent.frames, silent.audio_frames), (80, 3000, 0));
        assert!(silent.data.iter().all(|v| (*v - silent.data[0]).abs() < 1e-6));

        let tone: Vec<f32> =
            (0..16_000).map(|i| (2.0 * PI * 1000.0 * i as f64 / 16_000.0).sin() as f32 * 0.5).collect();
        let mel = log_mel(&tone, &cfg);
        assert_eq!(mel.audio_frames, 100);
        let frame = 50;
        let column: Vec<f32> = (0..80).map(|m| mel.data[m * 3000 + frame]).collect();
        let peak = column.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        let want = (hertz_to_mel(1000.0) / hertz_to_mel(8000.0) * 81.0).round() as usize;
        assert!(peak.abs_diff(want) <= 2, "peak at mel {peak}, expected near {want}");
    }
}
