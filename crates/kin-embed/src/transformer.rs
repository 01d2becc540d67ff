//! The post-LayerNorm transformer encoder layer shared by BERT and MPNet, run on packed
//! sequences: every token of every sequence in one matrix, with no padding anywhere.

use rayon::prelude::*;

use gemm::Parallelism;

use crate::int8::Activations;
use crate::kernels::{add_layer_norm, gelu, softmax};
use crate::linear::Linear;
use crate::weights::Weights;
use crate::Result;

/// Whether one forward pass spreads its work over all threads, or keeps to the calling thread
/// (when several batches run side by side, one per thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exec {
    Parallel,
    Sequential,
}

impl Exec {
    /// Runs `f(i, row)` over the `width`-wide rows of `x`.
    pub fn for_rows(self, x: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Send + Sync) {
        match self {
            Exec::Parallel => x.par_chunks_mut(width).enumerate().for_each(|(i, row)| f(i, row)),
            Exec::Sequential => x.chunks_mut(width).enumerate().for_each(|(i, row)| f(i, row)),
        }
    }
}

/// Sequences laid end to end: token `t` of sequence `s` is row `offsets[s] + t`.
#[derive(Debug, Clone, Default)]
pub struct Packed {
    pub ids: Vec<u32>,
    pub offsets: Vec<usize>,
}

impl Packed {
    pub fn from_sequences<'a>(seqs: impl IntoIterator<Item = &'a [u32]>) -> Self {
        let mut packed = Packed { ids: Vec::new(), offsets: vec![0] };
        for s in seqs {
            packed.ids.extend_from_slice(s);
            packed.offsets.push(packed.ids.len());
        }
        packed
    }

    /// `n` sequences of `len` tokens each, with no ids (the tokens are given as embeddings).
    pub fn uniform(n: usize, len: usize) -> Self {
        Packed { ids: Vec::new(), offsets: (0..=n).map(|i| i * len).collect() }
    }

    pub fn tokens(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0)
    }

    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn ranges(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        self.offsets.windows(2).map(|w| w[0]..w[1])
    }
}

/// Layer normalisation parameters.
pub struct LayerNorm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

impl LayerNorm {
    pub fn load(weights: &Weights, prefix: &str, size: usize, eps: f32) -> Result<Self> {
        Ok(LayerNorm {
            gamma: weights.get(&format!("{prefix}.weight"), &[size])?,
            beta: weights.get(&format!("{prefix}.bias"), &[size])?,
            eps,
        })
    }

    /// `out = LN(x)` row by row.
    pub fn apply_to(&self, x: &[f32], out: &mut Vec<f32>, exec: Exec) {
        out.clear();
        out.extend_from_slice(x);
        self.apply(out, &[], exec);
    }

    /// `x = LN(x + residual)` row by row (`residual` may be empty).
    pub fn apply(&self, x: &mut [f32], residual: &[f32], exec: Exec) {
        let h = self.gamma.len();
        exec.for_rows(x, h, |i, row| {
            let res = residual.get(i * h..(i + 1) * h).unwrap_or(&[]);
            add_layer_norm(row, res, &self.gamma, &self.beta, self.eps);
        });
    }
}

/// An additive attention bias that depends only on the key's offset from the query
/// (MPNet's relative position buckets): `table[head][(j − i) + max_len − 1]`.
pub struct RelativeBias {
    pub table: Vec<Vec<f32>>,
    pub max_len: usize,
}

impl RelativeBias {
    /// The biases of query `i` against keys `0..len` for one head.
    fn row(&self, head: usize, i: usize, len: usize) -> &[f32] {
        let start = self.max_len - 1 - i;
        &self.table[head][start..start + len]
    }
}

/// Tensor names of one layer, relative to the layer's prefix.
pub struct LayerNames {
    pub query: &'static str,
    pub key: &'static str,
    pub value: &'static str,
    pub attn_out: &'static str,
    pub attn_norm: &'static str,
    pub ffn_in: &'static str,
    pub ffn_out: &'static str,
    pub ffn_norm: &'static str,
}

/// Sizes shared by the encoder architectures kin runs.
#[derive(Debug, Clone, Copy)]
pub struct Dims {
    pub hidden: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub eps: f32,
}

/// Self-attention and feed-forward blocks, each followed by residual add and LayerNorm.
pub struct EncoderLayer {
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    ffn_norm: LayerNorm,
    dims: Dims,
}

/// Buffers reused from layer to layer.
#[derive(Default)]
pub struct Scratch {
    qkv: Vec<f32>,
    ctx: Vec<f32>,
    attn: Vec<f32>,
    inter: Vec<f32>,
}

impl EncoderLayer {
    pub fn load(weights: &Weights, prefix: &str, names: &LayerNames, dims: Dims) -> Result<Self> {
        let (h, i) = (dims.hidden, dims.intermediate);
        let linear = |name: &str, inputs, outputs| Linear::load(weights, &format!("{prefix}.{name}"), inputs, outputs);
        let qkv =
            Linear::concat(vec![linear(names.query, h, h)?, linear(names.key, h, h)?, linear(names.value, h, h)?]);
        Ok(EncoderLayer {
            qkv,
            attn_out: linear(names.attn_out, h, h)?,
            attn_norm: LayerNorm::load(weights, &format!("{prefix}.{}", names.attn_norm), h, dims.eps)?,
            ffn_in: linear(names.ffn_in, h, i)?,
            ffn_out: linear(names.ffn_out, i, h)?,
            ffn_norm: LayerNorm::load(weights, &format!("{prefix}.{}", names.ffn_norm), h, dims.eps)?,
            dims,
        })
    }

    /// Moves the four dense layers to int8. The feed-forward output reads GELU outputs, a few
    /// of them far above the rest: it takes wide codes (with 8-bit codes there,
    /// all-mpnet-base-v2's worst golden cosine to f32 was 0.964 instead of 0.990).
    pub fn quantize(&mut self) {
        for linear in [&mut self.qkv, &mut self.attn_out, &mut self.ffn_in] {
            linear.quantize(Activations::Narrow);
        }
        self.ffn_out.quantize(Activations::Wide);
    }

    /// Runs the layer on `hidden` (`[tokens, hidden]`), in place.
    pub fn forward(
        &self,
        hidden: &mut Vec<f32>,
        packed: &Packed,
        bias: Option<&RelativeBias>,
        s: &mut Scratch,
        exec: Exec,
    ) {
        let rows = packed.tokens();
        self.qkv.forward(hidden, rows, &mut s.qkv, exec);
        attention(&s.qkv, packed, self.dims, Mask { bias, causal: false }, &mut s.ctx, exec);
        self.attn_out.forward(&s.ctx, rows, &mut s.attn, exec);
        self.attn_norm.apply(&mut s.attn, hidden, exec);

        self.ffn_in.forward(&s.attn, rows, &mut s.inter, exec);
        exec.for_rows(&mut s.inter, self.dims.intermediate * 16, |_, c| gelu(c));
        self.ffn_out.forward(&s.inter, rows, hidden, exec);
        self.ffn_norm.apply(hidden, &s.attn, exec);
    }
}

/// Runs `layers` in order on `hidden` (`[tokens, hidden]`), in place.
pub fn run_layers(
    layers: &[EncoderLayer],
    hidden: &mut Vec<f32>,
    packed: &Packed,
    bias: Option<&RelativeBias>,
    exec: Exec,
) {
    let mut scratch = Scratch::default();
    for layer in layers {
        layer.forward(hidden, packed, bias, &mut scratch, exec);
    }
}

/// What a query may see besides the plain scaled scores.
#[derive(Clone, Copy, Default)]
pub struct Mask<'a> {
    /// Added to the scores (MPNet's relative positions).
    pub bias: Option<&'a RelativeBias>,
    /// Query `i` sees keys `0..=i` only (CLIP's text tower).
    pub causal: bool,
}

/// Scaled dot-product attention of every sequence with itself; `qkv` rows are `[q | k | v]`.
pub fn attention(qkv: &[f32], packed: &Packed, dims: Dims, mask: Mask<'_>, ctx: &mut Vec<f32>, exec: Exec) {
    let h = dims.hidden;
    ctx.clear();
    ctx.resize(packed.tokens() * h, 0.0);
    // Split the output into one disjoint slice per sequence, then work on them in parallel.
    let mut outs = Vec::with_capacity(packed.len());
    let mut rest = ctx.as_mut_slice();
    for r in packed.ranges() {
        let (head, tail) = rest.split_at_mut(r.len() * h);
        outs.push((r, head));
        rest = tail;
    }
    let run = |scores: &mut Vec<f32>, (r, out): (std::ops::Range<usize>, &mut [f32])| {
        attend_sequence(&qkv[r.start * 3 * h..r.end * 3 * h], out, dims.heads, h, mask, scores);
    };
    match exec {
        Exec::Parallel => outs.into_par_iter().for_each_init(Vec::new, run),
        Exec::Sequential => {
            let mut scores = Vec::new();
            outs.into_iter().for_each(|item| run(&mut scores, item));
        }
    }
}

/// Attention of one sequence: `qkv` is `[len, 3·hidden]`, `out` is `[len, hidden]`.
/// Per head: `S = Q·Kᵀ/√d (+ bias)`, row softmax, `O = S·V`, the products on `gemm`.
fn attend_sequence(qkv: &[f32], out: &mut [f32], heads: usize, hidden: usize, mask: Mask<'_>, scores: &mut Vec<f32>) {
    let d = hidden / heads;
    let len = out.len() / hidden;
    assert!(qkv.len() >= len * 3 * hidden && len * hidden == out.len());
    let stride = 3 * hidden;
    let scale = 1.0 / (d as f32).sqrt();
    scores.clear();
    scores.resize(len * len, 0.0);
    for head in 0..heads {
        let (q, k, v) = (head * d, hidden + head * d, 2 * hidden + head * d);
        // SAFETY: `q`, `k`, `v` start inside `qkv` and the strides visit `len` rows of `d`
        // columns within it (asserted above); `scores` holds `len²` values; the output block
        // (rows of `hidden`, columns `head·d..head·d + d`) lies inside `out`. No operand aliases
        // the destination.
        unsafe {
            gemm::gemm(
                len,
                len,
                d,
                scores.as_mut_ptr(),
                1,
                len as isize,
                false,
                qkv.as_ptr().add(q),
                1,
                stride as isize,
                qkv.as_ptr().add(k),
                stride as isize,
                1,
                0.0,
                scale,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
        for (i, row) in scores.chunks_exact_mut(len).enumerate() {
            if let Some(bias) = mask.bias {
                for (s, b) in row.iter_mut().zip(bias.row(head, i, len)) {
                    *s += *b;
                }
            }
            if mask.causal {
                let (seen, hidden_keys) = row.split_at_mut(i + 1);
                softmax(seen);
                hidden_keys.fill(0.0);
            } else {
                softmax(row);
            }
        }
        // SAFETY: as above.
        unsafe {
            gemm::gemm(
                len,
                d,
                len,
                out.as_mut_ptr().add(head * d),
                1,
                hidden as isize,
                false,
                scores.as_ptr(),
                1,
                len as isize,
                qkv.as_ptr().add(v),
                1,
                stride as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                Parallelism::None,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attention_matches_naive_and_rows_are_convex_mixes_of_values() {
        let (len, hidden, heads) = (9, 16, 2);
        let d = hidden / heads;
        let qkv: Vec<f32> = (0..len * 3 * hidden).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
        let mut a = vec![0.0; len * hidden];
        attend_sequence(&qkv, &mut a, heads, hidden, Mask::default(), &mut Vec::new());
        let at = |r: usize, c: usize| qkv[r * 3 * hidden + c] as f64;
        for head in 0..heads {
            for i in 0..len {
                let s: Vec<f64> = (0..len)
                    .map(|j| {
                        (0..d).map(|t| at(i, head * d + t) * at(j, hidden + head * d + t)).sum::<f64>()
                            / (d as f64).sqrt()
                    })
                    .collect();
                let m = s.iter().cloned().fold(f64::MIN, f64::max);
                let e: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for t in 0..d {
                    let want: f64 = (0..len).map(|j| e[j] / z * at(j, 2 * hidden + head * d + t)).sum();
                    assert!((a[i * hidden + head * d + t] as f64 - want).abs() < 1e-5);
                }
            }
        }
        // Each output lies within the range of its value column.
        for c in 0..hidden {
            let vals: Vec<f32> = (0..len).map(|j| qkv[j * 3 * hidden + 2 * hidden + c]).collect();
            let (lo, hi) = vals.iter().fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
            for i in 0..len {
                assert!(a[i * hidden + c] >= lo - 1e-5 && a[i * hidden + c] <= hi + 1e-5);
            }
        }
    }

    #[test]
    fn causal_attention_equals_attention_over_each_prefix() {
        let (len, hidden, heads) = (6, 8, 2);
        let qkv: Vec<f32> = (0..len * 3 * hidden).map(|i| ((i * 29 % 19) as f32 - 9.0) / 5.0).collect();
        let causal = Mask { bias: None, causal: true };
        let mut full = vec![0.0; len * hidden];
        attend_sequence(&qkv, &mut full, heads, hidden, causal, &mut Vec::new());
        for i in 0..len {
            // Row i of causal attention is the last row of plain attention over the first i+1 tokens.
            let mut prefix = vec![0.0; (i + 1) * hidden];
            attend_sequence(&qkv[..(i + 1) * 3 * hidden], &mut prefix, heads, hidden, Mask::default(), &mut Vec::new());
            for c in 0..hidden {
                assert!((full[i * hidden + c] - prefix[i * hidden + c]).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn packing_keeps_sequence_bounds() {
        let p = Packed::from_sequences([&[1u32, 2, 3][..], &[4][..], &[][..]]);
        assert_eq!(p.tokens(), 4);
        assert_eq!(p.ranges().collect::<Vec<_>>(), vec![0..3, 3..4, 4..4]);
    }
}
