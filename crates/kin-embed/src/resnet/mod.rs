//! ResNet image encoders (ResNet-50 and kin): the global average of the last stage's feature map,
//! the classifier left out. Two checkpoint layouts load into the same network: Hugging Face's
//! (`ResNetModel`, `config.json` with `model_type: "resnet"`) and torchvision's state dict, whose
//! depths and widths are read off the tensor shapes.

mod config;

use std::path::Path;

use rayon::prelude::*;

pub use config::ResNetConfig;
use config::{torchvision_plan, Layout, Plan};

use crate::conv::{global_avg_pool, max_pool_3x3_s2, BatchNorm, Conv2d, Epilogue};
use crate::state_dict::{Checkpoint, StateDict};
use crate::transformer::Exec;
use crate::weights::Weights;
use crate::{Error, Result};

/// BatchNorm's epsilon in both checkpoint families (PyTorch's default).
const BN_EPS: f64 = 1e-5;

/// The folder's weights: `model.safetensors`, else `pytorch_model.bin`, else the first `*.pth`.
fn open_checkpoint(dir: &Path) -> Result<Box<dyn Checkpoint>> {
    let safetensors = dir.join("model.safetensors");
    if safetensors.is_file() {
        return Ok(Box::new(Weights::open(&safetensors, &["resnet."])?));
    }
    let bin = dir.join("pytorch_model.bin");
    let pth = || {
        let mut found: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).collect();
        found.sort();
        found.into_iter().find(|p| p.extension().is_some_and(|e| e == "pth") && p.is_file())
    };
    match Some(bin).filter(|p| p.is_file()).or_else(pth) {
        Some(path) => Ok(Box::new(StateDict::open(&path, &["resnet."])?)),
        None => Err(Error::MissingWeights { path: safetensors }),
    }
}

/// One residual block: its convolutions in order (ReLU after each but the last), and the
/// projection of its input when the block changes shape.
struct Block {
    convs: Vec<Conv2d>,
    shortcut: Option<Conv2d>,
}

/// Buffers reused from block to block for one image.
#[derive(Default)]
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    residual: Vec<f32>,
    out: Vec<f32>,
    cols: Vec<f32>,
}

impl Block {
    /// Runs the block on `x[inputs, h·w]` into `s.out`; returns the output's height and width.
    fn forward(&self, x: &[f32], hw: (usize, usize), s: &mut Scratch, exec: Exec) -> (usize, usize) {
        let (last, inner) = self.convs.split_last().expect("a block has convolutions");
        let (mut t, mut u) = (std::mem::take(&mut s.a), std::mem::take(&mut s.b));
        let mut inner_hw = inner[0].forward(x, hw, &mut t, &mut s.cols, Epilogue::BiasRelu, exec);
        for conv in &inner[1..] {
            inner_hw = conv.forward(&t, inner_hw, &mut u, &mut s.cols, Epilogue::BiasRelu, exec);
            std::mem::swap(&mut t, &mut u);
        }
        let residual: &[f32] = match &self.shortcut {
            Some(proj) => {
                proj.forward(x, hw, &mut s.residual, &mut s.cols, Epilogue::Bias, exec);
                &s.residual
            }
            None => x,
        };
        let out_hw = last.forward(&t, inner_hw, &mut s.out, &mut s.cols, Epilogue::BiasAddRelu(residual), exec);
        (s.a, s.b) = (t, u);
        out_hw
    }
}

/// A ResNet without its classifier: stem (7×7 stride-2 convolution, 3×3 max-pool), stages of
/// residual blocks, global average pooling.
pub struct ResNet {
    channels: usize,
    stem: Conv2d,
    blocks: Vec<Block>,
    dim: usize,
}

impl ResNet {
    /// Loads from a folder holding the weights (`model.safetensors`; else a `torch.save` state
    /// dict: `pytorch_model.bin` or a `*.pth` file) and, for the Hugging Face layout, a
    /// `config.json` with `model_type: "resnet"`. Without one, the tensors are read with
    /// torchvision's names and the architecture (depths, widths, block type) from their shapes.
    pub fn load(dir: &Path) -> Result<Self> {
        let config_path = dir.join("config.json");
        let config = if config_path.is_file() {
            let text = std::fs::read_to_string(&config_path).map_err(|e| Error::io(&config_path, e))?;
            let config: ResNetConfig =
                serde_json::from_str(&text).map_err(|source| Error::Json { path: config_path.clone(), source })?;
            Some(config).filter(|c| c.model_type.as_deref() == Some("resnet"))
        } else {
            None
        };
        let weights = open_checkpoint(dir)?;
        let (plan, layout) = match config {
            Some(config) => (config.plan(&config_path)?, Layout::HuggingFace),
            None => (torchvision_plan(weights.as_ref())?, Layout::Torchvision),
        };
        Self::build(weights.as_ref(), &plan, layout)
    }

    fn build(weights: &dyn Checkpoint, plan: &Plan, layout: Layout) -> Result<Self> {
        let conv = |(name, bn): (String, String), channels: (usize, usize), kernel: usize, stride: usize| {
            let weight = weights.get(&name, &[channels.1, channels.0, kernel, kernel])?;
            let norm = |field: &str| weights.get(&format!("{bn}.{field}"), &[channels.1]);
            let bn = BatchNorm {
                gamma: norm("weight")?,
                beta: norm("bias")?,
                mean: norm("running_mean")?,
                var: norm("running_var")?,
                eps: BN_EPS,
            };
            Ok::<_, Error>(Conv2d::fold(weight, &bn, channels, kernel, stride))
        };
        let stem = conv(layout.stem(), (plan.channels, plan.stem), 7, 2)?;
        let mut blocks = Vec::new();
        let mut inputs = plan.stem;
        for (s, stage) in plan.stages.iter().enumerate() {
            for b in 0..stage.depth {
                let stride = if b == 0 { stage.stride } else { 1 };
                let (out, width) = (stage.outputs, stage.width);
                let convs = if plan.bottleneck {
                    let (s1, s3) = if plan.stride_on_1x1 { (stride, 1) } else { (1, stride) };
                    vec![
                        conv(layout.conv(s, b, 0), (inputs, width), 1, s1)?,
                        conv(layout.conv(s, b, 1), (width, width), 3, s3)?,
                        conv(layout.conv(s, b, 2), (width, out), 1, 1)?,
                    ]
                } else {
                    vec![
                        conv(layout.conv(s, b, 0), (inputs, out), 3, stride)?,
                        conv(layout.conv(s, b, 1), (out, out), 3, 1)?,
                    ]
                };
                let shortcut = if inputs != out || stride != 1 {
                    Some(conv(layout.shortcut(s, b), (inputs, out), 1, stride)?)
                } else {
                    None
                };
                blocks.push(Block { convs, shortcut });
                inputs = out;
            }
        }
        Ok(ResNet { channels: plan.channels, stem, blocks, dim: inputs })
    }

    /// The embedding's length: the last stage's channels (2,048 for ResNet-50).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Embeds `n` images of `channels × h × w` pixels (CHW, laid end to end, already resized and
    /// normalised). Returns one row of `dim()` per image, in input order.
    pub fn forward(&self, pixels: &[f32], n: usize, h: usize, w: usize, exec: Exec) -> Vec<Vec<f32>> {
        let size = self.channels * h * w;
        assert_eq!(pixels.len(), n * size, "expected {n} images of {}×{h}×{w} pixels", self.channels);
        if n == 0 {
            return Vec::new();
        }
        let images: Vec<&[f32]> = pixels.chunks_exact(size.max(1)).take(n).collect();
        let threads = rayon::current_num_threads();
        if exec == Exec::Sequential || threads < 2 {
            return images.iter().map(|img| self.embed(img, (h, w), exec)).collect();
        }
        // Whole rounds of images run one per thread; the remainder share all threads each.
        let split = n - n % threads;
        let mut rows: Vec<Vec<f32>> =
            images[..split].par_iter().map(|img| self.embed(img, (h, w), Exec::Sequential)).collect();
        rows.extend(images[split..].iter().map(|img| self.embed(img, (h, w), Exec::Parallel)));
        rows
    }

    fn embed(&self, image: &[f32], hw: (usize, usize), exec: Exec) -> Vec<f32> {
        let mut s = Scratch::default();
        let mut x = Vec::new();
        let hw = self.stem.forward(image, hw, &mut s.out, &mut s.cols, Epilogue::BiasRelu, exec);
        let mut hw = max_pool_3x3_s2(&s.out, self.stem.outputs(), hw, &mut x, exec);
        for block in &self.blocks {
            hw = block.forward(&x, hw, &mut s, exec);
            std::mem::swap(&mut x, &mut s.out);
        }
        global_avg_pool(&x, self.dim)
    }
}
