//! Dense layers in int8, for the opt-in `int8` precision: weights quantized per output channel
//! at load, activations per row (token) at run time, products accumulated exactly in `i32`, then
//! scaled back to `f32` with the bias (and the residual) in the same pass.
//!
//! Narrow codes: a row of activations is quantized over its own range, `x ≈ scale · (code −
//! zero)` with codes 0..=255, and multiplied by int8 weights four inputs a lane (AVX-512 VNNI's
//! `vpdpbusd`). `Σ x·w ∝ Σ code·w − zero·Σ w`: each output's `Σ w` is kept with the weights and
//! taken off in the epilogue, so the integer result is exact. Wide codes: 16-bit symmetric codes
//! times 16-bit weight codes, two inputs a lane (`vpdpwssd`, or AVX2's `vpmaddwd`), with as many
//! levels as keep the `i32` sum exact; for inputs with outliers, and for every layer on CPUs
//! without VNNI. A scalar twin computes the same integers for both.
//!
//! Weights are packed once into panels of 16 outputs: panel `p`, lane group `g` holds 64 bytes,
//! output `j`'s weights for the group's inputs at `j`'s lane, the layout the VNNI instructions
//! read. Inputs and outputs are padded with zero weights to whole groups and panels.

mod codes;
mod kernels;

use std::cell::RefCell;

use rayon::prelude::*;

use codes::RowCodes;
use kernels::{block_narrow, block_wide};

/// Outputs per panel.
const PANEL: usize = 16;
/// Activation rows one kernel call covers.
const ROWS: usize = 4;
/// Panels one kernel call covers at most.
const MAX_PANELS: usize = 4;
/// Rows per parallel task: its codes and one panel block stay in the core's L2 cache.
const ROW_CHUNK: usize = 64;
/// Below this many multiply-adds a product runs on the calling thread.
const PARALLEL_MIN_WORK: usize = 1 << 18;

/// Which twin computes the products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Int8Kernel {
    Vnni,
    Avx2,
    Scalar,
}

impl Int8Kernel {
    /// The fastest twin this CPU has and `KIN_CPU` allows.
    pub fn detect() -> Int8Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            use kin_core::cpu::{allows, CpuLevel};
            if allows(CpuLevel::Avx512)
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
            {
                return Int8Kernel::Vnni;
            }
            if allows(CpuLevel::Avx2) {
                return Int8Kernel::Avx2;
            }
        }
        Int8Kernel::Scalar
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Int8Kernel::Vnni => "avx512-vnni",
            Int8Kernel::Avx2 => "avx2",
            Int8Kernel::Scalar => "scalar",
        }
    }
}

/// The kernel int8 products use on this CPU (as `KIN_CPU` allows), for `kin version` and benches.
pub fn int8_kernel_level() -> &'static str {
    Int8Kernel::detect().as_str()
}

/// How a layer's activations are coded on the way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activations {
    /// 8-bit codes over each row's range, four inputs per lane (`vpdpbusd`).
    Narrow,
    /// Signed 16-bit codes per row, and 16-bit weight codes, each with as many levels as keep
    /// the integer sums exact (836 for 3,072 inputs), two inputs per lane (`vpdpwssd`): for
    /// inputs with outliers far above the rest, such as the feed-forward block's GELU outputs,
    /// which 8 bits would flatten, and whose weights meet those outliers.
    Wide,
}

impl Activations {
    /// Inputs one 32-bit lane sums.
    fn per_lane(self) -> usize {
        match self {
            Activations::Narrow => 4,
            Activations::Wide => 2,
        }
    }
}

/// The packed weight codes, in the width the activations are multiplied in.
#[derive(Debug, Clone)]
enum Packed {
    Narrow(Vec<i8>),
    Wide(Vec<i16>),
}

/// A layer's `[outputs, inputs]` weights as int8 codes with one scale per output, packed.
#[derive(Debug, Clone)]
pub struct QuantizedWeights {
    inputs: usize,
    outputs: usize,
    activations: Activations,
    /// Lanes' worth of inputs: `⌈inputs / per_lane⌉`.
    groups: usize,
    panels: usize,
    packed: Packed,
    scales: Vec<f32>,
    /// `Σₖ code[o][k]`: times a row's zero point, what its unsigned codes add to output `o`.
    sums: Vec<i32>,
}

impl QuantizedWeights {
    /// Quantizes row-major `[outputs, inputs]` weights: output `o`'s codes are
    /// `round(w · L / max|w[o]|)`, `L` 127 for narrow activations and [`wide_levels`] for wide
    /// ones; `activations` chooses how inputs are coded at run time.
    ///
    /// Narrow codes pay only where VNNI multiplies four bytes a lane; with the AVX2 and scalar
    /// twins every layer takes wide codes, which cost the same there (`vpmaddwd` multiplies two
    /// 16-bit pairs a lane either way) and are finer.
    pub fn new(weight: &[f32], inputs: usize, outputs: usize, activations: Activations) -> Self {
        assert_eq!(weight.len(), inputs * outputs, "weights are [outputs, inputs]");
        let activations = match Int8Kernel::detect() {
            Int8Kernel::Vnni => activations,
            _ => Activations::Wide,
        };
        let per = activations.per_lane();
        let groups = inputs.div_ceil(per);
        let panels = outputs.div_ceil(PANEL);
        let mut packed = vec![0i16; panels * groups * PANEL * per];
        let w_levels = match activations {
            Activations::Narrow => 127.0,
            Activations::Wide => wide_levels(groups * per),
        };
        let mut scales = vec![0f32; outputs];
        let mut sums = vec![0i32; outputs];
        for (o, row) in weight.chunks_exact(inputs.max(1)).enumerate().take(outputs) {
            let (scale, codes) = quantize_symmetric(row, w_levels);
            scales[o] = scale;
            sums[o] = codes.iter().map(|&c| c as i32).sum::<i32>();
            let (panel, lane) = (o / PANEL, o % PANEL);
            for (k, &code) in codes.iter().enumerate() {
                let (g, t) = (k / per, k % per);
                packed[((panel * groups + g) * PANEL + lane) * per + t] = code;
            }
        }
        let packed = match activations {
            Activations::Narrow => Packed::Narrow(packed.into_iter().map(|c| c as i8).collect()),
            Activations::Wide => Packed::Wide(packed),
        };
        QuantizedWeights { inputs, outputs, activations, groups, panels, packed, scales, sums }
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// Bytes the packed codes, scales and sums take.
    pub fn bytes(&self) -> usize {
        let codes = match &self.packed {
            Packed::Narrow(w) => w.len(),
            Packed::Wide(w) => 2 * w.len(),
        };
        codes + 4 * (self.scales.len() + self.sums.len())
    }

    /// `y[rows, out] = x[rows, in] · Wᵀ + bias`, or `y += …` when `accumulate`, with `x`
    /// quantized per row on the way in.
    pub fn forward(&self, x: &[f32], rows: usize, bias: &[f32], y: &mut [f32], accumulate: bool, parallel: bool) {
        assert!(x.len() >= rows * self.inputs && y.len() >= rows * self.outputs && bias.len() == self.outputs);
        if rows == 0 {
            return;
        }
        let kernel = Int8Kernel::detect();
        let parallel = parallel && rows * self.inputs * self.outputs >= PARALLEL_MIN_WORK && rows > ROW_CHUNK;
        let task = |(chunk, y): (usize, &mut [f32])| {
            let first = chunk * ROW_CHUNK;
            let n = y.len() / self.outputs;
            let x = &x[first * self.inputs..(first + n) * self.inputs];
            CODES.with(|codes| {
                let mut codes = codes.borrow_mut();
                let job = Chunk { weights: self, x, rows: n, bias, accumulate };
                match kernel {
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `Vnni` is only detected on CPUs with AVX-512 F, BW and VNNI.
                    Int8Kernel::Vnni => unsafe { job.run_avx512(&mut codes, y) },
                    #[cfg(target_arch = "x86_64")]
                    // SAFETY: `Avx2` is only detected on CPUs with AVX2 and FMA.
                    Int8Kernel::Avx2 => unsafe { job.run_avx2(&mut codes, y) },
                    _ => job.run(kernel, &mut codes, y),
                }
            });
        };
        let y = &mut y[..rows * self.outputs];
        if parallel {
            y.par_chunks_mut(ROW_CHUNK * self.outputs).enumerate().for_each(task);
        } else {
            y.chunks_mut(ROW_CHUNK * self.outputs).enumerate().for_each(task);
        }
    }
}

/// One task: up to [`ROW_CHUNK`] rows through one layer.
struct Chunk<'a> {
    weights: &'a QuantizedWeights,
    x: &'a [f32],
    rows: usize,
    bias: &'a [f32],
    accumulate: bool,
}

impl Chunk<'_> {
    /// [`Chunk::run`] compiled for AVX-512 (quantizing, the VNNI kernel and the epilogue).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma")]
    unsafe fn run_avx512(&self, codes: &mut RowCodes, y: &mut [f32]) {
        self.run(Int8Kernel::Vnni, codes, y)
    }

    /// [`Chunk::run`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, codes: &mut RowCodes, y: &mut [f32]) {
        self.run(Int8Kernel::Avx2, codes, y)
    }

    /// Quantizes the rows, multiplies them with every panel and writes `y`.
    #[inline(always)]
    fn run(&self, kernel: Int8Kernel, codes: &mut RowCodes, y: &mut [f32]) {
        let w = self.weights;
        match w.activations {
            Activations::Narrow => codes.fill_narrow(kernel, self.x, self.rows, w.inputs, w.groups * 4),
            Activations::Wide => {
                codes.fill_wide(kernel, self.x, self.rows, w.inputs, w.groups * 2, wide_levels(w.groups * 2))
            }
        }
        let panel_len = w.groups * PANEL * w.activations.per_lane();
        let mut acc = [[0i32; PANEL * MAX_PANELS]; ROWS];
        for first_panel in (0..w.panels).step_by(MAX_PANELS) {
            let panels = (w.panels - first_panel).min(MAX_PANELS);
            let span = first_panel * panel_len..(first_panel + panels) * panel_len;
            for first_row in (0..codes.rows).step_by(ROWS) {
                let rows = first_row * codes.pitch..(first_row + ROWS) * codes.pitch;
                match &w.packed {
                    Packed::Narrow(p) => block_narrow(
                        kernel,
                        &codes.bytes[rows],
                        codes.pitch,
                        &p[span.clone()],
                        w.groups,
                        panels,
                        &mut acc,
                    ),
                    Packed::Wide(p) => block_wide(
                        kernel,
                        &codes.words[rows],
                        codes.pitch,
                        &p[span.clone()],
                        w.groups,
                        panels,
                        &mut acc,
                    ),
                }
                self.epilogue(&acc, codes, first_row, first_panel * PANEL, panels * PANEL, y);
            }
        }
    }

    /// Scales one block's integer sums back to `f32` and adds the bias (and `y`'s old values).
    #[inline(always)]
    fn epilogue(
        &self,
        acc: &[[i32; PANEL * MAX_PANELS]; ROWS],
        codes: &RowCodes,
        first_row: usize,
        first_out: usize,
        width: usize,
        y: &mut [f32],
    ) {
        let w = self.weights;
        let outs = first_out..(first_out + width).min(w.outputs);
        let (scales, w_sums, bias) = (&w.scales[outs.clone()], &w.sums[outs.clone()], &self.bias[outs.clone()]);
        for (r, sums) in acc.iter().enumerate().take(codes.rows - first_row) {
            let row = first_row + r;
            let (a_scale, zero) = (codes.scales[row], codes.zeros[row]);
            let out = &mut y[row * w.outputs + outs.start..row * w.outputs + outs.end];
            for ((((v, &s), &w_sum), &w_scale), &b) in out.iter_mut().zip(sums).zip(w_sums).zip(scales).zip(bias) {
                let value = (s - zero * w_sum) as f32 * (a_scale * w_scale) + b;
                *v = if self.accumulate { *v + value } else { value };
            }
        }
    }
}

/// Levels either side of zero that wide weight and activation codes both take over `inputs`
/// (padded) inputs: the most for which `levels² · inputs`, the largest possible sum, stays
/// within `i32` (1,182 for 1,536 inputs, 836 for 3,072).
fn wide_levels(inputs: usize) -> f32 {
    ((i32::MAX as f64 / inputs.max(1) as f64).sqrt().floor()).min(i16::MAX as f64) as f32
}

/// `(scale, codes)` with `codes[i] = round(v[i] / scale)` in −127..=127 and `scale = max|v| / 127`
/// (zero for an all-zero slice).
fn quantize_symmetric(v: &[f32], levels: f32) -> (f32, Vec<i16>) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 || !max.is_finite() {
        return (0.0, vec![0; v.len()]);
    }
    let inv = levels / max;
    (max / levels, v.iter().map(|&x| (x * inv).round().clamp(-levels, levels) as i16).collect())
}

thread_local! {
    static CODES: RefCell<RowCodes> = RefCell::new(RowCodes::default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((s >> 8) as f32 / (1 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn every_twin_computes_the_same_integers() {
        let kernels: Vec<Int8Kernel> = match Int8Kernel::detect() {
            Int8Kernel::Vnni => vec![Int8Kernel::Vnni, Int8Kernel::Avx2],
            Int8Kernel::Avx2 => vec![Int8Kernel::Avx2],
            Int8Kernel::Scalar => vec![],
        };
        for activations in [Activations::Narrow, Activations::Wide] {
            for (inputs, outputs) in [(5, 3), (64, 16), (37, 70), (384, 64)] {
                let w = QuantizedWeights::new(&pseudo(inputs * outputs, 7), inputs, outputs, activations);
                let x = pseudo(6 * inputs, 11);
                let panels = w.panels.min(MAX_PANELS);
                let run = |kernel| {
                    let (mut codes, mut sums) = (RowCodes::default(), [[0i32; PANEL * MAX_PANELS]; ROWS]);
                    match &w.packed {
                        Packed::Narrow(p) => {
                            codes.fill_narrow(Int8Kernel::Scalar, &x, 6, inputs, w.groups * 4);
                            block_narrow(kernel, &codes.bytes, codes.pitch, p, w.groups, panels, &mut sums);
                        }
                        Packed::Wide(p) => {
                            codes.fill_wide(Int8Kernel::Scalar, &x, 6, inputs, w.groups * 2, wide_levels(w.groups * 2));
                            block_wide(kernel, &codes.words, codes.pitch, p, w.groups, panels, &mut sums);
                        }
                    }
                    sums
                };
                let want = run(Int8Kernel::Scalar);
                assert!(want.iter().flatten().any(|&s| s != 0));
                for &kernel in &kernels {
                    assert_eq!(run(kernel), want, "{} {activations:?} at {inputs}×{outputs}", kernel.as_str());
                }
            }
        }
    }

    #[test]
    fn every_twin_codes_the_same_activations() {
        let kernel = Int8Kernel::detect();
        let mut x = pseudo(7 * 100, 13);
        x[5] = 7.5; // an outlier
        for inputs in [100, 16, 3] {
            let rows = x.len() / inputs;
            let (mut a, mut b) = (RowCodes::default(), RowCodes::default());
            a.fill_narrow(kernel, &x, rows, inputs, inputs.div_ceil(4) * 4);
            b.fill_narrow(Int8Kernel::Scalar, &x, rows, inputs, inputs.div_ceil(4) * 4);
            assert_eq!((&a.bytes, &a.scales, &a.zeros), (&b.bytes, &b.scales, &b.zeros), "{inputs} inputs");
            let levels = wide_levels(inputs);
            a.fill_wide(kernel, &x, rows, inputs, inputs.div_ceil(2) * 2, levels);
            b.fill_wide(Int8Kernel::Scalar, &x, rows, inputs, inputs.div_ceil(2) * 2, levels);
            assert_eq!((&a.words, &a.scales), (&b.words, &b.scales), "{inputs} inputs, wide");
        }
    }

    #[test]
    fn products_match_f32_within_the_quantization_error() {
        let (rows, inputs, outputs) = (70, 96, 40);
        let (w, x, bias) = (pseudo(inputs * outputs, 3), pseudo(rows * inputs, 5), pseudo(outputs, 9));
        let mut worst = Vec::new();
        for activations in [Activations::Narrow, Activations::Wide] {
            let q = QuantizedWeights::new(&w, inputs, outputs, activations);
            let mut y = vec![0.0; rows * outputs];
            q.forward(&x, rows, &bias, &mut y, false, true);
            let mut err = 0f32;
            for r in 0..rows {
                for o in 0..outputs {
                    let want = bias[o] + (0..inputs).map(|k| x[r * inputs + k] * w[o * inputs + k]).sum::<f32>();
                    err = err.max((y[r * outputs + o] - want).abs());
                }
            }
            // Each code is off by at most half a step; over 96 products of values below 1 the
            // error stays well under 0.1, while the sums themselves reach several units.
            assert!(err < 0.08, "{activations:?}: largest error {err}");
            worst.push(err);
            let mut z = vec![1.0; rows * outputs];
            q.forward(&x, rows, &bias, &mut z, true, false);
            assert!(z.iter().zip(&y).all(|(a, b)| (a - (b + 1.0)).abs() < 1e-5));
        }
        if Int8Kernel::detect() == Int8Kernel::Vnni {
            assert!(worst[1] < worst[0], "wide codes are finer: {worst:?}");
        }
    }

    #[test]
    fn exact_codes_give_exact_products() {
        // Values that are whole multiples of their row's step quantize without error. Narrow:
        // each weight row's largest magnitude is 1 (steps of 1/127), each activation row spans
        // −64..=63.5 (255 steps of 0.5). Wide: weights in steps of 1/L up to 1, activations in
        // steps of 0.5 up to ±L/2, L the wide levels.
        let (inputs, outputs) = (9, 17);
        let q = QuantizedWeights::new(&[0.0; 9 * 17], inputs, outputs, Activations::Narrow);
        let w_levels = match q.activations {
            Activations::Narrow => 127,
            Activations::Wide => wide_levels(10) as usize,
        };
        let mut w: Vec<f32> =
            (0..inputs * outputs).map(|i| ((i * 37 % 255) as f32 - 127.0) / w_levels as f32).collect();
        w.iter_mut().step_by(inputs).for_each(|v| *v = 1.0);
        let mut x: Vec<f32> = (0..2 * inputs).map(|i| ((i * 53 % 255) as f32 - 127.0) * 0.5).collect();
        match q.activations {
            Activations::Narrow => (x[0], x[1], x[inputs], x[inputs + 1]) = (63.5, -64.0, -64.0, 63.5),
            Activations::Wide => (x[0], x[inputs]) = (w_levels as f32 * 0.5, -(w_levels as f32) * 0.5),
        }
        let q = QuantizedWeights::new(&w, inputs, outputs, Activations::Narrow);
        let mut y = vec![0.0; 2 * outputs];
        q.forward(&x, 2, &vec![0.0; outputs], &mut y, false, false);
        for r in 0..2 {
            for o in 0..outputs {
                let want: f64 = (0..inputs).map(|k| x[r * inputs + k] as f64 * w[o * inputs + k] as f64).sum();
                assert!((y[r * outputs + o] as f64 - want).abs() < 1e-3, "{r},{o}: {} vs {want}", y[r * outputs + o]);
            }
        }
    }

    #[test]
    fn zero_rows_and_zero_weights_give_the_bias() {
        let q = QuantizedWeights::new(&[0.0; 8], 4, 2, Activations::Wide);
        let mut y = vec![9.0; 4];
        q.forward(&[0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 4.0], 2, &[0.5, -0.5], &mut y, false, false);
        assert_eq!(y, vec![0.5, -0.5, 0.5, -0.5]);
    }
}
