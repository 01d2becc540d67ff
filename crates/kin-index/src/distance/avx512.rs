//! AVX-512F kernels for x86_64. Each has a twin in `scalar.rs` and a test comparing the two, run
//! only on CPUs that have AVX-512F.
//!
//! Every function here requires, as its safety contract, that the CPU supports AVX-512F and that
//! each pointer is valid for `n` reads of values no thread writes during the call.

use std::arch::x86_64::*;

const LANES: usize = 16;

/// Mask selecting the first `rest` (< 16) lanes.
fn tail_mask(rest: usize) -> __mmask16 {
    ((1u32 << rest) - 1) as __mmask16
}

/// Inner product of `n` f32 values.
///
/// # Safety
/// See the module documentation.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
    let mut acc0 = _mm512_setzero_ps();
    let mut acc1 = _mm512_setzero_ps();
    let mut acc2 = _mm512_setzero_ps();
    let mut acc3 = _mm512_setzero_ps();
    let mut i = 0;
    // SAFETY (full loads below): `i + 16 <= n` before each 16-lane load, within the caller's bounds.
    while i + 4 * LANES <= n {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(i)), _mm512_loadu_ps(b.add(i)), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(i + 16)), _mm512_loadu_ps(b.add(i + 16)), acc1);
        acc2 = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(i + 32)), _mm512_loadu_ps(b.add(i + 32)), acc2);
        acc3 = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(i + 48)), _mm512_loadu_ps(b.add(i + 48)), acc3);
        i += 4 * LANES;
    }
    while i + LANES <= n {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a.add(i)), _mm512_loadu_ps(b.add(i)), acc0);
        i += LANES;
    }
    if i < n {
        let mask = tail_mask(n - i);
        // SAFETY: masked-off lanes are neither read nor able to fault; the rest lie below `n`.
        let va = _mm512_maskz_loadu_ps(mask, a.add(i));
        let vb = _mm512_maskz_loadu_ps(mask, b.add(i));
        acc1 = _mm512_fmadd_ps(va, vb, acc1);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)))
}

/// Squared euclidean distance of `n` f32 values.
///
/// # Safety
/// See the module documentation.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn l2_squared(a: *const f32, b: *const f32, n: usize) -> f32 {
    let mut acc0 = _mm512_setzero_ps();
    let mut acc1 = _mm512_setzero_ps();
    let mut acc2 = _mm512_setzero_ps();
    let mut acc3 = _mm512_setzero_ps();
    let mut i = 0;
    // SAFETY (full loads below): `i + 16 <= n` before each 16-lane load, within the caller's bounds.
    while i + 4 * LANES <= n {
        let d0 = _mm512_sub_ps(_mm512_loadu_ps(a.add(i)), _mm512_loadu_ps(b.add(i)));
        let d1 = _mm512_sub_ps(_mm512_loadu_ps(a.add(i + 16)), _mm512_loadu_ps(b.add(i + 16)));
        let d2 = _mm512_sub_ps(_mm512_loadu_ps(a.add(i + 32)), _mm512_loadu_ps(b.add(i + 32)));
        let d3 = _mm512_sub_ps(_mm512_loadu_ps(a.add(i + 48)), _mm512_loadu_ps(b.add(i + 48)));
        acc0 = _mm512_fmadd_ps(d0, d0, acc0);
        acc1 = _mm512_fmadd_ps(d1, d1, acc1);
        acc2 = _mm512_fmadd_ps(d2, d2, acc2);
        acc3 = _mm512_fmadd_ps(d3, d3, acc3);
        i += 4 * LANES;
    }
    while i + LANES <= n {
        let d = _mm512_sub_ps(_mm512_loadu_ps(a.add(i)), _mm512_loadu_ps(b.add(i)));
        acc0 = _mm512_fmadd_ps(d, d, acc0);
        i += LANES;
    }
    if i < n {
        let mask = tail_mask(n - i);
        // SAFETY: masked-off lanes are neither read nor able to fault; the rest lie below `n`.
        let d = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, a.add(i)), _mm512_maskz_loadu_ps(mask, b.add(i)));
        acc1 = _mm512_fmadd_ps(d, d, acc1);
    }
    _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3)))
}

/// Inner products of `a` with four rows at once, `n` values each; see `avx2::dot_4`.
///
/// # Safety
/// See the module documentation; each of the four row pointers is valid for `n` reads.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn dot_4(a: *const f32, b: [*const f32; 4], n: usize) -> [f32; 4] {
    let mut acc = [_mm512_setzero_ps(); 8];
    let mut i = 0;
    // SAFETY (full loads below): `i + 32 <= n`, then `i + 16 <= n`, before each 16-lane load.
    while i + 2 * LANES <= n {
        let q0 = _mm512_loadu_ps(a.add(i));
        let q1 = _mm512_loadu_ps(a.add(i + LANES));
        for r in 0..4 {
            acc[2 * r] = _mm512_fmadd_ps(q0, _mm512_loadu_ps(b[r].add(i)), acc[2 * r]);
            acc[2 * r + 1] = _mm512_fmadd_ps(q1, _mm512_loadu_ps(b[r].add(i + LANES)), acc[2 * r + 1]);
        }
        i += 2 * LANES;
    }
    if i + LANES <= n {
        let q0 = _mm512_loadu_ps(a.add(i));
        for r in 0..4 {
            acc[2 * r] = _mm512_fmadd_ps(q0, _mm512_loadu_ps(b[r].add(i)), acc[2 * r]);
        }
        i += LANES;
    }
    if i < n {
        let mask = tail_mask(n - i);
        // SAFETY: masked-off lanes are neither read nor able to fault; the rest lie below `n`.
        let q0 = _mm512_maskz_loadu_ps(mask, a.add(i));
        for r in 0..4 {
            acc[2 * r + 1] = _mm512_fmadd_ps(q0, _mm512_maskz_loadu_ps(mask, b[r].add(i)), acc[2 * r + 1]);
        }
    }
    let mut out = [0.0f32; 4];
    for r in 0..4 {
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[2 * r], acc[2 * r + 1]));
    }
    out
}

/// Squared euclidean distances of `a` to four rows at once, `n` values each.
///
/// # Safety
/// See the module documentation; each of the four row pointers is valid for `n` reads.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn l2_squared_4(a: *const f32, b: [*const f32; 4], n: usize) -> [f32; 4] {
    let mut acc = [_mm512_setzero_ps(); 8];
    let mut i = 0;
    // SAFETY (full loads below): `i + 32 <= n`, then `i + 16 <= n`, before each 16-lane load.
    while i + 2 * LANES <= n {
        let q0 = _mm512_loadu_ps(a.add(i));
        let q1 = _mm512_loadu_ps(a.add(i + LANES));
        for r in 0..4 {
            let d0 = _mm512_sub_ps(q0, _mm512_loadu_ps(b[r].add(i)));
            let d1 = _mm512_sub_ps(q1, _mm512_loadu_ps(b[r].add(i + LANES)));
            acc[2 * r] = _mm512_fmadd_ps(d0, d0, acc[2 * r]);
            acc[2 * r + 1] = _mm512_fmadd_ps(d1, d1, acc[2 * r + 1]);
        }
        i += 2 * LANES;
    }
    if i + LANES <= n {
        let q0 = _mm512_loadu_ps(a.add(i));
        for r in 0..4 {
            let d0 = _mm512_sub_ps(q0, _mm512_loadu_ps(b[r].add(i)));
            acc[2 * r] = _mm512_fmadd_ps(d0, d0, acc[2 * r]);
        }
        i += LANES;
    }
    if i < n {
        let mask = tail_mask(n - i);
        // SAFETY: masked-off lanes are neither read nor able to fault; the rest lie below `n`.
        let q0 = _mm512_maskz_loadu_ps(mask, a.add(i));
        for r in 0..4 {
            let d0 = _mm512_sub_ps(q0, _mm512_maskz_loadu_ps(mask, b[r].add(i)));
            acc[2 * r + 1] = _mm512_fmadd_ps(d0, d0, acc[2 * r + 1]);
        }
    }
    let mut out = [0.0f32; 4];
    for r in 0..4 {
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[2 * r], acc[2 * r + 1]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::scalar;
    use super::super::twins::{assert_close, random_f32, LENGTHS};

    /// Runs only where the CPU has AVX-512F; elsewhere the kernels are compiled but never called.
    #[test]
    fn f32_kernels_match_scalar_twins() {
        if !is_x86_feature_detected!("avx512f") {
            return;
        }
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let a = random_f32(n, seed as u64);
            let b = random_f32(n, seed as u64 + 7);
            // SAFETY: AVX-512F was detected; both vectors hold `n` values.
            let (dot, l2) =
                unsafe { (super::dot(a.as_ptr(), b.as_ptr(), n), super::l2_squared(a.as_ptr(), b.as_ptr(), n)) };
            assert_close(dot, scalar::dot(&a[..], &b[..], n), &a, &b);
            assert_close(l2, scalar::l2_squared(&a[..], &b[..], n), &a, &b);
        }
    }

    #[test]
    fn four_row_kernels_match_scalar_twins() {
        if !is_x86_feature_detected!("avx512f") {
            return;
        }
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let a = random_f32(n, seed as u64);
            let rows: Vec<Vec<f32>> = (0..4).map(|r| random_f32(n, seed as u64 + 11 + r)).collect();
            let ptrs = [rows[0].as_ptr(), rows[1].as_ptr(), rows[2].as_ptr(), rows[3].as_ptr()];
            // SAFETY: AVX-512F was detected; the query and all four rows hold `n` values.
            let (dots, l2s) = unsafe { (super::dot_4(a.as_ptr(), ptrs, n), super::l2_squared_4(a.as_ptr(), ptrs, n)) };
            for (r, row) in rows.iter().enumerate() {
                assert_close(dots[r], scalar::dot(&a[..], &row[..], n), &a, row);
                assert_close(l2s[r], scalar::l2_squared(&a[..], &row[..], n), &a, row);
            }
        }
    }

    #[test]
    fn tail_masks_select_the_leading_lanes() {
        assert_eq!(super::tail_mask(0), 0);
        assert_eq!(super::tail_mask(1), 0b1);
        assert_eq!(super::tail_mask(15), 0x7FFF);
    }
}
