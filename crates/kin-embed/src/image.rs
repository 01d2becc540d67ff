//! Image embedders: each checkpoint's own preprocessing (from its `preprocessor_config.json`, or
//! its family's reference pipeline), then a vision network. Images are preprocessed in parallel.

use std::path::Path;

use kin_core::Modality;
use kin_image::{preprocess, Image, Pixels, PreprocessConfig};

use crate::resnet::ResNet;
use crate::transformer::Exec;
use crate::{Embedder, Embeddings, Error, Result};

/// The CLIP image processor of `openai/clip-vit-*` (shortest side to 224 bicubic, centre crop).
pub(crate) const CLIP_PREPROCESSOR: &str = r#"{
  "image_processor_type": "CLIPImageProcessor",
  "size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}, "resample": 3,
  "do_resize": true, "do_center_crop": true, "do_rescale": true, "rescale_factor": 0.00392156862745098,
  "do_normalize": true, "image_mean": [0.48145466, 0.4578275, 0.40821073],
  "image_std": [0.26862954, 0.26130258, 0.27577711], "do_convert_rgb": true
}"#;

/// The image processor of `microsoft/resnet-50` (shortest side to 256, centre crop 224).
const RESNET_PREPROCESSOR: &str = r#"{
  "image_processor_type": "ConvNextImageProcessor", "crop_pct": 0.875, "size": {"shortest_edge": 224},
  "resample": 3, "do_resize": true, "do_rescale": true, "rescale_factor": 0.00392156862745098,
  "do_normalize": true, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]
}"#;

/// The folder's `preprocessor_config.json`, or `default` (a reference processor's settings).
pub(crate) fn load_preprocessor(dir: &Path, default: &str) -> Result<PreprocessConfig> {
    let path = dir.join("preprocessor_config.json");
    let cfg =
        if path.is_file() { PreprocessConfig::from_hf_file(&path)? } else { PreprocessConfig::from_hf_json(default)? };
    cfg.validate()?;
    Ok(cfg)
}

/// Preprocesses one image and checks it has the side the network takes.
pub(crate) fn preprocess_checked(image: &Image, cfg: &PreprocessConfig, side: Option<usize>) -> Result<Pixels> {
    let pixels = preprocess(image, cfg);
    if let Some(s) = side {
        if (pixels.height, pixels.width) != (s, s) {
            return Err(Error::ImageSize { index: 0, got: (pixels.height, pixels.width), expected: (s, s) });
        }
    }
    Ok(pixels)
}

/// Lays preprocessed images end to end; all must share one size. Returns `(data, height, width)`.
pub(crate) fn stack(pixels: &[Pixels]) -> Result<(Vec<f32>, usize, usize)> {
    let (height, width) = pixels.first().map_or((0, 0), |p| (p.height, p.width));
    let mut data = Vec::with_capacity(pixels.iter().map(|p| p.data.len()).sum());
    for (index, p) in pixels.iter().enumerate() {
        if (p.height, p.width, p.channels) != (height, width, 3) || p.data.len() != 3 * height * width {
            return Err(Error::ImageSize { index, got: (p.height, p.width), expected: (height, width) });
        }
        data.extend_from_slice(&p.data);
    }
    Ok((data, height, width))
}

/// A ResNet image encoder (Hugging Face `microsoft/resnet-50` or a torchvision `resnet50`
/// state dict) with its preprocessing.
pub struct ResNetEncoder {
    name: String,
    net: ResNet,
    preprocess: PreprocessConfig,
}

impl ResNetEncoder {
    /// Loads a folder. Hugging Face checkpoints preprocess as their `preprocessor_config.json`
    /// says (`microsoft/resnet-50`'s when absent); torchvision checkpoints (no `config.json`) as
    /// torchvision's ImageNet transforms: resize 256, crop 224.
    pub fn load(dir: &Path, name: &str) -> Result<Self> {
        let net = ResNet::load(dir)?;
        let preprocess = if dir.join("config.json").is_file() || dir.join("preprocessor_config.json").is_file() {
            load_preprocessor(dir, RESNET_PREPROCESSOR)?
        } else {
            PreprocessConfig::torchvision_classification(256, 224)
        };
        Ok(ResNetEncoder { name: name.to_string(), net, preprocess })
    }

    /// The network itself (for callers holding raw CHW tensors).
    pub fn net(&self) -> &ResNet {
        &self.net
    }
}

impl Embedder for ResNetEncoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.net.dim()
    }

    fn modalities(&self) -> &[Modality] {
        &[Modality::Image]
    }

    fn normalized(&self) -> bool {
        false
    }

    fn preprocess_image(&self, image: &Image) -> Result<Pixels> {
        preprocess_checked(image, &self.preprocess, None)
    }

    fn embed_pixels(&self, pixels: &[Pixels]) -> Result<Embeddings> {
        let (data, height, width) = stack(pixels)?;
        Ok(self.net.forward(&data, pixels.len(), height, width, Exec::Parallel))
    }
}
