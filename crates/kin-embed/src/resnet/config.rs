//! The shape of a ResNet, from Hugging Face's `config.json` or from the tensor shapes of a
//! torchvision state dict, and the tensor names of each layout.

use std::path::Path;

use serde::Deserialize;

use crate::state_dict::Checkpoint;
use crate::{Error, Result};

/// Hugging Face's `ResNetConfig`; the defaults are ResNet-50's (`microsoft/resnet-50`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ResNetConfig {
    pub model_type: Option<String>,
    pub num_channels: usize,
    pub embedding_size: usize,
    pub hidden_sizes: Vec<usize>,
    pub depths: Vec<usize>,
    pub layer_type: String,
    pub hidden_act: String,
    pub downsample_in_first_stage: bool,
    pub downsample_in_bottleneck: bool,
}

impl Default for ResNetConfig {
    fn default() -> Self {
        ResNetConfig {
            model_type: Some("resnet".into()),
            num_channels: 3,
            embedding_size: 64,
            hidden_sizes: vec![256, 512, 1024, 2048],
            depths: vec![3, 4, 6, 3],
            layer_type: "bottleneck".into(),
            hidden_act: "relu".into(),
            downsample_in_first_stage: false,
            downsample_in_bottleneck: false,
        }
    }
}

/// The shape of the network, whichever layout it came from.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Plan {
    pub(super) channels: usize,
    pub(super) stem: usize,
    pub(super) bottleneck: bool,
    /// Bottlenecks downsample in their first 1×1 convolution rather than in the 3×3 one.
    pub(super) stride_on_1x1: bool,
    pub(super) stages: Vec<StagePlan>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct StagePlan {
    pub(super) depth: usize,
    pub(super) outputs: usize,
    /// Channels inside a bottleneck (its 3×3 convolution); `outputs` for basic blocks.
    pub(super) width: usize,
    pub(super) stride: usize,
}

impl ResNetConfig {
    pub(super) fn plan(&self, path: &Path) -> Result<Plan> {
        let invalid = |message: String| Error::InvalidConfig { path: path.to_path_buf(), message };
        let bottleneck = match self.layer_type.as_str() {
            "bottleneck" => true,
            "basic" => false,
            other => return Err(invalid(format!("layer_type {other:?} is not \"bottleneck\" or \"basic\""))),
        };
        if self.hidden_act != "relu" {
            return Err(invalid(format!("hidden_act {:?}: kin's ResNet runs \"relu\"", self.hidden_act)));
        }
        if self.depths.len() != self.hidden_sizes.len() || self.depths.is_empty() || self.depths.contains(&0) {
            return Err(invalid(format!("depths {:?} do not fit hidden_sizes {:?}", self.depths, self.hidden_sizes)));
        }
        let first_stride = if self.downsample_in_first_stage { 2 } else { 1 };
        let stages = (self.depths.iter().zip(&self.hidden_sizes).enumerate())
            .map(|(s, (&depth, &outputs))| StagePlan {
                depth,
                outputs,
                width: if bottleneck { outputs / 4 } else { outputs },
                stride: if s == 0 { first_stride } else { 2 },
            })
            .collect();
        Ok(Plan {
            channels: self.num_channels,
            stem: self.embedding_size,
            bottleneck,
            stride_on_1x1: self.downsample_in_bottleneck,
            stages,
        })
    }
}

/// Tensor names of the two checkpoint layouts: `(convolution weight, BatchNorm prefix)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Layout {
    HuggingFace,
    Torchvision,
}

impl Layout {
    pub(super) fn stem(self) -> (String, String) {
        match self {
            Layout::HuggingFace => {
                ("embedder.embedder.convolution.weight".into(), "embedder.embedder.normalization".into())
            }
            Layout::Torchvision => ("conv1.weight".into(), "bn1".into()),
        }
    }

    pub(super) fn conv(self, stage: usize, block: usize, j: usize) -> (String, String) {
        match self {
            Layout::HuggingFace => {
                let p = format!("encoder.stages.{stage}.layers.{block}.layer.{j}");
                (format!("{p}.convolution.weight"), format!("{p}.normalization"))
            }
            Layout::Torchvision => {
                let p = format!("layer{}.{block}", stage + 1);
                (format!("{p}.conv{}.weight", j + 1), format!("{p}.bn{}", j + 1))
            }
        }
    }

    pub(super) fn shortcut(self, stage: usize, block: usize) -> (String, String) {
        match self {
            Layout::HuggingFace => {
                let p = format!("encoder.stages.{stage}.layers.{block}.shortcut");
                (format!("{p}.convolution.weight"), format!("{p}.normalization"))
            }
            Layout::Torchvision => {
                let p = format!("layer{}.{block}.downsample", stage + 1);
                (format!("{p}.0.weight"), format!("{p}.1"))
            }
        }
    }
}

/// Reads torchvision's architecture off the tensor shapes: any depth and width per stage, basic
/// or bottleneck blocks, the stride in the 3×3 convolution (ResNet v1.5).
pub(super) fn torchvision_plan(weights: &dyn Checkpoint) -> Result<Plan> {
    let (stem_name, _) = Layout::Torchvision.stem();
    let missing = |name: String| Error::MissingTensor { path: weights.path().to_path_buf(), name };
    let stem = weights.shape(&stem_name).ok_or_else(|| missing(stem_name.clone()))?;
    if stem.len() != 4 {
        let path = weights.path().to_path_buf();
        return Err(Error::TensorShape { path, name: stem_name, expected: vec![64, 3, 7, 7], got: stem });
    }
    let bottleneck = weights.shape("layer1.0.conv3.weight").is_some();
    let last = if bottleneck { 2 } else { 1 };
    let mut stages = Vec::new();
    for s in 0.. {
        let depth = (0..).take_while(|&b| weights.shape(&Layout::Torchvision.conv(s, b, 0).0).is_some()).count();
        if depth == 0 {
            break;
        }
        let dim0 = |j: usize| {
            let name = Layout::Torchvision.conv(s, 0, j).0;
            weights.shape(&name).map(|shape| shape[0]).ok_or_else(|| missing(name))
        };
        stages.push(StagePlan { depth, outputs: dim0(last)?, width: dim0(0)?, stride: if s == 0 { 1 } else { 2 } });
    }
    if stages.is_empty() {
        return Err(missing(Layout::Torchvision.conv(0, 0, 0).0));
    }
    Ok(Plan { channels: stem[1], stem: stem[0], bottleneck, stride_on_1x1: false, stages })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_config_is_resnet_50_v1_5() {
        let plan = ResNetConfig::default().plan(Path::new("config.json")).unwrap();
        assert_eq!((plan.channels, plan.stem, plan.bottleneck, plan.stride_on_1x1), (3, 64, true, false));
        let stages: Vec<_> = plan.stages.iter().map(|s| (s.depth, s.outputs, s.width, s.stride)).collect();
        assert_eq!(stages, [(3, 256, 64, 1), (4, 512, 128, 2), (6, 1024, 256, 2), (3, 2048, 512, 2)]);
    }

    #[test]
    fn layouts_name_the_same_tensor() {
        let hf = Layout::HuggingFace.conv(1, 2, 0);
        assert_eq!(hf.0, "encoder.stages.1.layers.2.layer.0.convolution.weight");
        assert_eq!(Layout::Torchvision.conv(1, 2, 0), ("layer2.2.conv1.weight".into(), "layer2.2.bn1".into()));
        assert_eq!(Layout::Torchvision.shortcut(0, 0).1, "layer1.0.downsample.1");
    }
}
