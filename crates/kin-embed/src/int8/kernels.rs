//! The integer kernels: [`ROWS`] rows of codes times up to [`MAX_PANELS`] weight panels, as
//! exact `i32` sums, in AVX-512 VNNI, AVX2 and scalar twins.

use super::{Int8Kernel, MAX_PANELS, PANEL, ROWS};

/// The sums of one block, [`ROWS`] rows × up to [`MAX_PANELS`] panels.
pub(super) type Sums = [[i32; PANEL * MAX_PANELS]; ROWS];

/// `acc[r][16p + j] = Σ_k a[r][k] · w[p][k][j]` for [`ROWS`] rows of byte codes.
pub(super) fn block_narrow(
    kernel: Int8Kernel,
    a: &[u8],
    pitch: usize,
    w: &[i8],
    groups: usize,
    panels: usize,
    acc: &mut Sums,
) {
    assert!(a.len() >= ROWS * pitch && pitch >= groups * 4 && w.len() >= panels * groups * PANEL * 4);
    assert!((1..=MAX_PANELS).contains(&panels));
    let (a, w) = (a.as_ptr(), w.as_ptr());
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Vnni` is only detected on CPUs with AVX-512 F, BW and VNNI; the slices cover
        // every element the kernel reads (asserted above).
        Int8Kernel::Vnni => unsafe {
            match panels {
                1 => x86::narrow_vnni::<1>(a, pitch, w, groups, acc),
                2 => x86::narrow_vnni::<2>(a, pitch, w, groups, acc),
                3 => x86::narrow_vnni::<3>(a, pitch, w, groups, acc),
                _ => x86::narrow_vnni::<4>(a, pitch, w, groups, acc),
            }
        },
        // Narrow weights run on VNNI only (see `QuantizedWeights::new`); this is their reference.
        _ => block_scalar(a, pitch, w, 4, groups, panels, acc),
    }
}

/// [`block_narrow`] for 16-bit codes, two inputs per lane.
pub(super) fn block_wide(
    kernel: Int8Kernel,
    a: &[i16],
    pitch: usize,
    w: &[i16],
    groups: usize,
    panels: usize,
    acc: &mut Sums,
) {
    assert!(a.len() >= ROWS * pitch && pitch >= groups * 2 && w.len() >= panels * groups * PANEL * 2);
    assert!((1..=MAX_PANELS).contains(&panels));
    let (a, w) = (a.as_ptr(), w.as_ptr());
    match kernel {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `block_narrow`.
        Int8Kernel::Vnni => unsafe {
            match panels {
                1 => x86::wide_vnni::<1>(a, pitch, w, groups, acc),
                2 => x86::wide_vnni::<2>(a, pitch, w, groups, acc),
                3 => x86::wide_vnni::<3>(a, pitch, w, groups, acc),
                _ => x86::wide_vnni::<4>(a, pitch, w, groups, acc),
            }
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Avx2` is only detected on CPUs with AVX2; the slices cover every element read.
        Int8Kernel::Avx2 => unsafe {
            for p in 0..panels {
                x86::wide_avx2(a, pitch, w.add(p * groups * PANEL * 2), groups, acc, p * PANEL);
            }
        },
        _ => block_scalar(a, pitch, w, 2, groups, panels, acc),
    }
}

/// The scalar twin of the kernels: the same sums, one product at a time (`per` inputs a lane).
pub(super) fn block_scalar<A: Copy + Into<i32>, W: Copy + Into<i32>>(
    a: *const A,
    pitch: usize,
    w: *const W,
    per: usize,
    groups: usize,
    panels: usize,
    acc: &mut Sums,
) {
    // SAFETY: the callers asserted that `a` holds `ROWS` rows of `pitch ≥ per·groups` codes and
    // `w` `panels` panels of `groups·PANEL·per` codes.
    let (a, w) = unsafe {
        (std::slice::from_raw_parts(a, ROWS * pitch), std::slice::from_raw_parts(w, panels * groups * PANEL * per))
    };
    for (r, sums) in acc.iter_mut().enumerate() {
        let row = &a[r * pitch..r * pitch + groups * per];
        for p in 0..panels {
            let panel = &w[p * groups * PANEL * per..(p + 1) * groups * PANEL * per];
            for j in 0..PANEL {
                let mut s = 0i32;
                for (k, &code) in row.iter().enumerate() {
                    let (g, t) = (k / per, k % per);
                    s = s.wrapping_add(code.into() * panel[(g * PANEL + j) * per + t].into());
                }
                sums[p * PANEL + j] = s;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use std::arch::x86_64::*;

    use super::{Sums, PANEL, ROWS};

    /// The VNNI kernels: per lane group, one 64-byte load per panel and one broadcast of a
    /// lane's inputs per row, then one multiply-add per row and panel.
    macro_rules! vnni_kernel {
        ($(#[$doc:meta])* $name:ident, $a:ty, $w:ty, $per:expr, $madd:ident) => {
            $(#[$doc])*
            ///
            /// # Safety
            /// The CPU has AVX-512 F, BW and VNNI; `a` holds `ROWS` rows of `pitch` codes with at
            /// least `per·groups` each, `w` holds `P` panels of `groups · 64` bytes.
            #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
            pub(in crate::int8) unsafe fn $name<const P: usize>(a: *const $a, pitch: usize, w: *const $w, groups: usize, acc: &mut Sums) {
                let panel_len = groups * PANEL * $per;
                let mut sums = [[_mm512_setzero_si512(); P]; ROWS];
                for g in 0..groups {
                    let mut b = [_mm512_setzero_si512(); P];
                    for (p, b) in b.iter_mut().enumerate() {
                        *b = _mm512_loadu_si512(w.add(p * panel_len + g * PANEL * $per) as *const _);
                    }
                    for (r, row) in sums.iter_mut().enumerate() {
                        let lane = (a.add(r * pitch + g * $per) as *const i32).read_unaligned();
                        let av = _mm512_set1_epi32(lane);
                        for (s, b) in row.iter_mut().zip(&b) {
                            *s = $madd(*s, av, *b);
                        }
                    }
                }
                for (out, row) in acc.iter_mut().zip(&sums) {
                    for (p, s) in row.iter().enumerate() {
                        _mm512_storeu_si512(out.as_mut_ptr().add(p * PANEL) as *mut _, *s);
                    }
                }
            }
        };
    }

    /// The least and greatest of `row` and zero; a NaN is passed over, as `f32::min` does.
    ///
    /// # Safety
    /// The CPU has AVX-512 F.
    #[target_feature(enable = "avx512f")]
    pub(in crate::int8) unsafe fn range(row: &[f32]) -> (f32, f32) {
        let (mut lo, mut hi) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut chunks = row.chunks_exact(16);
        for c in &mut chunks {
            let v = _mm512_loadu_ps(c.as_ptr());
            // `vminps` returns its second operand when either is NaN.
            lo = _mm512_min_ps(v, lo);
            hi = _mm512_max_ps(v, hi);
        }
        let (mut lo, mut hi) = (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
        for &v in chunks.remainder() {
            (lo, hi) = (lo.min(v), hi.max(v));
        }
        (lo, hi)
    }

    /// `out[i] = round(row[i] · inv + zero)` clamped to 0..=255, as the scalar loop computes it
    /// (multiply, then add, then round half to even).
    ///
    /// # Safety
    /// The CPU has AVX-512 F and BW; `out` is as long as `row`.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(in crate::int8) unsafe fn codes_narrow(row: &[f32], inv: f32, zero: f32, out: &mut [u8]) {
        let (vi, vz, top) = (_mm512_set1_ps(inv), _mm512_set1_ps(zero), _mm512_set1_ps(255.0));
        let n = row.len() / 16 * 16;
        for i in (0..n).step_by(16) {
            let q = _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(row.as_ptr().add(i)), vi), vz);
            let q = _mm512_min_ps(_mm512_max_ps(q, _mm512_setzero_ps()), top);
            _mm_storeu_si128(out.as_mut_ptr().add(i) as *mut __m128i, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(q)));
        }
        for (c, &v) in out[n..].iter_mut().zip(&row[n..]) {
            *c = (v * inv + zero).round_ties_even().clamp(0.0, 255.0) as u8;
        }
    }

    /// `out[i] = round(row[i] · inv)` clamped to ±`levels`, as the scalar loop computes it.
    ///
    /// # Safety
    /// The CPU has AVX-512 F and BW; `out` is as long as `row`.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(in crate::int8) unsafe fn codes_wide(row: &[f32], inv: f32, levels: f32, out: &mut [i16]) {
        let (vi, top, bottom) = (_mm512_set1_ps(inv), _mm512_set1_ps(levels), _mm512_set1_ps(-levels));
        let n = row.len() / 16 * 16;
        for i in (0..n).step_by(16) {
            let q = _mm512_mul_ps(_mm512_loadu_ps(row.as_ptr().add(i)), vi);
            let q = _mm512_min_ps(_mm512_max_ps(q, bottom), top);
            _mm256_storeu_si256(out.as_mut_ptr().add(i) as *mut __m256i, _mm512_cvtepi32_epi16(_mm512_cvtps_epi32(q)));
        }
        for (c, &v) in out[n..].iter_mut().zip(&row[n..]) {
            *c = (v * inv).round_ties_even().clamp(-levels, levels) as i16;
        }
    }

    vnni_kernel!(
        /// Byte codes times int8 weights, four inputs a lane (`vpdpbusd`).
        narrow_vnni, u8, i8, 4, _mm512_dpbusd_epi32
    );
    vnni_kernel!(
        /// 16-bit codes times 16-bit weights, two inputs a lane (`vpdpwssd`).
        wide_vnni, i16, i16, 2, _mm512_dpwssd_epi32
    );

    /// One panel of 16-bit codes with AVX2: `vpmaddwd` on two inputs per lane, eight outputs
    /// per register. Writes `acc[r][at..at + 16]`.
    ///
    /// # Safety
    /// The CPU has AVX2; `a` as for the VNNI kernels, `w` holds one panel of `groups · 64` bytes.
    #[target_feature(enable = "avx2")]
    pub(in crate::int8) unsafe fn wide_avx2(
        a: *const i16,
        pitch: usize,
        w: *const i16,
        groups: usize,
        acc: &mut Sums,
        at: usize,
    ) {
        let mut sums = [[_mm256_setzero_si256(); 2]; ROWS];
        for g in 0..groups {
            let lo = _mm256_loadu_si256(w.add(g * PANEL * 2) as *const __m256i);
            let hi = _mm256_loadu_si256(w.add(g * PANEL * 2 + 16) as *const __m256i);
            for (r, s) in sums.iter_mut().enumerate() {
                let av = _mm256_set1_epi32((a.add(r * pitch + g * 2) as *const i32).read_unaligned());
                s[0] = _mm256_add_epi32(s[0], _mm256_madd_epi16(av, lo));
                s[1] = _mm256_add_epi32(s[1], _mm256_madd_epi16(av, hi));
            }
        }
        for (out, s) in acc.iter_mut().zip(&sums) {
            _mm256_storeu_si256(out.as_mut_ptr().add(at) as *mut __m256i, s[0]);
            _mm256_storeu_si256(out.as_mut_ptr().add(at + 8) as *mut __m256i, s[1]);
        }
    }
}
