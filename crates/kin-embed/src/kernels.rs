//! Element-wise and row kernels of the transformer encoders: GELU, softmax, layer norm, dot, axpy.
//!
//! Each kernel is written once as plain Rust over `LANES`-wide accumulators and compiled three
//! times: for AVX-512 F (16 lanes) and AVX2+FMA (8 lanes), one of which is selected at run time
//! when the CPU has it and `KIN_CPU` allows it, and for the baseline target (its scalar twin, 8
//! lanes). The tests check that every build agrees with the scalar one.

/// Whether the AVX2+FMA versions run: the CPU has them and `KIN_CPU` does not ask for scalar.
#[inline]
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        kin_core::cpu::allows(kin_core::cpu::CpuLevel::Avx2)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the AVX-512 F versions run: the CPU has them and `KIN_CPU` allows them.
#[inline]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        kin_core::cpu::allows(kin_core::cpu::CpuLevel::Avx512)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The kernels the element-wise and row operations (GELU, softmax, layer norm) use here.
pub fn kernel_level() -> &'static str {
    if has_avx512() {
        "avx512f"
    } else if has_avx2() {
        "avx2+fma"
    } else {
        "scalar"
    }
}

/// The micro-kernel family the `gemm` crate picks for f32 matrix products on this CPU. gemm
/// chooses by itself at run time (AVX-512 F, else FMA, else scalar); `KIN_CPU` does not reach it.
pub fn gemm_level() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            return "avx512f";
        }
        if is_x86_feature_detected!("fma") {
            return "fma";
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        return "neon";
    }
    #[allow(unreachable_code)]
    "scalar"
}

/// Declares `pub fn $name` dispatching to an AVX-512 F or AVX2+FMA build of `$body`, or to its
/// scalar twin. The body sees `LANES`, the accumulator width of its build.
macro_rules! multiversion {
    ($(#[$doc:meta])* fn $name:ident / $scalar:ident / $avx2:ident / $avx512:ident ($($arg:ident : $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        $(#[$doc])*
        #[inline]
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                if $crate::kernels::has_avx512() {
                    // SAFETY: the CPU supports AVX-512 F, AVX2 and FMA (checked just above).
                    return unsafe { $avx512($($arg),*) };
                }
                if $crate::kernels::has_avx2() {
                    // SAFETY: the CPU supports AVX2 and FMA (checked just above).
                    return unsafe { $avx2($($arg),*) };
                }
            }
            $scalar($($arg),*)
        }

        #[inline(always)]
        pub(crate) fn $scalar($($arg: $ty),*) $(-> $ret)? {
            #[allow(dead_code)]
            const LANES: usize = 8;
            $body
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $avx2($($arg: $ty),*) $(-> $ret)? {
            #[allow(dead_code)]
            const LANES: usize = 8;
            $body
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn $avx512($($arg: $ty),*) $(-> $ret)? {
            #[allow(dead_code)]
            const LANES: usize = 16;
            $body
        }
    };
}

/// Dot product with `LANES` partial sums (vectorisable, deterministic for a given length and
/// width).
#[inline(always)]
pub(crate) fn dot_body<const LANES: usize>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let chunks = n / LANES;
    for c in 0..chunks {
        let (x, y) = (&a[c * LANES..c * LANES + LANES], &b[c * LANES..c * LANES + LANES]);
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0f32;
    for i in chunks * LANES..n {
        tail += a[i] * b[i];
    }
    // A tree over the lanes: halves added until one is left.
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0] + tail
}

/// `exp(x)` to about 2 ulp on the range softmax uses, branch-free so it vectorises.
#[inline(always)]
pub(crate) fn exp_approx(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.3, 88.7);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 5e-1;
    let y = p * r * r + r + 1.0;
    // 2ⁿ built from bits: adding 1.5·2²³ puts the integer n in the low mantissa bits (no
    // float-to-int conversion, so the loop vectorises).
    const MAGIC: f32 = 12_582_912.0;
    let n_bits = (n + MAGIC).to_bits().wrapping_sub(MAGIC.to_bits());
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    y * scale
}

/// `erf(x)` as a rational function, accurate to a few ulp in f32.
#[inline(always)]
pub(crate) fn erf_approx(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906_3e-4;
    p = p * x2 + -2.954_6e-3;
    p = p * x2 + -1.609_603_3e-2;
    p *= x;
    let mut q = -1.456_607_2e-5f32;
    q = q * x2 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    p / q
}

multiversion! {
    /// Dot product of two equally long slices.
    fn dot / dot_scalar / dot_avx2 / dot_avx512 (a: &[f32], b: &[f32]) -> f32 { dot_body::<LANES>(a, b) }
}

multiversion! {
    /// GELU with the exact (erf) formulation, in place.
    fn gelu / gelu_scalar / gelu_avx2 / gelu_avx512 (x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = 0.5 * *v * (1.0 + erf_approx(*v * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

multiversion! {
    /// CLIP's "quick GELU", `x · σ(1.702·x)`, in place.
    fn quick_gelu / quick_gelu_scalar / quick_gelu_avx2 / quick_gelu_avx512 (x: &mut [f32]) {
        for v in x.iter_mut() {
            *v = *v / (1.0 + exp_approx(-1.702 * *v));
        }
    }
}

multiversion! {
    /// Softmax of one row, in place.
    fn softmax / softmax_scalar / softmax_avx2 / softmax_avx512 (x: &mut [f32]) {
        let mut maxes = [f32::NEG_INFINITY; LANES];
        let mut chunks = x.chunks_exact(LANES);
        for c in &mut chunks {
            for l in 0..LANES {
                maxes[l] = if c[l] > maxes[l] { c[l] } else { maxes[l] };
            }
        }
        let max = maxes.iter().chain(chunks.remainder()).fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
        let mut acc = [0f32; LANES];
        let mut chunks = x.chunks_exact_mut(LANES);
        for c in &mut chunks {
            for l in 0..LANES {
                c[l] = exp_approx(c[l] - max);
                acc[l] += c[l];
            }
        }
        let mut sum = acc.iter().sum::<f32>();
        for v in chunks.into_remainder() {
            *v = exp_approx(*v - max);
            sum += *v;
        }
        let inv = 1.0 / sum;
        for v in x.iter_mut() {
            *v *= inv;
        }
    }
}

multiversion! {
    /// `x = LayerNorm(x + residual) * gamma + beta` over one row; `residual` may be empty.
    fn add_layer_norm / add_layer_norm_scalar / add_layer_norm_avx2 / add_layer_norm_avx512
        (x: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
        if !residual.is_empty() {
            for (v, r) in x.iter_mut().zip(residual) {
                *v += *r;
            }
        }
        let n = x.len() as f32;
        let ones = [1f32; LANES];
        let mut acc = [0f32; LANES];
        for c in x.chunks(LANES) {
            for (l, v) in c.iter().enumerate() {
                acc[l] += *v * ones[l];
            }
        }
        let mean = acc.iter().sum::<f32>() / n;
        let mut acc = [0f32; LANES];
        for c in x.chunks(LANES) {
            for (l, v) in c.iter().enumerate() {
                let d = *v - mean;
                acc[l] += d * d;
            }
        }
        let var = acc.iter().sum::<f32>() / n;
        let inv = 1.0 / (var + eps).sqrt();
        for ((v, g), b) in x.iter_mut().zip(gamma).zip(beta) {
            *v = (*v - mean) * inv * *g + *b;
        }
    }
}

/// Scales a vector to unit length (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = dot(v, v).sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|i| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * scale).collect()
    }

    #[test]
    fn exp_matches_std() {
        for i in -8700..=0 {
            let x = i as f32 / 100.0;
            let (got, want) = (exp_approx(x) as f64, (x as f64).exp());
            assert!((got - want).abs() <= want * 3e-7 + 1e-37, "exp({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn erf_matches_reference() {
        for i in -600..=600 {
            let x = i as f64 / 100.0;
            let (got, want) = (erf_approx(x as f32) as f64, libm::erf(x));
            assert!((got - want).abs() < 4e-7, "erf({x}) = {got}, want {want}");
        }
    }

    /// One build of every kernel: its dot, GELU, quick GELU, softmax and layer norm.
    struct Build {
        name: &'static str,
        dot: fn(&[f32], &[f32]) -> f32,
        rows: fn(&[f32], &[f32], &[f32]) -> Vec<f32>,
    }

    /// GELU, quick GELU, softmax and layer norm of `a` (with residual `b` and gain `gamma`), end to end.
    macro_rules! rows_of {
        ($gelu:expr, $quick:expr, $softmax:expr, $norm:expr) => {
            |a: &[f32], b: &[f32], gamma: &[f32]| -> Vec<f32> {
                let (mut g, mut q, mut s, mut l) = (a.to_vec(), a.to_vec(), a.to_vec(), a.to_vec());
                $gelu(&mut g);
                $quick(&mut q);
                $softmax(&mut s);
                $norm(&mut l, b, gamma, a, 1e-12);
                [g, q, s, l].concat()
            }
        };
    }

    /// The builds this CPU can run, scalar first. The SIMD ones are called directly, whatever
    /// `KIN_CPU` says, so that each is checked.
    fn builds() -> Vec<Build> {
        let mut out = vec![Build {
            name: "scalar",
            dot: dot_scalar,
            rows: rows_of!(gelu_scalar, quick_gelu_scalar, softmax_scalar, add_layer_norm_scalar),
        }];
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                out.push(Build {
                    name: "avx2",
                    // SAFETY: the CPU has AVX2 and FMA (checked above).
                    dot: |a, b| unsafe { dot_avx2(a, b) },
                    rows: rows_of!(
                        |x: &mut [f32]| unsafe { gelu_avx2(x) },
                        |x: &mut [f32]| unsafe { quick_gelu_avx2(x) },
                        |x: &mut [f32]| unsafe { softmax_avx2(x) },
                        |x: &mut [f32], r: &[f32], g: &[f32], b: &[f32], e| unsafe {
                            add_layer_norm_avx2(x, r, g, b, e)
                        }
                    ),
                });
            }
            if is_x86_feature_detected!("avx512f") {
                out.push(Build {
                    name: "avx512f",
                    // SAFETY: the CPU has AVX-512 F (and so AVX2 and FMA; checked above).
                    dot: |a, b| unsafe { dot_avx512(a, b) },
                    rows: rows_of!(
                        |x: &mut [f32]| unsafe { gelu_avx512(x) },
                        |x: &mut [f32]| unsafe { quick_gelu_avx512(x) },
                        |x: &mut [f32]| unsafe { softmax_avx512(x) },
                        |x: &mut [f32], r: &[f32], g: &[f32], b: &[f32], e| unsafe {
                            add_layer_norm_avx512(x, r, g, b, e)
                        }
                    ),
                });
            }
        }
        out
    }

    #[test]
    fn simd_twins_agree_with_scalar() {
        let builds = builds();
        eprintln!("builds checked: {:?}", builds.iter().map(|b| b.name).collect::<Vec<_>>());
        for n in [1, 7, 8, 15, 16, 17, 31, 32, 384, 1000] {
            let (a, b, gamma) = (ramp(n, 3.0), ramp(n + 3, 2.0), ramp(n, 1.0));
            let (want_dot, want_rows) = ((builds[0].dot)(&a, &b[..n]), (builds[0].rows)(&a, &b[..n], &gamma));
            for build in &builds[1..] {
                let got = (build.dot)(&a, &b[..n]);
                assert!(
                    (got - want_dot).abs() <= 1e-5 * want_dot.abs().max(1.0),
                    "{} dot n={n}: {got} vs {want_dot}",
                    build.name
                );
                for (i, (x, y)) in (build.rows)(&a, &b[..n], &gamma).iter().zip(&want_rows).enumerate() {
                    assert!((x - y).abs() <= 1e-5 * y.abs().max(1.0), "{} n={n} value {i}: {x} vs {y}", build.name);
                }
            }
            // The dispatched kernels are one of these builds.
            let got = dot(&a, &b[..n]);
            assert!((got - want_dot).abs() <= 1e-5 * want_dot.abs().max(1.0), "dot n={n}: {got} vs {want_dot}");
        }
    }

    #[test]
    fn softmax_and_layer_norm_are_right() {
        let mut row = vec![1.0, 2.0, 3.0];
        softmax(&mut row);
        let e: Vec<f64> = [1.0f64, 2.0, 3.0].iter().map(|x| x.exp()).collect();
        let s: f64 = e.iter().sum();
        for (got, want) in row.iter().zip(e.iter().map(|x| x / s)) {
            assert!((*got as f64 - want).abs() < 1e-7);
        }
        let mut x = vec![1.0, 2.0, 3.0, 4.0];
        add_layer_norm(&mut x, &[], &[1.0; 4], &[0.0; 4], 0.0);
        let want = [-1.341_640_8, -0.447_213_6, 0.447_213_6, 1.341_640_8];
        for (g, w) in x.iter().zip(want) {
            assert!((g - w).abs() < 1e-6);
        }
    }

    #[test]
    fn gelu_matches_erf_definition() {
        let mut x: Vec<f32> = (-50..=50).map(|i| i as f32 / 10.0).collect();
        let want: Vec<f64> = x.iter().map(|&v| 0.5 * v as f64 * (1.0 + libm::erf(v as f64 / 2f64.sqrt()))).collect();
        gelu(&mut x);
        for (g, w) in x.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-6, "{g} vs {w}");
        }
    }

    #[test]
    fn quick_gelu_matches_definition() {
        let mut x: Vec<f32> = (-120..=120).map(|i| i as f32 / 10.0).collect();
        let want: Vec<f64> = x.iter().map(|&v| v as f64 / (1.0 + (-1.702 * v as f64).exp())).collect();
        quick_gelu(&mut x);
        for (g, w) in x.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-6 * w.abs().max(1.0), "{g} vs {w}");
        }
    }
}
