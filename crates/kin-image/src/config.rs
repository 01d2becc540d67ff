//! [`PreprocessConfig`]: how a model wants its pixels, from a Hugging Face
//! `preprocessor_config.json` or from torchvision's classification presets.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{ImageError, Result};
use crate::resize::Resample;

/// The mean and standard deviation CLIP was trained with.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// See [`CLIP_MEAN`]. Written with the checkpoint's digits; the `f32` is what both sides use.
#[allow(clippy::excessive_precision)]
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];
/// ImageNet's per-channel mean.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The size a resize aims at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeTo {
    /// The shorter side becomes this; the longer keeps the aspect ratio, truncated (`int(n * long / short)`).
    ShortestEdge(u32),
    /// Exactly this size, aspect ratio ignored.
    Exact { height: u32, width: u32 },
}

impl ResizeTo {
    /// `(height, width)` after resizing an image of `height` × `width`.
    pub fn output_size(self, height: u32, width: u32) -> (u32, u32) {
        match self {
            ResizeTo::Exact { height, width } => (height, width),
            ResizeTo::ShortestEdge(n) => {
                let (short, long) = if width <= height { (width, height) } else { (height, width) };
                let new_long = ((f64::from(n) * f64::from(long) / f64::from(short)) as u32).max(1);
                if width <= height {
                    (new_long, n)
                } else {
                    (n, new_long)
                }
            }
        }
    }
}

/// Where a centre crop starts when the margin is odd, and how it pads an image smaller than the crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CropRule {
    /// Hugging Face: offset `(size - crop) // 2` (floor, also when negative); zeros outside the image.
    Floor,
    /// torchvision: offset `round((size - crop) / 2)`, ties to even; an image smaller than the
    /// crop is first padded with zeros, `(crop - size) // 2` before it.
    RoundHalfEven,
}

impl CropRule {
    /// The source index of the crop's first row (or column); negative means zero padding.
    pub fn offset(self, size: u32, crop: u32) -> i64 {
        let margin = i64::from(size) - i64::from(crop);
        match self {
            CropRule::Floor => margin.div_euclid(2),
            CropRule::RoundHalfEven if margin < 0 => -((-margin) / 2),
            CropRule::RoundHalfEven => {
                let half = margin / 2;
                if margin % 2 == 1 && half % 2 == 1 {
                    half + 1
                } else {
                    half
                }
            }
        }
    }
}

/// `(x * rescale - mean) / std` per channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalize {
    /// Per-channel mean, R G B.
    pub mean: [f32; 3],
    /// Per-channel standard deviation, R G B.
    pub std: [f32; 3],
}

/// How one model wants its pixels: resize, centre crop, rescale, normalise, in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessConfig {
    /// `None` keeps the decoded size.
    pub resize: Option<ResizeTo>,
    /// The filter for the resize.
    pub resample: Resample,
    /// Centre crop to `(height, width)`, `None` for no crop.
    pub crop: Option<(u32, u32)>,
    /// How the crop is placed.
    pub crop_rule: CropRule,
    /// Multiplies each 0..255 sample (`1/255` maps to 0..1); `None` leaves samples as they are.
    pub rescale_factor: Option<f64>,
    /// `None` skips normalisation.
    pub normalize: Option<Normalize>,
    /// Lay transparent images over white first, as transformers' `convert_to_rgb` does for
    /// processors with `do_convert_rgb` (CLIP); otherwise alpha is dropped, as Pillow's
    /// `convert("RGB")` (and so torchvision on PIL images) does.
    pub composite_alpha: bool,
}

impl Default for PreprocessConfig {
    /// CLIP ViT-B/32's preprocessing (`openai/clip-vit-base-patch32`).
    fn default() -> Self {
        PreprocessConfig {
            resize: Some(ResizeTo::ShortestEdge(224)),
            resample: Resample::Bicubic,
            crop: Some((224, 224)),
            crop_rule: CropRule::Floor,
            rescale_factor: Some(1.0 / 255.0),
            normalize: Some(Normalize { mean: CLIP_MEAN, std: CLIP_STD }),
            composite_alpha: true,
        }
    }
}

impl PreprocessConfig {
    /// torchvision's `ImageClassification` preset on a PIL image: bilinear resize of the shorter
    /// side to `resize_size`, centre crop `crop_size`, ImageNet mean and std. ResNet-50's
    /// `IMAGENET1K_V1` weights use (256, 224), `IMAGENET1K_V2` (232, 224).
    pub fn torchvision_classification(resize_size: u32, crop_size: u32) -> Self {
        PreprocessConfig {
            resize: Some(ResizeTo::ShortestEdge(resize_size)),
            resample: Resample::Bilinear,
            crop: Some((crop_size, crop_size)),
            crop_rule: CropRule::RoundHalfEven,
            rescale_factor: Some(1.0 / 255.0),
            normalize: Some(Normalize { mean: IMAGENET_MEAN, std: IMAGENET_STD }),
            composite_alpha: false,
        }
    }

    /// Reads a Hugging Face `preprocessor_config.json`.
    pub fn from_hf_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ImageError::ConfigIo { path: path.to_path_buf(), source })?;
        Self::from_hf_json(&text).map_err(|e| match e {
            ImageError::InvalidConfig { field, message, .. } => {
                ImageError::InvalidConfig { path: Some(path.to_path_buf()), field, message }
            }
            other => other,
        })
    }

    /// Parses the text of a Hugging Face `preprocessor_config.json` (CLIP and ConvNeXt/ResNet processors).
    pub fn from_hf_json(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text).map_err(|e| invalid("(file)", e.to_string()))?;
        let obj = value.as_object().ok_or_else(|| invalid("(file)", "not a JSON object".into()))?;
        crate::hf_config::parse(obj).and_then(|cfg| cfg.validate().map(|()| cfg))
    }

    /// Checks that the sizes are positive and the standard deviations non-zero.
    pub fn validate(&self) -> Result<()> {
        let resize_ok = match self.resize {
            Some(ResizeTo::ShortestEdge(n)) => n > 0,
            Some(ResizeTo::Exact { height, width }) => height > 0 && width > 0,
            None => true,
        };
        if !resize_ok {
            return Err(invalid("size", format!("{:?} has a zero side", self.resize)));
        }
        if matches!(self.crop, Some((h, w)) if h == 0 || w == 0) {
            return Err(invalid("crop_size", format!("{:?} has a zero side", self.crop)));
        }
        if let Some(n) = self.normalize {
            if n.std.iter().any(|&s| s == 0.0 || !s.is_finite()) || n.mean.iter().any(|m| !m.is_finite()) {
                return Err(invalid("image_std", format!("{:?} / {:?} is not usable", n.mean, n.std)));
            }
        }
        Ok(())
    }
}

pub(crate) fn invalid(field: &'static str, message: String) -> ImageError {
    ImageError::InvalidConfig { path: None::<PathBuf>, field, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_edge_truncates_the_long_side() {
        assert_eq!(ResizeTo::ShortestEdge(224).output_size(375, 500), (224, 298));
        assert_eq!(ResizeTo::ShortestEdge(224).output_size(200, 33), (1357, 224));
        assert_eq!(ResizeTo::ShortestEdge(256).output_size(5, 7), (256, 358));
        assert_eq!(ResizeTo::ShortestEdge(224).output_size(300, 300), (224, 224));
    }

    #[test]
    fn crop_offsets_follow_each_convention() {
        assert_eq!(CropRule::Floor.offset(299, 224), 37);
        assert_eq!(CropRule::RoundHalfEven.offset(299, 224), 38);
        assert_eq!(CropRule::RoundHalfEven.offset(229, 224), 2);
        assert_eq!(CropRule::Floor.offset(5, 8), -2);
        assert_eq!(CropRule::RoundHalfEven.offset(5, 8), -1);
    }

    #[test]
    fn validate_refuses_zero_sizes_and_std() {
        assert!(PreprocessConfig::default().validate().is_ok());
        let cfg = PreprocessConfig { crop: Some((0, 224)), ..PreprocessConfig::default() };
        assert!(cfg.validate().is_err());
        let cfg = PreprocessConfig { normalize: Some(Normalize { mean: [0.0; 3], std: [0.0; 3] }), ..cfg };
        assert!(cfg.validate().is_err());
    }
}
