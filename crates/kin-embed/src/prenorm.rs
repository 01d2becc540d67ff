//! The pre-LayerNorm transformer layer of CLIP's towers (and of ViT-style encoders in general):
//! `x += Attn(LN₁(x))`, then `x += MLP(LN₂(x))`, on packed sequences.

use crate::kernels::{gelu, quick_gelu};
use crate::linear::Linear;
use crate::transformer::{attention, Dims, Exec, LayerNorm, Mask, Packed};
use crate::weights::Weights;
use crate::{Error, Result};

/// The MLP's non-linearity, as `config.json`'s `hidden_act` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Gelu,
    QuickGelu,
}

impl Activation {
    pub fn parse(name: &str, path: &std::path::Path) -> Result<Self> {
        match name {
            "gelu" => Ok(Activation::Gelu),
            "quick_gelu" => Ok(Activation::QuickGelu),
            other => Err(Error::InvalidConfig {
                path: path.to_path_buf(),
                message: format!("hidden_act {other:?} is not supported (kin runs gelu and quick_gelu)"),
            }),
        }
    }

    fn apply(self, x: &mut [f32], width: usize, exec: Exec) {
        match self {
            Activation::Gelu => exec.for_rows(x, width, |_, row| gelu(row)),
            Activation::QuickGelu => exec.for_rows(x, width, |_, row| quick_gelu(row)),
        }
    }
}

/// Tensor names of one pre-norm layer, relative to the layer's prefix.
pub struct PreNormNames {
    pub norm1: &'static str,
    pub query: &'static str,
    pub key: &'static str,
    pub value: &'static str,
    pub attn_out: &'static str,
    pub norm2: &'static str,
    pub fc1: &'static str,
    pub fc2: &'static str,
    /// Whether the key projection has a bias (Whisper's has none).
    pub key_bias: bool,
}

/// CLIP's names (`CLIPEncoderLayer`).
pub const CLIP_NAMES: PreNormNames = PreNormNames {
    norm1: "layer_norm1",
    query: "self_attn.q_proj",
    key: "self_attn.k_proj",
    value: "self_attn.v_proj",
    attn_out: "self_attn.out_proj",
    norm2: "layer_norm2",
    fc1: "mlp.fc1",
    fc2: "mlp.fc2",
    key_bias: true,
};

/// Whisper's names (`WhisperEncoderLayer`).
pub const WHISPER_NAMES: PreNormNames = PreNormNames {
    norm1: "self_attn_layer_norm",
    query: "self_attn.q_proj",
    key: "self_attn.k_proj",
    value: "self_attn.v_proj",
    attn_out: "self_attn.out_proj",
    norm2: "final_layer_norm",
    fc1: "fc1",
    fc2: "fc2",
    key_bias: false,
};

/// Self-attention and MLP blocks, each preceded by LayerNorm and wrapped in a residual add.
pub struct PreNormLayer {
    norm1: LayerNorm,
    qkv: Linear,
    attn_out: Linear,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    act: Activation,
    dims: Dims,
}

/// Buffers reused from layer to layer.
#[derive(Default)]
pub struct PreNormScratch {
    normed: Vec<f32>,
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    inter: Vec<f32>,
}

impl PreNormLayer {
    pub fn load(weights: &Weights, prefix: &str, names: &PreNormNames, dims: Dims, act: Activation) -> Result<Self> {
        let (h, i) = (dims.hidden, dims.intermediate);
        let linear = |name: &str, inputs, outputs| Linear::load(weights, &format!("{prefix}.{name}"), inputs, outputs);
        let norm = |name: &str| LayerNorm::load(weights, &format!("{prefix}.{name}"), h, dims.eps);
        Ok(PreNormLayer {
            norm1: norm(names.norm1)?,
            qkv: Linear::concat(vec![
                linear(names.query, h, h)?,
                if names.key_bias {
                    linear(names.key, h, h)?
                } else {
                    Linear::load_without_bias(weights, &format!("{prefix}.{}", names.key), h, h)?
                },
                linear(names.value, h, h)?,
            ]),
            attn_out: linear(names.attn_out, h, h)?,
            norm2: norm(names.norm2)?,
            fc1: linear(names.fc1, h, i)?,
            fc2: linear(names.fc2, i, h)?,
            act,
            dims,
        })
    }

    /// Runs the layer on `hidden` (`[tokens, hidden]`), in place.
    pub fn forward(&self, hidden: &mut [f32], packed: &Packed, mask: Mask<'_>, s: &mut PreNormScratch, exec: Exec) {
        let rows = packed.tokens();
        self.norm1.apply_to(hidden, &mut s.normed, exec);
        self.qkv.forward(&s.normed, rows, &mut s.qkv, exec);
        attention(&s.qkv, packed, self.dims, mask, &mut s.ctx, exec);
        self.attn_out.forward_add(&s.ctx, rows, hidden, exec);

        self.norm2.apply_to(hidden, &mut s.normed, exec);
        self.fc1.forward(&s.normed, rows, &mut s.inter, exec);
        self.act.apply(&mut s.inter, self.dims.intermediate * 16, exec);
        self.fc2.forward_add(&s.inter, rows, hidden, exec);
    }
}

/// Runs `layers` in order on `hidden` (`[tokens, hidden]`), in place.
pub fn run_prenorm_layers(layers: &[PreNormLayer], hidden: &mut [f32], packed: &Packed, mask: Mask<'_>, exec: Exec) {
    let mut scratch = PreNormScratch::default();
    for layer in layers {
        layer.forward(hidden, packed, mask, &mut scratch, exec);
    }
}
