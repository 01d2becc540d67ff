//! AVX-512 VNNI kernels for int8 inner products on x86_64, 64 codes per instruction. Each has a
//! twin in `scalar.rs` and a test comparing the two, run only on CPUs that have AVX-512 F, BW and
//! VNNI.
//!
//! `vpdpbusd` multiplies unsigned bytes by signed bytes. The second operand `b` is made unsigned
//! by flipping its sign bit, which adds 128 to every value, so the instruction sums
//! `a·(b + 128) = a·b + 128·a`; a second `vpdpbusd` against a vector of ones sums `a`, and the
//! exact `a·b` is the difference. Every product and sum is exact in i32 (as wrapping i32, like the
//! scalar twin), so the results equal the scalar ones bit for bit.
//!
//! Every function here requires, as its safety contract, that the CPU supports AVX-512 F, BW and
//! VNNI and that each pointer is valid for `n` reads of values no thread writes during the call.

use std::arch::x86_64::*;

const LANES: usize = 64;

/// Mask selecting the first `rest` (< 64) bytes.
fn tail_mask(rest: usize) -> __mmask64 {
    (1u64 << rest) - 1
}

/// `Σ a·b` from the two accumulators: `Σ a·(b + 128)` and `Σ a`.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
fn finish(shifted: __m512i, sum_a: __m512i) -> i32 {
    _mm512_reduce_add_epi32(shifted).wrapping_sub(_mm512_reduce_add_epi32(sum_a).wrapping_mul(128))
}

/// Inner product of `n` i8 values.
///
/// # Safety
/// See the module documentation.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(crate) unsafe fn dot_i8(a: *const i8, b: *const i8, n: usize) -> i32 {
    let flip = _mm512_set1_epi8(i8::MIN);
    let ones = _mm512_set1_epi8(1);
    let (mut acc0, mut acc1, mut sum_a) = (_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512());
    let mut i = 0;
    // SAFETY (full loads below): `i + 128 <= n`, then `i + 64 <= n`, before each 64-byte load.
    while i + 2 * LANES <= n {
        let a0 = _mm512_loadu_si512(a.add(i).cast());
        let a1 = _mm512_loadu_si512(a.add(i + LANES).cast());
        let b0 = _mm512_xor_si512(_mm512_loadu_si512(b.add(i).cast()), flip);
        let b1 = _mm512_xor_si512(_mm512_loadu_si512(b.add(i + LANES).cast()), flip);
        acc0 = _mm512_dpbusd_epi32(acc0, b0, a0);
        acc1 = _mm512_dpbusd_epi32(acc1, b1, a1);
        sum_a = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(sum_a, ones, a0), ones, a1);
        i += 2 * LANES;
    }
    if i + LANES <= n {
        let a0 = _mm512_loadu_si512(a.add(i).cast());
        let b0 = _mm512_xor_si512(_mm512_loadu_si512(b.add(i).cast()), flip);
        acc0 = _mm512_dpbusd_epi32(acc0, b0, a0);
        sum_a = _mm512_dpbusd_epi32(sum_a, ones, a0);
        i += LANES;
    }
    if i < n {
        let mask = tail_mask(n - i);
        // SAFETY: masked-off bytes are neither read nor able to fault; the rest lie below `n`.
        // They load as zero, so `a` contributes nothing there to either sum.
        let a0 = _mm512_maskz_loadu_epi8(mask, a.add(i));
        let b0 = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, b.add(i)), flip);
        acc1 = _mm512_dpbusd_epi32(acc1, b0, a0);
        sum_a = _mm512_dpbusd_epi32(sum_a, ones, a0);
    }
    finish(_mm512_add_epi32(acc0, acc1), sum_a)
}

/// Inner products of `a` with four rows at once, `n` values each: `a` is loaded and summed once
/// for the four.
///
/// # Safety
/// See the module documentation; each of the four row pointers is valid for `n` reads.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(crate) unsafe fn dot_i8_4(a: *const i8, b: [*const i8; 4], n: usize) -> [i32; 4] {
    let flip = _mm512_set1_epi8(i8::MIN);
    let ones = _mm512_set1_epi8(1);
    let mut acc = [_mm512_setzero_si512(); 4];
    let mut sum_a = _mm512_setzero_si512();
    let mut i = 0;
    // SAFETY (full loads below): `i + 64 <= n` before each 64-byte load.
    while i + LANES <= n {
        let a0 = _mm512_loadu_si512(a.add(i).cast());
        for r in 0..4 {
            let row = _mm512_xor_si512(_mm512_loadu_si512(b[r].add(i).cast()), flip);
            acc[r] = _mm512_dpbusd_epi32(acc[r], row, a0);
        }
        sum_a = _mm512_dpbusd_epi32(sum_a, ones, a0);
        i += LANES;
    }
    if i < n {
        let mask = tail_mask(n - i);
        // SAFETY: masked-off bytes are neither read nor able to fault; the rest lie below `n`.
        let a0 = _mm512_maskz_loadu_epi8(mask, a.add(i));
        for r in 0..4 {
            let row = _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, b[r].add(i)), flip);
            acc[r] = _mm512_dpbusd_epi32(acc[r], row, a0);
        }
        sum_a = _mm512_dpbusd_epi32(sum_a, ones, a0);
    }
    let total_a = _mm512_reduce_add_epi32(sum_a).wrapping_mul(128);
    acc.map(|r| _mm512_reduce_add_epi32(r).wrapping_sub(total_a))
}

/// True where the kernels here can run.
pub(crate) fn available() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vnni")
}

#[cfg(test)]
mod tests {
    use super::super::scalar;
    use super::super::twins::{random_i8, LENGTHS};

    /// Runs only where the CPU has AVX-512 VNNI; elsewhere the kernels are compiled but never called.
    #[test]
    fn int8_kernels_match_scalar_twins_exactly() {
        if !super::available() {
            return;
        }
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let a = random_i8(n, seed as u64);
            let rows: Vec<Vec<i8>> = (0..4).map(|r| random_i8(n, seed as u64 + 31 + r)).collect();
            let ptrs = [rows[0].as_ptr(), rows[1].as_ptr(), rows[2].as_ptr(), rows[3].as_ptr()];
            // SAFETY: the CPU has the features; the query and all four rows hold `n` values.
            let (one, four) =
                unsafe { (super::dot_i8(a.as_ptr(), rows[0].as_ptr(), n), super::dot_i8_4(a.as_ptr(), ptrs, n)) };
            assert_eq!(one, scalar::dot_i8(&a[..], &rows[0][..], n), "len {n}");
            for (r, row) in rows.iter().enumerate() {
                assert_eq!(four[r], scalar::dot_i8(&a[..], &row[..], n), "len {n}, row {r}");
            }
        }
    }

    #[test]
    fn extremes_are_exact() {
        if !super::available() {
            return;
        }
        for (x, y) in [(-128i8, -128i8), (-128, 127), (127, -128), (127, 127)] {
            let (a, b) = (vec![x; 4099], vec![y; 4099]);
            // SAFETY: the CPU has the features; both hold 4,099 values.
            let got = unsafe { super::dot_i8(a.as_ptr(), b.as_ptr(), a.len()) };
            assert_eq!(got, 4099 * i32::from(x) * i32::from(y));
        }
    }

    #[test]
    fn tail_masks_select_the_leading_bytes() {
        assert_eq!(super::tail_mask(0), 0);
        assert_eq!(super::tail_mask(1), 1);
        assert_eq!(super::tail_mask(63), u64::MAX >> 1);
    }
}
