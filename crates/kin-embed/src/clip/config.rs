//! CLIP's `config.json`: one section per tower and the shared projection size. Fields a
//! checkpoint leaves out take transformers' defaults (those of `openai/clip-vit-base-patch32`).

use std::path::Path;

use serde::Deserialize;

use crate::prenorm::Activation;
use crate::transformer::Dims;
use crate::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
pub struct ClipConfig {
    #[serde(default = "default_projection_dim")]
    pub projection_dim: usize,
    #[serde(default)]
    pub text_config: ClipTextConfig,
    #[serde(default)]
    pub vision_config: ClipVisionConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ClipTextConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub max_position_embeddings: usize,
    pub hidden_act: String,
    pub layer_norm_eps: f32,
    /// `2` in checkpoints saved before transformers fixed the field: the pooled token is then the
    /// one with the highest id (the end-of-text token in CLIP's vocabulary).
    pub eos_token_id: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ClipVisionConfig {
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_channels: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub hidden_act: String,
    pub layer_norm_eps: f32,
}

fn default_projection_dim() -> usize {
    512
}

impl Default for ClipTextConfig {
    fn default() -> Self {
        ClipTextConfig {
            vocab_size: 49408,
            hidden_size: 512,
            intermediate_size: 2048,
            num_hidden_layers: 12,
            num_attention_heads: 8,
            max_position_embeddings: 77,
            hidden_act: "quick_gelu".into(),
            layer_norm_eps: 1e-5,
            eos_token_id: 49407,
        }
    }
}

impl Default for ClipVisionConfig {
    fn default() -> Self {
        ClipVisionConfig {
            hidden_size: 768,
            intermediate_size: 3072,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            num_channels: 3,
            image_size: 224,
            patch_size: 32,
            hidden_act: "quick_gelu".into(),
            layer_norm_eps: 1e-5,
        }
    }
}

fn invalid(path: &Path, message: String) -> Error {
    Error::InvalidConfig { path: path.to_path_buf(), message }
}

fn check_heads(path: &Path, tower: &str, hidden: usize, heads: usize) -> Result<()> {
    if heads == 0 || hidden == 0 || !hidden.is_multiple_of(heads) {
        return Err(invalid(path, format!("{tower}: hidden_size {hidden} is not a multiple of {heads} heads")));
    }
    Ok(())
}

impl ClipTextConfig {
    pub fn validate(&self, path: &Path) -> Result<()> {
        check_heads(path, "text_config", self.hidden_size, self.num_attention_heads)?;
        if self.max_position_embeddings < 2 {
            return Err(invalid(path, "text_config: max_position_embeddings must be at least 2".into()));
        }
        Activation::parse(&self.hidden_act, path).map(|_| ())
    }

    pub fn dims(&self) -> Dims {
        Dims {
            hidden: self.hidden_size,
            heads: self.num_attention_heads,
            intermediate: self.intermediate_size,
            eps: self.layer_norm_eps,
        }
    }
}

impl ClipVisionConfig {
    pub fn validate(&self, path: &Path) -> Result<()> {
        check_heads(path, "vision_config", self.hidden_size, self.num_attention_heads)?;
        if self.patch_size == 0 || !self.image_size.is_multiple_of(self.patch_size) {
            let (image, patch) = (self.image_size, self.patch_size);
            return Err(invalid(
                path,
                format!("vision_config: image_size {image} is not a multiple of patch_size {patch}"),
            ));
        }
        Activation::parse(&self.hidden_act, path).map(|_| ())
    }

    pub fn dims(&self) -> Dims {
        Dims {
            hidden: self.hidden_size,
            heads: self.num_attention_heads,
            intermediate: self.intermediate_size,
            eps: self.layer_norm_eps,
        }
    }

    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Tokens per image: the class token and one per patch.
    pub fn tokens(&self) -> usize {
        self.grid() * self.grid() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_the_base_patch32_defaults() {
        let cfg: ClipConfig = serde_json::from_str(r#"{"text_config": {"eos_token_id": 2}}"#).unwrap();
        assert_eq!(cfg.projection_dim, 512);
        assert_eq!(cfg.text_config.eos_token_id, 2);
        assert_eq!(cfg.text_config.hidden_size, 512);
        assert_eq!(cfg.vision_config.tokens(), 50);
        cfg.text_config.validate(Path::new("config.json")).unwrap();
        cfg.vision_config.validate(Path::new("config.json")).unwrap();
    }

    #[test]
    fn bad_shapes_are_explained() {
        let mut v = ClipVisionConfig { image_size: 225, ..Default::default() };
        let err = v.validate(Path::new("c.json")).unwrap_err().to_string();
        assert!(err.contains("image_size 225"), "{err}");
        v.image_size = 224;
        v.hidden_act = "swish".into();
        assert!(v.validate(Path::new("c.json")).unwrap_err().to_string().contains("swish"));
    }
}
