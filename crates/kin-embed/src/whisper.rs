//! Whisper's audio encoder: two 1-D convolutions with GELU (the second halves the frame rate),
//! sinusoidal positions, pre-norm layers, a final LayerNorm. The embedding is the last hidden
//! state mean-pooled over the positions that hold audio, normalised.
//!
//! Why the encoder and not the decoder: a decoder state read at the start-of-transcript token
//! (a recipe sometimes shown for "Whisper embeddings") describes that token in the context of the
//! audio, mostly the token itself; the encoder's states are the audio's own representation, one per
//! 20 ms, and their mean over the audio (not the padding) summarises the clip.

use std::path::Path;

use kin_audio::{log_mel, MelConfig};
use kin_core::Modality;
use rayon::prelude::*;
use serde::Deserialize;

use crate::kernels::{gelu, normalize};
use crate::linear::Linear;
use crate::prenorm::{run_prenorm_layers, Activation, PreNormLayer, WHISPER_NAMES};
use crate::sbert::read_json;
use crate::transformer::{Dims, Exec, LayerNorm, Mask, Packed};
use crate::weights::{model_weights_path, Weights};
use crate::{Embedder, Embeddings, Error, Result};

/// The encoder half of Hugging Face's `WhisperConfig`.
#[derive(Debug, Clone, Deserialize)]
pub struct WhisperConfig {
    pub d_model: usize,
    pub encoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub num_mel_bins: usize,
    pub max_source_positions: usize,
    #[serde(default = "default_activation")]
    pub activation_function: String,
}

fn default_activation() -> String {
    "gelu".into()
}

impl WhisperConfig {
    pub fn validate(&self, path: &Path) -> Result<()> {
        let invalid = |message: String| Error::InvalidConfig { path: path.to_path_buf(), message };
        if self.encoder_attention_heads == 0 || !self.d_model.is_multiple_of(self.encoder_attention_heads) {
            return Err(invalid(format!("d_model {} is not a multiple of the heads", self.d_model)));
        }
        if self.activation_function != "gelu" {
            return Err(invalid(format!("activation_function {:?} is not supported", self.activation_function)));
        }
        Ok(())
    }

    /// Mel frames the encoder takes (3,000: 30 s at 100 frames a second).
    pub fn frames(&self) -> usize {
        self.max_source_positions * 2
    }
}

/// A 1-D convolution, kernel 3, padding 1, as a matrix product over gathered windows.
struct Conv1d {
    linear: Linear,
    inputs: usize,
    stride: usize,
}

impl Conv1d {
    fn load(weights: &Weights, prefix: &str, inputs: usize, outputs: usize, stride: usize) -> Result<Self> {
        let weight = weights.get(&format!("{prefix}.weight"), &[outputs, inputs, 3])?;
        let bias = weights.get(&format!("{prefix}.bias"), &[outputs])?;
        Ok(Conv1d { linear: Linear::new(weight, bias, inputs * 3, outputs), inputs, stride })
    }

    /// `x` is `[frames, inputs]` (time-major); returns `[out_frames, outputs]` after GELU.
    fn forward(&self, x: &[f32], frames: usize, exec: Exec) -> (Vec<f32>, usize) {
        let c = self.inputs;
        let out_frames = (frames - 1) / self.stride + 1;
        // Row t holds, for each input channel, the samples at t·stride − 1, t·stride, t·stride + 1.
        let mut cols = vec![0.0f32; out_frames * c * 3];
        for (t, row) in cols.chunks_exact_mut(c * 3).enumerate() {
            for k in 0..3 {
                let Some(src) = (t * self.stride + k).checked_sub(1).filter(|&s| s < frames) else { continue };
                for (ch, v) in x[src * c..(src + 1) * c].iter().enumerate() {
                    row[ch * 3 + k] = *v;
                }
            }
        }
        let mut y = Vec::new();
        self.linear.forward(&cols, out_frames, &mut y, exec);
        exec.for_rows(&mut y, self.linear.outputs() * 16, |_, r| gelu(r));
        (y, out_frames)
    }
}

/// Whisper's encoder (tiny, base, small, …) from a Hugging Face checkpoint folder.
pub struct WhisperEncoder {
    conv1: Conv1d,
    conv2: Conv1d,
    positions: Vec<f32>,
    layers: Vec<PreNormLayer>,
    norm: LayerNorm,
    cfg: WhisperConfig,
}

impl WhisperEncoder {
    pub fn load(dir: &Path) -> Result<Self> {
        let config_path = dir.join("config.json");
        let cfg: WhisperConfig = read_json(&config_path)?;
        cfg.validate(&config_path)?;
        let weights_path = model_weights_path(dir)?;
        let w = Weights::open(&weights_path, &["model."])?;
        let d = cfg.d_model;
        let dims = Dims { hidden: d, heads: cfg.encoder_attention_heads, intermediate: cfg.encoder_ffn_dim, eps: 1e-5 };
        let layers = (0..cfg.encoder_layers)
            .map(|i| PreNormLayer::load(&w, &format!("encoder.layers.{i}"), &WHISPER_NAMES, dims, Activation::Gelu))
            .collect::<Result<_>>()?;
        Ok(WhisperEncoder {
            conv1: Conv1d::load(&w, "encoder.conv1", cfg.num_mel_bins, d, 1)?,
            conv2: Conv1d::load(&w, "encoder.conv2", d, d, 2)?,
            positions: w.get("encoder.embed_positions.weight", &[cfg.max_source_positions, d])?,
            layers,
            norm: LayerNorm::load(&w, "encoder.layer_norm", d, 1e-5)?,
            cfg,
        })
    }

    pub fn config(&self) -> &WhisperConfig {
        &self.cfg
    }

    pub fn dim(&self) -> usize {
        self.cfg.d_model
    }

    /// The last hidden state, `[positions, d_model]`, of one log-mel window `[n_mels, frames]`
    /// (row-major, `frames` = `config().frames()`).
    pub fn forward(&self, mel: &[f32], exec: Exec) -> Result<Vec<f32>> {
        let (n_mels, frames) = (self.cfg.num_mel_bins, self.cfg.frames());
        if mel.len() != n_mels * frames {
            return Err(Error::AudioShape { got: mel.len(), n_mels, frames });
        }
        // Time-major for the convolutions: row t holds every mel bin of frame t.
        let mut x = vec![0.0f32; frames * n_mels];
        for (m, row) in mel.chunks_exact(frames).enumerate() {
            for (t, v) in row.iter().enumerate() {
                x[t * n_mels + m] = *v;
            }
        }
        let (x, f1) = self.conv1.forward(&x, frames, exec);
        let (mut h, positions) = self.conv2.forward(&x, f1, exec);
        for (row, pos) in h.chunks_exact_mut(self.cfg.d_model).zip(self.positions.chunks_exact(self.cfg.d_model)) {
            for (v, p) in row.iter_mut().zip(pos) {
                *v += *p;
            }
        }
        run_prenorm_layers(&self.layers, &mut h, &Packed::uniform(1, positions), Mask::default(), exec);
        self.norm.apply(&mut h, &[], exec);
        Ok(h)
    }

    /// Embeddings of several windows, each `(log-mel, audio positions)`. Windows run side by side,
    /// one per thread, when there are several; a single window spreads over all threads.
    pub fn embed_windows(&self, windows: &[(&[f32], usize)]) -> Result<Vec<Vec<f32>>> {
        if windows.len() > 1 && rayon::current_num_threads() > 1 {
            windows.par_iter().map(|(mel, n)| self.embed(mel, *n, Exec::Sequential)).collect()
        } else {
            windows.iter().map(|(mel, n)| self.embed(mel, *n, Exec::Parallel)).collect()
        }
    }

    /// The normalised mean of the hidden states over the first `audio_positions` positions (those
    /// that hold audio; at least one).
    pub fn embed(&self, mel: &[f32], audio_positions: usize, exec: Exec) -> Result<Vec<f32>> {
        let d = self.cfg.d_model;
        let hidden = self.forward(mel, exec)?;
        let n = audio_positions.clamp(1, hidden.len() / d);
        let mut v = vec![0.0f32; d];
        for row in hidden.chunks_exact(d).take(n) {
            for (a, x) in v.iter_mut().zip(row) {
                *a += *x;
            }
        }
        v.iter_mut().for_each(|a| *a /= n as f32);
        normalize(&mut v);
        Ok(v)
    }
}

/// Whisper behind the `Embedder` seam: 16 kHz windows → log-mel (the checkpoint's
/// `preprocessor_config.json`) → encoder → the mean over the positions that hold audio.
pub struct WhisperEmbedder {
    name: String,
    encoder: WhisperEncoder,
    mel: MelConfig,
}

impl WhisperEmbedder {
    pub fn load(dir: &Path, name: &str) -> Result<Self> {
        let encoder = WhisperEncoder::load(dir)?;
        let pre = dir.join("preprocessor_config.json");
        let mel = if pre.is_file() {
            MelConfig::from_hf_file(&pre)
                .map_err(|e| Error::InvalidConfig { path: pre.clone(), message: e.to_string() })?
        } else {
            MelConfig { feature_size: encoder.config().num_mel_bins, ..MelConfig::default() }
        };
        if mel.feature_size != encoder.config().num_mel_bins || mel.frames() != encoder.config().frames() {
            return Err(Error::InvalidConfig {
                path: pre,
                message: format!(
                    "{} mel bins × {} frames do not fit the encoder's {} × {}",
                    mel.feature_size,
                    mel.frames(),
                    encoder.config().num_mel_bins,
                    encoder.config().frames()
                ),
            });
        }
        Ok(WhisperEmbedder { name: name.to_string(), encoder, mel })
    }
}

impl Embedder for WhisperEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.encoder.dim()
    }

    fn modalities(&self) -> &[Modality] {
        &[Modality::Audio]
    }

    fn normalized(&self) -> bool {
        true
    }

    fn audio_window(&self) -> Option<usize> {
        Some(self.mel.window_samples())
    }

    fn embed_audio(&self, windows: &[&[f32]]) -> Result<Embeddings> {
        let mels: Vec<(Vec<f32>, usize)> = windows
            .iter()
            .map(|w| {
                let mel = log_mel(w, &self.mel);
                // Each encoder position covers two mel frames (20 ms of audio).
                let positions = mel.audio_frames.div_ceil(2).max(1);
                (mel.data, positions)
            })
            .collect();
        let refs: Vec<(&[f32], usize)> = mels.iter().map(|(m, n)| (m.as_slice(), *n)).collect();
        self.encoder.embed_windows(&refs)
    }
}
