//! DeepMind's multimodal Perceiver (transformers' `PerceiverForMultimodalAutoencoding`), its
//! encoder: a video's frames and sound become one set of input tokens, a fixed array of latents
//! reads them through one cross-attention, then self-attention layers refine the latents. The
//! embedding is the mean of the final latents (not normalised, like the reference's states).
//!
//! Inputs, in the order the reference concatenates them (modalities sorted by name):
//! - audio: patches of `samples_per_patch` samples, each followed by its position in [-1, 1] and
//!   192 sine and 192 cosine Fourier features;
//! - image: 4×4 space-to-depth patches of every frame (48 values), the (frame, row, column)
//!   position and 32 Fourier bands per axis, sines then cosines;
//! - label: one token, always the learned mask token (the classification input is masked).
//!
//! Each modality is padded with its learned padding vector to a common width.

use std::f32::consts::PI;
use std::path::Path;

use serde::Deserialize;

use crate::kernels::{gelu, softmax};
use crate::linear::Linear;
use crate::sbert::read_json;
use crate::transformer::{Exec, LayerNorm};
use crate::weights::{model_weights_path, Weights};
use kin_core::Modality;
use kin_image::Image;

use crate::embedder::VideoClip;
use crate::{Embedder, Error, Result};

const AUDIO_BANDS: usize = 192;
const IMAGE_BANDS: usize = 32;
const PATCH: usize = 4;
const MIN_PADDING: usize = 4;

/// The fields of transformers' `PerceiverConfig` the encoder uses.
#[derive(Debug, Clone, Deserialize)]
pub struct PerceiverConfig {
    pub num_latents: usize,
    pub d_latents: usize,
    pub num_blocks: usize,
    pub num_self_attends_per_block: usize,
    pub num_self_attention_heads: usize,
    pub num_cross_attention_heads: usize,
    pub qk_channels: Option<usize>,
    pub v_channels: Option<usize>,
    #[serde(default = "default_kv")]
    pub cross_attention_shape_for_attention: String,
    pub self_attention_widening_factor: usize,
    pub cross_attention_widening_factor: usize,
    #[serde(default = "default_true")]
    pub use_query_residual: bool,
    pub num_frames: usize,
    pub audio_samples_per_frame: usize,
    pub samples_per_patch: usize,
    pub image_size: usize,
}

fn default_kv() -> String {
    "kv".into()
}

fn default_true() -> bool {
    true
}

/// Attention (with its output projection), a LayerNorm'd MLP, and the residuals.
struct Layer {
    norm_q: LayerNorm,
    norm_kv: Option<LayerNorm>,
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    norm_mlp: LayerNorm,
    dense1: Linear,
    dense2: Linear,
    heads: usize,
    query_residual: bool,
}

impl Layer {
    #[allow(clippy::too_many_arguments)]
    fn load(
        w: &Weights,
        p: &str,
        q_dim: usize,
        kv_dim: usize,
        qk: usize,
        v: usize,
        heads: usize,
        widening: usize,
        cross: bool,
        query_residual: bool,
    ) -> Result<Self> {
        let ln = |name: &str, size| LayerNorm::load(w, &format!("{p}.{name}"), size, 1e-5);
        let lin = |name: &str, i, o| Linear::load(w, &format!("{p}.{name}"), i, o);
        Ok(Layer {
            norm_q: ln("attention.self.layernorm1", q_dim)?,
            norm_kv: if cross { Some(ln("attention.self.layernorm2", kv_dim)?) } else { None },
            query: lin("attention.self.query", q_dim, qk)?,
            key: lin("attention.self.key", kv_dim, qk)?,
            value: lin("attention.self.value", kv_dim, v)?,
            output: lin("attention.output.dense", v, q_dim)?,
            norm_mlp: ln("layernorm", q_dim)?,
            dense1: lin("mlp.dense1", q_dim, q_dim * widening)?,
            dense2: lin("mlp.dense2", q_dim * widening, q_dim)?,
            heads,
            query_residual,
        })
    }

    /// `x` (`[rows, q_dim]`) attends to `inputs` (`[n, kv_dim]`), or to itself.
    fn forward(&self, x: &mut Vec<f32>, inputs: Option<(&[f32], usize)>, exec: Exec) {
        let rows = x.len() / self.output.outputs().max(1);
        let mut normed = Vec::new();
        self.norm_q.apply_to(x, &mut normed, exec);
        let mut q = Vec::new();
        self.query.forward(&normed, rows, &mut q, exec);
        let mut kv_normed = Vec::new();
        let (kv, n): (&[f32], usize) = match (inputs, &self.norm_kv) {
            (Some((inputs, n)), Some(norm)) => {
                norm.apply_to(inputs, &mut kv_normed, exec);
                (&kv_normed, n)
            }
            // No key/value norm is the reference's identity.
            (Some((inputs, n)), None) => (inputs, n),
            // Self-attention: keys and values come from the same normed latents as the queries.
            (None, _) => (&normed, rows),
        };
        let (mut k, mut v) = (Vec::new(), Vec::new());
        self.key.forward(kv, n, &mut k, exec);
        self.value.forward(kv, n, &mut v, exec);
        let (qk, vc) = (self.query.outputs(), self.value.outputs());
        let (dq, dv) = (qk / self.heads, vc / self.heads);
        let scale = 1.0 / (dq as f32).sqrt();
        let mut ctx = vec![0.0f32; rows * vc];
        let mut scores = vec![0.0f32; n];
        for h in 0..self.heads {
            for i in 0..rows {
                let qi = &q[i * qk + h * dq..i * qk + (h + 1) * dq];
                for (j, s) in scores.iter_mut().enumerate() {
                    let kj = &k[j * qk + h * dq..j * qk + (h + 1) * dq];
                    *s = qi.iter().zip(kj).map(|(a, b)| a * b).sum::<f32>() * scale;
                }
                softmax(&mut scores);
                let out = &mut ctx[i * vc + h * dv..i * vc + (h + 1) * dv];
                for (j, p) in scores.iter().enumerate() {
                    for (o, vv) in out.iter_mut().zip(&v[j * vc + h * dv..j * vc + (h + 1) * dv]) {
                        *o += p * vv;
                    }
                }
            }
        }
        let mut attended = Vec::new();
        self.output.forward(&ctx, rows, &mut attended, exec);
        if self.query_residual {
            for (a, r) in attended.iter_mut().zip(x.iter()) {
                *a += *r;
            }
        }
        let mut hidden = Vec::new();
        self.norm_mlp.apply_to(&attended, &mut hidden, exec);
        let mut inter = Vec::new();
        self.dense1.forward(&hidden, rows, &mut inter, exec);
        gelu(&mut inter);
        self.dense2.forward_add(&inter, rows, &mut attended, exec);
        *x = attended;
    }
}

/// The multimodal Perceiver's encoder, loaded from a `PerceiverForMultimodalAutoencoding` folder.
pub struct PerceiverEncoder {
    cfg: PerceiverConfig,
    latents: Vec<f32>,
    pad_audio: Vec<f32>,
    pad_image: Vec<f32>,
    label_token: Vec<f32>,
    width: usize,
    cross: Layer,
    selfs: Vec<Layer>,
}

/// `torch.linspace(start, end, steps)` in `f32`, computed the way PyTorch does (from both ends).
fn linspace(start: f32, end: f32, steps: usize) -> Vec<f32> {
    if steps == 1 {
        return vec![start];
    }
    let step = (end - start) / (steps - 1) as f32;
    (0..steps)
        .map(|i| if i < steps / 2 { start + step * i as f32 } else { end - step * (steps - 1 - i) as f32 })
        .collect()
}

/// `[positions…, sin(π·p_d·f_k) for d, k…, cos(…)…]` of one point.
fn fourier(pos: &[f32], bands: &[Vec<f32>], out: &mut Vec<f32>) {
    out.extend_from_slice(pos);
    let args: Vec<f32> = pos.iter().zip(bands).flat_map(|(p, fs)| fs.iter().map(move |f| (p * f) * PI)).collect();
    out.extend(args.iter().map(|a| a.sin()));
    out.extend(args.iter().map(|a| a.cos()));
}

impl PerceiverEncoder {
    pub fn load(dir: &Path) -> Result<Self> {
        let config_path = dir.join("config.json");
        let cfg: PerceiverConfig = read_json(&config_path)?;
        let weights_path = model_weights_path(dir)?;
        let w = Weights::open(&weights_path, &["perceiver."])?;
        let audio_ch = cfg.samples_per_patch + 1 + 2 * AUDIO_BANDS;
        let image_ch = 3 * PATCH * PATCH + 3 + 2 * 3 * IMAGE_BANDS;
        let width = w.shape("input_preprocessor.mask.label").map_or(0, |s| s.last().copied().unwrap_or(0));
        if width < audio_ch.max(image_ch) + MIN_PADDING {
            let message =
                format!("input width {width} is narrower than the audio ({audio_ch}) or image ({image_ch}) tokens");
            return Err(Error::InvalidConfig { path: config_path, message });
        }
        let d = cfg.d_latents;
        let (cross_qk, self_qk) = {
            let kv_or_q = if cfg.cross_attention_shape_for_attention == "q" { d } else { width };
            (cfg.qk_channels.unwrap_or(kv_or_q), cfg.qk_channels.unwrap_or(d))
        };
        let cross_v = cfg.v_channels.unwrap_or(cross_qk);
        let self_v = cfg.v_channels.unwrap_or(self_qk);
        let cross = Layer::load(
            &w,
            "encoder.cross_attention",
            d,
            width,
            cross_qk,
            cross_v,
            cfg.num_cross_attention_heads,
            cfg.cross_attention_widening_factor,
            true,
            cfg.use_query_residual,
        )?;
        let selfs = (0..cfg.num_self_attends_per_block)
            .map(|i| {
                Layer::load(
                    &w,
                    &format!("encoder.self_attends.{i}"),
                    d,
                    d,
                    self_qk,
                    self_v,
                    cfg.num_self_attention_heads,
                    cfg.self_attention_widening_factor,
                    false,
                    true,
                )
            })
            .collect::<Result<_>>()?;
        Ok(PerceiverEncoder {
            latents: w.get("embeddings.latents", &[cfg.num_latents, d])?,
            pad_audio: w.get("input_preprocessor.padding.audio", &[1, width - audio_ch])?,
            pad_image: w.get("input_preprocessor.padding.image", &[1, width - image_ch])?,
            label_token: w.get("input_preprocessor.mask.label", &[1, width])?,
            width,
            cross,
            selfs,
            cfg,
        })
    }

    pub fn dim(&self) -> usize {
        self.cfg.d_latents
    }

    /// Audio samples the model takes (frames × samples per frame).
    pub fn audio_samples(&self) -> usize {
        self.cfg.num_frames * self.cfg.audio_samples_per_frame
    }

    /// Frames and side of the video the model takes: `[frames, 3, side, side]`.
    pub fn video_shape(&self) -> (usize, usize) {
        (self.cfg.num_frames, self.cfg.image_size)
    }

    /// The input tokens, `[audio patches + video patches + 1, width]`.
    fn tokens(&self, video: &[f32], audio: &[f32]) -> (Vec<f32>, usize) {
        let (t, s) = self.video_shape();
        let spp = self.cfg.samples_per_patch;
        let patches = audio.len() / spp;
        let mut out = Vec::new();
        let audio_bands = [linspace(1.0, self.audio_samples() as f32 / 2.0, AUDIO_BANDS)];
        let audio_pos = linspace(-1.0, 1.0, patches);
        for (p, pos) in audio_pos.iter().enumerate() {
            out.extend_from_slice(&audio[p * spp..(p + 1) * spp]);
            fourier(&[*pos], &audio_bands, &mut out);
            out.extend_from_slice(&self.pad_audio);
        }
        let g = s / PATCH;
        let image_bands = [
            linspace(1.0, t as f32 / 2.0, IMAGE_BANDS),
            linspace(1.0, s as f32 / 2.0, IMAGE_BANDS),
            linspace(1.0, s as f32 / 2.0, IMAGE_BANDS),
        ];
        let (pt, py) = (linspace(-1.0, 1.0, t), linspace(-1.0, 1.0, g));
        for f in 0..t {
            for gy in 0..g {
                for gx in 0..g {
                    for dy in 0..PATCH {
                        for dx in 0..PATCH {
                            for c in 0..3 {
                                out.push(video[((f * 3 + c) * s + gy * PATCH + dy) * s + gx * PATCH + dx]);
                            }
                        }
                    }
                    fourier(&[pt[f], py[gy], py[gx]], &image_bands, &mut out);
                    out.extend_from_slice(&self.pad_image);
                }
            }
        }
        out.extend_from_slice(&self.label_token);
        let n = out.len() / self.width;
        (out, n)
    }

    /// The mean of the final latents for one clip: `video` is `[frames, 3, side, side]` (pixels as
    /// the model takes them), `audio` the clip's samples.
    pub fn embed(&self, video: &[f32], audio: &[f32]) -> Result<Vec<f32>> {
        let (t, s) = self.video_shape();
        if video.len() != t * 3 * s * s || audio.len() != self.audio_samples() {
            return Err(Error::InputShape {
                message: format!(
                    "the Perceiver takes {t} frames of 3×{s}×{s} and {} audio samples; got {} pixel values and {} samples",
                    self.audio_samples(),
                    video.len(),
                    audio.len()
                ),
            });
        }
        let exec = Exec::Parallel;
        let (inputs, n) = self.tokens(video, audio);
        let mut x = self.latents.clone();
        self.cross.forward(&mut x, Some((&inputs, n)), exec);
        for _ in 0..self.cfg.num_blocks {
            for layer in &self.selfs {
                layer.forward(&mut x, None, exec);
            }
        }
        let d = self.cfg.d_latents;
        let mut mean = vec![0.0f32; d];
        for row in x.chunks_exact(d) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += *v;
            }
        }
        mean.iter_mut().for_each(|m| *m /= self.cfg.num_latents as f32);
        Ok(mean)
    }
}

/// The Perceiver behind the `Embedder` seam, for video clips: 16 frames at 25 per second (centre
/// square, resized, RGB scaled to [0, 1], as DeepMind's Kinetics pipeline feeds it) and the sound
/// at `audio_samples_per_frame` × 25 Hz (48 kHz for the published model).
pub struct PerceiverEmbedder {
    name: String,
    encoder: PerceiverEncoder,
}

impl PerceiverEmbedder {
    pub fn load(dir: &Path, name: &str) -> Result<Self> {
        Ok(PerceiverEmbedder { name: name.to_string(), encoder: PerceiverEncoder::load(dir)? })
    }
}

impl Embedder for PerceiverEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.encoder.dim()
    }

    fn modalities(&self) -> &[Modality] {
        &[Modality::Video]
    }

    fn normalized(&self) -> bool {
        false
    }

    fn video_clip(&self) -> Option<VideoClip> {
        let (frames, side) = self.encoder.video_shape();
        let per_frame = self.encoder.cfg.audio_samples_per_frame;
        Some(VideoClip {
            frames,
            fps: 25.0,
            side,
            audio_samples: self.encoder.audio_samples(),
            audio_rate: (per_frame * 25) as u32,
        })
    }

    fn embed_video_clip(&self, frames: &[Image], audio: &[f32]) -> Result<Vec<f32>> {
        let (t, s) = self.encoder.video_shape();
        let mut video = vec![0.0f32; t * 3 * s * s];
        for (f, frame) in frames.iter().enumerate().take(t) {
            if (frame.width as usize, frame.height as usize) != (s, s) {
                return Err(Error::InputShape {
                    message: format!("frame {f} is {}x{}, the model takes {s}x{s}", frame.width, frame.height),
                });
            }
            for (i, px) in frame.rgb.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    video[(f * 3 + c) * s * s + i] = f32::from(px[c]) / 255.0;
                }
            }
        }
        let mut samples = audio.to_vec();
        samples.resize(self.encoder.audio_samples(), 0.0);
        self.encoder.embed(&video, &samples)
    }
}
