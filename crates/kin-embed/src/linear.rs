//! Dense layers over row-major activations, on the `gemm` kernels (or kin's int8 kernels once
//! quantized).

use gemm::Parallelism;

use crate::int8::{Activations, QuantizedWeights};
use crate::transformer::Exec;
use crate::weights::Weights;
use crate::Result;

/// Below this many multiply-adds a matrix product runs on the calling thread.
const PARALLEL_MIN_WORK: usize = 1 << 18;

/// `y = x · Wᵀ + b`, with `W` stored as the checkpoint has it: `[out, in]`, row-major, or
/// quantized to int8 per output channel after [`Linear::quantize`].
pub struct Linear {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
    int8: Option<QuantizedWeights>,
}

impl Linear {
    pub fn new(weight: Vec<f32>, bias: Vec<f32>, inputs: usize, outputs: usize) -> Self {
        debug_assert_eq!(weight.len(), inputs * outputs);
        debug_assert_eq!(bias.len(), outputs);
        Linear { weight, bias, inputs, outputs, int8: None }
    }

    /// Loads `{prefix}.weight` `[out, in]` and `{prefix}.bias` `[out]`.
    pub fn load(weights: &Weights, prefix: &str, inputs: usize, outputs: usize) -> Result<Self> {
        let weight = weights.get(&format!("{prefix}.weight"), &[outputs, inputs])?;
        let bias = weights.get(&format!("{prefix}.bias"), &[outputs])?;
        Ok(Linear::new(weight, bias, inputs, outputs))
    }

    /// Loads `{prefix}.weight` `[out, in]` of a layer without bias (a zero bias stands in).
    pub fn load_without_bias(weights: &Weights, prefix: &str, inputs: usize, outputs: usize) -> Result<Self> {
        let weight = weights.get(&format!("{prefix}.weight"), &[outputs, inputs])?;
        Ok(Linear::new(weight, vec![0.0; outputs], inputs, outputs))
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Replaces the f32 weights with int8 codes (one scale per output); products from then on
    /// run on the int8 kernels, with activations quantized per row as `activations` says.
    pub fn quantize(&mut self, activations: Activations) {
        if self.int8.is_none() {
            self.int8 = Some(QuantizedWeights::new(&self.weight, self.inputs, self.outputs, activations));
            self.weight = Vec::new();
        }
    }

    /// Stacks layers that read the same input into one (e.g. query, key and value).
    pub fn concat(parts: Vec<Linear>) -> Self {
        let inputs = parts[0].inputs;
        let outputs = parts.iter().map(|p| p.outputs).sum();
        let mut weight = Vec::with_capacity(inputs * outputs);
        let mut bias = Vec::with_capacity(outputs);
        for p in parts {
            debug_assert!(p.inputs == inputs && p.int8.is_none());
            weight.extend(p.weight);
            bias.extend(p.bias);
        }
        Linear::new(weight, bias, inputs, outputs)
    }

    /// `y[rows, out] = x[rows, in] · Wᵀ + b`; `y` is overwritten.
    pub fn forward(&self, x: &[f32], rows: usize, y: &mut Vec<f32>, exec: Exec) {
        if let Some(q) = &self.int8 {
            y.resize(rows * self.outputs, 0.0);
            q.forward(x, rows, &self.bias, y, false, exec == Exec::Parallel);
            return;
        }
        y.clear();
        y.reserve(rows * self.outputs);
        for _ in 0..rows {
            y.extend_from_slice(&self.bias);
        }
        self.accumulate(x, rows, y, exec);
    }

    /// `y[rows, out] += x[rows, in] · Wᵀ + b` (a residual connection).
    pub fn forward_add(&self, x: &[f32], rows: usize, y: &mut [f32], exec: Exec) {
        assert!(y.len() >= rows * self.outputs);
        if let Some(q) = &self.int8 {
            q.forward(x, rows, &self.bias, y, true, exec == Exec::Parallel);
            return;
        }
        for row in y.chunks_exact_mut(self.outputs).take(rows) {
            for (v, b) in row.iter_mut().zip(&self.bias) {
                *v += *b;
            }
        }
        self.accumulate(x, rows, y, exec);
    }

    /// `y += x · Wᵀ` for `rows` rows.
    fn accumulate(&self, x: &[f32], rows: usize, y: &mut [f32], exec: Exec) {
        assert!(x.len() >= rows * self.inputs && y.len() >= rows * self.outputs);
        if rows == 0 {
            return;
        }
        let work = rows * self.inputs * self.outputs;
        let parallelism = if exec == Exec::Parallel && work >= PARALLEL_MIN_WORK && rayon::current_num_threads() > 1 {
            Parallelism::Rayon(rayon::current_num_threads())
        } else {
            Parallelism::None
        };
        let (m, n, k) = (rows, self.outputs, self.inputs);
        // SAFETY: the pointers cover `m·k` (x), `n·k` (W) and `m·n` (y) elements, checked by the
        // assert above and the constructor; the strides describe row-major x and y and the
        // transpose of row-major W; y does not alias x or W.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                y.as_mut_ptr(),
                1,
                n as isize,
                true,
                x.as_ptr(),
                1,
                k as isize,
                self.weight.as_ptr(),
                k as isize,
                1,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_product() {
        let (rows, inputs, outputs) = (37, 19, 23);
        let w: Vec<f32> = (0..inputs * outputs).map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0).collect();
        let b: Vec<f32> = (0..outputs).map(|i| i as f32 / 10.0).collect();
        let x: Vec<f32> = (0..rows * inputs).map(|i| ((i * 13 % 11) as f32 - 5.0) / 5.0).collect();
        let layer = Linear::new(w.clone(), b.clone(), inputs, outputs);
        let mut y = Vec::new();
        layer.forward(&x, rows, &mut y, Exec::Parallel);
        for r in 0..rows {
            for o in 0..outputs {
                let want: f32 = b[o] + (0..inputs).map(|i| x[r * inputs + i] * w[o * inputs + i]).sum::<f32>();
                assert!((y[r * outputs + o] - want).abs() < 1e-4);
            }
        }
        let mut z = vec![1.0; rows * outputs];
        layer.forward_add(&x, rows, &mut z, Exec::Sequential);
        for (a, b) in z.iter().zip(&y) {
            assert!((a - (b + 1.0)).abs() < 1e-4);
        }
    }
}
