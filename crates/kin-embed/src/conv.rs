//! Convolution layers of image encoders on channel-major (CHW) feature maps: a 2-D convolution
//! with its BatchNorm folded in, run as one `gemm` (im2col for strided and k×k kernels), with the
//! bias, activation and residual add fused into one pass over its output; max-pooling; global
//! average pooling.

use gemm::Parallelism;

use crate::transformer::Exec;

/// Below this many multiply-adds a convolution runs on the calling thread.
const PARALLEL_MIN_WORK: usize = 1 << 20;

/// BatchNorm in inference form: `y = (x − mean) / √(var + eps) · gamma + beta`, per channel.
pub struct BatchNorm {
    pub gamma: Vec<f32>,
    pub beta: Vec<f32>,
    pub mean: Vec<f32>,
    pub var: Vec<f32>,
    pub eps: f64,
}

/// What happens to the convolution's output before it is stored.
#[derive(Clone, Copy)]
pub enum Epilogue<'a> {
    /// `y = conv + bias`
    Bias,
    /// `y = max(0, conv + bias)`
    BiasRelu,
    /// `y = max(0, conv + bias + residual)`; `residual` has the output's shape.
    BiasAddRelu(&'a [f32]),
}

/// A square convolution without groups or dilation, its weights `[out, in·k·k]` row-major (the
/// checkpoint's `[out, in, k, k]` as it is stored), zero padding on every side.
pub struct Conv2d {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
}

impl Conv2d {
    pub fn new(
        weight: Vec<f32>,
        bias: Vec<f32>,
        (inputs, outputs): (usize, usize),
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> Self {
        assert_eq!(weight.len(), outputs * inputs * kernel * kernel);
        assert_eq!(bias.len(), outputs);
        assert!(kernel > 0 && stride > 0);
        Conv2d { weight, bias, inputs, outputs, kernel, stride, padding }
    }

    /// A bias-free convolution followed by `bn`, as one convolution with a bias.
    pub fn fold(mut weight: Vec<f32>, bn: &BatchNorm, channels: (usize, usize), kernel: usize, stride: usize) -> Self {
        let (_, outputs) = channels;
        let per_out = weight.len() / outputs;
        let mut bias = Vec::with_capacity(outputs);
        for (o, row) in weight.chunks_exact_mut(per_out).enumerate() {
            let scale = bn.gamma[o] as f64 / (bn.var[o] as f64 + bn.eps).sqrt();
            row.iter_mut().for_each(|w| *w = (*w as f64 * scale) as f32);
            bias.push((bn.beta[o] as f64 - bn.mean[o] as f64 * scale) as f32);
        }
        Conv2d::new(weight, bias, channels, kernel, stride, kernel / 2)
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    /// The output's height and width for an `h × w` input.
    pub fn out_size(&self, h: usize, w: usize) -> (usize, usize) {
        let out = |n: usize| (n + 2 * self.padding).saturating_sub(self.kernel) / self.stride + 1;
        (out(h), out(w))
    }

    /// `out[outputs, ho·wo]` from `x[inputs, h·w]`; `cols` is scratch for im2col. Returns `(ho, wo)`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        x: &[f32],
        (h, w): (usize, usize),
        out: &mut Vec<f32>,
        cols: &mut Vec<f32>,
        epilogue: Epilogue,
        exec: Exec,
    ) -> (usize, usize) {
        assert_eq!(x.len(), self.inputs * h * w, "convolution input does not match its shape");
        let (ho, wo) = self.out_size(h, w);
        let positions = ho * wo;
        let depth = self.inputs * self.kernel * self.kernel;
        let rhs: &[f32] = if self.kernel == 1 && self.stride == 1 && self.padding == 0 {
            x
        } else {
            cols.resize(depth * positions, 0.0);
            im2col(x, (h, w), self, cols, exec);
            cols
        };
        out.resize(self.outputs * positions, 0.0);
        let work = self.outputs * depth * positions;
        let threads = rayon::current_num_threads();
        let parallelism = if exec == Exec::Parallel && work >= PARALLEL_MIN_WORK && threads > 1 {
            Parallelism::Rayon(threads)
        } else {
            Parallelism::None
        };
        let (m, n, k) = (self.outputs, positions, depth);
        // SAFETY: `weight` holds m·k elements (checked in `new`), `rhs` k·n (the input's length is
        // asserted above; `cols` was resized to k·n) and `out` m·n (resized above); all three are
        // row-major with the strides given, and `out` aliases neither input.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                1,
                n as isize,
                false,
                self.weight.as_ptr(),
                1,
                k as isize,
                rhs.as_ptr(),
                1,
                n as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
        exec.for_rows(out, positions, |o, row| {
            let b = self.bias[o];
            match epilogue {
                Epilogue::Bias => row.iter_mut().for_each(|y| *y += b),
                Epilogue::BiasRelu => row.iter_mut().for_each(|y| *y = (*y + b).max(0.0)),
                Epilogue::BiasAddRelu(res) => {
                    let res = &res[o * positions..(o + 1) * positions];
                    row.iter_mut().zip(res).for_each(|(y, r)| *y = (*y + b + r).max(0.0));
                }
            }
        });
        (ho, wo)
    }
}

/// Lays out every receptive field as a column: row `(c·k + ky)·k + kx` of `cols` holds, for each
/// output position, the input pixel under kernel tap `(ky, kx)` of channel `c` (zero in padding).
fn im2col(x: &[f32], (h, w): (usize, usize), conv: &Conv2d, cols: &mut [f32], exec: Exec) {
    let (k, s, p) = (conv.kernel, conv.stride, conv.padding);
    let (ho, wo) = conv.out_size(h, w);
    // Output columns whose input column `ox·s + kx − p` falls inside the image.
    let valid = |kx: usize| {
        let lo = p.saturating_sub(kx).div_ceil(s).min(wo);
        let hi = (w + p).saturating_sub(kx).div_ceil(s).clamp(lo, wo);
        (lo, hi)
    };
    exec.for_rows(cols, ho * wo, |r, row| {
        let (c, ky, kx) = (r / (k * k), r / k % k, r % k);
        let plane = &x[c * h * w..(c + 1) * h * w];
        let (lo, hi) = valid(kx);
        for (oy, dst) in row.chunks_exact_mut(wo).enumerate() {
            let iy = (oy * s + ky).wrapping_sub(p);
            if iy >= h {
                dst.fill(0.0);
                continue;
            }
            let src = &plane[iy * w..(iy + 1) * w];
            dst[..lo].fill(0.0);
            dst[hi..].fill(0.0);
            if lo == hi {
                continue;
            }
            let first = lo * s + kx - p;
            if s == 1 {
                dst[lo..hi].copy_from_slice(&src[first..first + hi - lo]);
            } else {
                dst[lo..hi].iter_mut().zip(src[first..].iter().step_by(s)).for_each(|(d, v)| *d = *v);
            }
        }
    });
}

/// 3×3 max-pooling with stride 2 and padding 1 (padding never wins) over `x[channels, h·w]`.
pub fn max_pool_3x3_s2(
    x: &[f32],
    channels: usize,
    (h, w): (usize, usize),
    out: &mut Vec<f32>,
    exec: Exec,
) -> (usize, usize) {
    let (ho, wo) = (h.div_ceil(2), w.div_ceil(2));
    out.resize(channels * ho * wo, 0.0);
    exec.for_rows(out, ho * wo, |c, dst| {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for oy in 0..ho {
            let rows = (2 * oy).saturating_sub(1)..(2 * oy + 2).min(h);
            for ox in 0..wo {
                let cols = (2 * ox).saturating_sub(1)..(2 * ox + 2).min(w);
                let mut m = f32::NEG_INFINITY;
                for iy in rows.clone() {
                    for v in &plane[iy * w + cols.start..iy * w + cols.end] {
                        m = m.max(*v);
                    }
                }
                dst[oy * wo + ox] = m;
            }
        }
    });
    (ho, wo)
}

/// The mean of each channel of `x[channels, positions]`.
pub fn global_avg_pool(x: &[f32], channels: usize) -> Vec<f32> {
    let positions = x.len() / channels.max(1);
    x.chunks_exact(positions.max(1))
        .map(|plane| (plane.iter().map(|v| *v as f64).sum::<f64>() / positions as f64) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| (((i * 7919 + seed * 104_729) % 211) as f32 - 105.0) / 50.0).collect()
    }

    fn naive_conv(x: &[f32], conv: &Conv2d, (h, w): (usize, usize)) -> Vec<f32> {
        let (k, s, p) = (conv.kernel as isize, conv.stride as isize, conv.padding as isize);
        let (ho, wo) = conv.out_size(h, w);
        let mut out = vec![0f32; conv.outputs * ho * wo];
        for o in 0..conv.outputs {
            for oy in 0..ho as isize {
                for ox in 0..wo as isize {
                    let mut acc = conv.bias[o] as f64;
                    for c in 0..conv.inputs {
                        for ky in 0..k {
                            for kx in 0..k {
                                let (iy, ix) = (oy * s + ky - p, ox * s + kx - p);
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let wt = conv.weight
                                    [((o * conv.inputs + c) * k as usize + ky as usize) * k as usize + kx as usize];
                                acc += wt as f64 * x[(c * h + iy as usize) * w + ix as usize] as f64;
                            }
                        }
                    }
                    out[(o * ho + oy as usize) * wo + ox as usize] = acc as f32;
                }
            }
        }
        out
    }

    #[test]
    fn convolution_matches_naive() {
        let cases = [
            (3, 5, 7, 2, 3, (13, 9)),
            (4, 6, 3, 1, 1, (7, 11)),
            (5, 3, 3, 2, 1, (8, 5)),
            (6, 4, 1, 2, 0, (9, 6)),
            (6, 4, 1, 1, 0, (5, 3)),
            (2, 3, 3, 3, 1, (1, 2)),
        ];
        for (i, &(inputs, outputs, k, s, p, hw)) in cases.iter().enumerate() {
            let conv =
                Conv2d::new(pattern(outputs * inputs * k * k, i), pattern(outputs, i + 9), (inputs, outputs), k, s, p);
            let x = pattern(inputs * hw.0 * hw.1, i + 3);
            let want = naive_conv(&x, &conv, hw);
            let relu: Vec<f32> = want.iter().map(|v| v.max(0.0)).collect();
            let residual = pattern(want.len(), i + 5);
            for exec in [Exec::Sequential, Exec::Parallel] {
                let (mut out, mut cols) = (Vec::new(), Vec::new());
                assert_eq!(conv.forward(&x, hw, &mut out, &mut cols, Epilogue::Bias, exec), conv.out_size(hw.0, hw.1));
                assert_close(&out, &want, i);
                conv.forward(&x, hw, &mut out, &mut cols, Epilogue::BiasRelu, exec);
                assert_close(&out, &relu, i);
                conv.forward(&x, hw, &mut out, &mut cols, Epilogue::BiasAddRelu(&residual), exec);
                let added: Vec<f32> = want.iter().zip(&residual).map(|(a, b)| (a + b).max(0.0)).collect();
                assert_close(&out, &added, i);
            }
        }
    }

    fn assert_close(got: &[f32], want: &[f32], case: usize) {
        assert_eq!(got.len(), want.len(), "case {case}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "case {case}: {g} vs {w}");
        }
    }

    #[test]
    fn folding_batch_norm_matches_applying_it() {
        let bn = BatchNorm {
            gamma: vec![1.5, 0.5],
            beta: vec![0.1, -0.2],
            mean: vec![0.3, -1.0],
            var: vec![2.0, 0.25],
            eps: 1e-5,
        };
        let weight = pattern(2 * 3, 1);
        let conv = Conv2d::fold(weight.clone(), &bn, (3, 2), 1, 1);
        let x = pattern(3 * 4, 2);
        let (mut out, mut cols) = (Vec::new(), Vec::new());
        conv.forward(&x, (2, 2), &mut out, &mut cols, Epilogue::Bias, Exec::Sequential);
        for o in 0..2 {
            for p in 0..4 {
                let z: f32 = (0..3).map(|c| weight[o * 3 + c] * x[c * 4 + p]).sum();
                let want = (z - bn.mean[o]) / (bn.var[o] + 1e-5).sqrt() * bn.gamma[o] + bn.beta[o];
                assert!((out[o * 4 + p] - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn max_pool_matches_naive() {
        for (h, w) in [(1, 1), (2, 3), (7, 8), (112, 57)] {
            let x = pattern(3 * h * w, h + w);
            let mut out = Vec::new();
            let (ho, wo) = max_pool_3x3_s2(&x, 3, (h, w), &mut out, Exec::Parallel);
            assert_eq!((ho, wo), ((h - 1) / 2 + 1, (w - 1) / 2 + 1));
            for c in 0..3 {
                for oy in 0..ho as isize {
                    for ox in 0..wo as isize {
                        let mut m = f32::NEG_INFINITY;
                        for iy in 2 * oy - 1..=2 * oy + 1 {
                            for ix in 2 * ox - 1..=2 * ox + 1 {
                                if iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize {
                                    m = m.max(x[(c * h + iy as usize) * w + ix as usize]);
                                }
                            }
                        }
                        assert_eq!(out[(c * ho + oy as usize) * wo + ox as usize], m);
                    }
                }
            }
        }
    }

    #[test]
    fn average_pool_is_the_channel_mean() {
        assert_eq!(global_avg_pool(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2), vec![2.0, 5.0]);
    }
}
