//! CLIP's image tower (a ViT): non-overlapping patches projected to tokens after a class token,
//! position embeddings, a LayerNorm before and after the pre-norm layers, the class token's
//! state projected into the shared space.

use std::path::Path;

use crate::clip::config::ClipVisionConfig;
use crate::linear::Linear;
use crate::prenorm::{run_prenorm_layers, Activation, PreNormLayer, CLIP_NAMES};
use crate::transformer::{Exec, LayerNorm, Mask, Packed};
use crate::weights::Weights;
use crate::Result;

pub struct ClipVision {
    /// The patch convolution as a matrix over flattened `[channel, row, column]` patches.
    patch: Linear,
    class_embedding: Vec<f32>,
    position_embedding: Vec<f32>,
    pre_norm: LayerNorm,
    layers: Vec<PreNormLayer>,
    post_norm: LayerNorm,
    projection: Linear,
    cfg: ClipVisionConfig,
}

impl ClipVision {
    pub fn load(weights: &Weights, cfg: &ClipVisionConfig, projection_dim: usize, path: &Path) -> Result<Self> {
        cfg.validate(path)?;
        let (h, p, c) = (cfg.hidden_size, cfg.patch_size, cfg.num_channels);
        let act = Activation::parse(&cfg.hidden_act, path)?;
        let conv = weights.get("vision_model.embeddings.patch_embedding.weight", &[h, c, p, p])?;
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                PreNormLayer::load(weights, &format!("vision_model.encoder.layers.{i}"), &CLIP_NAMES, cfg.dims(), act)
            })
            .collect::<Result<_>>()?;
        let norm = |name: &str| LayerNorm::load(weights, name, h, cfg.layer_norm_eps);
        Ok(ClipVision {
            patch: Linear::new(conv, vec![0.0; h], c * p * p, h),
            class_embedding: weights.get("vision_model.embeddings.class_embedding", &[h])?,
            position_embedding: weights.get("vision_model.embeddings.position_embedding.weight", &[cfg.tokens(), h])?,
            pre_norm: norm("vision_model.pre_layrnorm")?,
            layers,
            post_norm: norm("vision_model.post_layernorm")?,
            projection: Linear::load_without_bias(weights, "visual_projection", h, projection_dim)?,
            cfg: cfg.clone(),
        })
    }

    /// Projected (not yet normalised) embeddings of `n` images given as CHW `f32` pixels
    /// `[channels, image_size, image_size]` laid end to end.
    pub fn forward(&self, pixels: &[f32], n: usize, exec: Exec) -> Vec<Vec<f32>> {
        let (h, tokens, s) = (self.cfg.hidden_size, self.cfg.tokens(), self.cfg.image_size);
        let per_image = self.cfg.num_channels * s * s;
        assert_eq!(pixels.len(), n * per_image, "pixel buffer does not hold {n} images of {s}×{s}");
        let patches = self.patches(pixels, n);
        let mut embedded = Vec::new();
        self.patch.forward(&patches, n * (tokens - 1), &mut embedded, exec);

        let mut hidden = Vec::with_capacity(n * tokens * h);
        for image in embedded.chunks_exact((tokens - 1) * h) {
            hidden.extend_from_slice(&self.class_embedding);
            hidden.extend_from_slice(image);
        }
        for image in hidden.chunks_exact_mut(tokens * h) {
            for (v, p) in image.iter_mut().zip(&self.position_embedding) {
                *v += *p;
            }
        }
        self.pre_norm.apply(&mut hidden, &[], exec);
        let packed = Packed::uniform(n, tokens);
        run_prenorm_layers(&self.layers, &mut hidden, &packed, Mask::default(), exec);

        let mut pooled: Vec<f32> =
            hidden.chunks_exact(tokens * h).flat_map(|image| image[..h].iter().copied()).collect();
        self.post_norm.apply(&mut pooled, &[], exec);
        let mut projected = Vec::new();
        self.projection.forward(&pooled, n, &mut projected, exec);
        projected.chunks_exact(self.projection.outputs()).map(<[f32]>::to_vec).collect()
    }

    /// Rows of flattened patches, `[n · grid², channels · patch²]`, in row-major patch order.
    fn patches(&self, pixels: &[f32], n: usize) -> Vec<f32> {
        let (c, p, s, grid) = (self.cfg.num_channels, self.cfg.patch_size, self.cfg.image_size, self.cfg.grid());
        let mut out = Vec::with_capacity(n * grid * grid * c * p * p);
        for image in pixels.chunks_exact(c * s * s) {
            for gy in 0..grid {
                for gx in 0..grid {
                    for ch in 0..c {
                        for y in 0..p {
                            let row = (ch * s + gy * p + y) * s + gx * p;
                            out.extend_from_slice(&image[row..row + p]);
                        }
                    }
                }
            }
        }
        out
    }
}
