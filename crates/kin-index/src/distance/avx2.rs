//! AVX2 + FMA kernels for x86_64. Each has a twin in `scalar.rs` and a test comparing the two.
//!
//! Every function here requires, as its safety contract, that the CPU supports AVX2 and FMA and
//! that each pointer is valid for `n` reads of values no thread writes during the call.

use std::arch::x86_64::*;

/// Inner product of `n` f32 values.
///
/// # Safety
/// See the module documentation.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut acc2 = _mm256_setzero_ps();
    let mut acc3 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): `i + 8 <= n` before each 8-lane load, within the caller's bounds.
    while i + 32 <= n {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i + 8)), _mm256_loadu_ps(b.add(i + 8)), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i + 16)), _mm256_loadu_ps(b.add(i + 16)), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i + 24)), _mm256_loadu_ps(b.add(i + 24)), acc3);
        i += 32;
    }
    while i + 8 <= n {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), acc0);
        i += 8;
    }
    let mut sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    while i < n {
        sum += *a.add(i) * *b.add(i);
        i += 1;
    }
    sum
}

/// Squared euclidean distance of `n` f32 values.
///
/// # Safety
/// See the module documentation.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn l2_squared(a: *const f32, b: *const f32, n: usize) -> f32 {
    let mut acc0 = _mm256_setzero_ps();
    let mut acc1 = _mm256_setzero_ps();
    let mut acc2 = _mm256_setzero_ps();
    let mut acc3 = _mm256_setzero_ps();
    let mut i = 0;
    // SAFETY (all loads below): `i + 8 <= n` before each 8-lane load, within the caller's bounds.
    while i + 32 <= n {
        let d0 = _mm256_sub_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)));
        let d1 = _mm256_sub_ps(_mm256_loadu_ps(a.add(i + 8)), _mm256_loadu_ps(b.add(i + 8)));
        let d2 = _mm256_sub_ps(_mm256_loadu_ps(a.add(i + 16)), _mm256_loadu_ps(b.add(i + 16)));
        let d3 = _mm256_sub_ps(_mm256_loadu_ps(a.add(i + 24)), _mm256_loadu_ps(b.add(i + 24)));
        acc0 = _mm256_fmadd_ps(d0, d0, acc0);
        acc1 = _mm256_fmadd_ps(d1, d1, acc1);
        acc2 = _mm256_fmadd_ps(d2, d2, acc2);
        acc3 = _mm256_fmadd_ps(d3, d3, acc3);
        i += 32;
    }
    while i + 8 <= n {
        let d = _mm256_sub_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)));
        acc0 = _mm256_fmadd_ps(d, d, acc0);
        i += 8;
    }
    let mut sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    while i < n {
        let d = *a.add(i) - *b.add(i);
        sum += d * d;
        i += 1;
    }
    sum
}

/// Inner products of `a` with four rows at once, `n` values each. The four rows stream side by
/// side, so their cache misses overlap, and each query chunk is loaded once for all four.
///
/// # Safety
/// See the module documentation; each of the four row pointers is valid for `n` reads.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn dot_4(a: *const f32, b: [*const f32; 4], n: usize) -> [f32; 4] {
    let mut acc = [_mm256_setzero_ps(); 8];
    let mut i = 0;
    // SAFETY (all loads below): `i + 16 <= n`, then `i + 8 <= n`, before each load of 8 lanes.
    while i + 16 <= n {
        let q0 = _mm256_loadu_ps(a.add(i));
        let q1 = _mm256_loadu_ps(a.add(i + 8));
        for r in 0..4 {
            acc[2 * r] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(b[r].add(i)), acc[2 * r]);
            acc[2 * r + 1] = _mm256_fmadd_ps(q1, _mm256_loadu_ps(b[r].add(i + 8)), acc[2 * r + 1]);
        }
        i += 16;
    }
    if i + 8 <= n {
        let q0 = _mm256_loadu_ps(a.add(i));
        for r in 0..4 {
            acc[2 * r] = _mm256_fmadd_ps(q0, _mm256_loadu_ps(b[r].add(i)), acc[2 * r]);
        }
        i += 8;
    }
    let mut out = [0.0f32; 4];
    for r in 0..4 {
        let mut sum = hsum_ps(_mm256_add_ps(acc[2 * r], acc[2 * r + 1]));
        for j in i..n {
            sum += *a.add(j) * *b[r].add(j);
        }
        out[r] = sum;
    }
    out
}

/// Squared euclidean distances of `a` to four rows at once, `n` values each (see [`dot_4`]).
///
/// # Safety
/// See the module documentation; each of the four row pointers is valid for `n` reads.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn l2_squared_4(a: *const f32, b: [*const f32; 4], n: usize) -> [f32; 4] {
    let mut acc = [_mm256_setzero_ps(); 8];
    let mut i = 0;
    // SAFETY (all loads below): `i + 16 <= n`, then `i + 8 <= n`, before each load of 8 lanes.
    while i + 16 <= n {
        let q0 = _mm256_loadu_ps(a.add(i));
        let q1 = _mm256_loadu_ps(a.add(i + 8));
        for r in 0..4 {
            let d0 = _mm256_sub_ps(q0, _mm256_loadu_ps(b[r].add(i)));
            let d1 = _mm256_sub_ps(q1, _mm256_loadu_ps(b[r].add(i + 8)));
            acc[2 * r] = _mm256_fmadd_ps(d0, d0, acc[2 * r]);
            acc[2 * r + 1] = _mm256_fmadd_ps(d1, d1, acc[2 * r + 1]);
        }
        i += 16;
    }
    if i + 8 <= n {
        let q0 = _mm256_loadu_ps(a.add(i));
        for r in 0..4 {
            let d0 = _mm256_sub_ps(q0, _mm256_loadu_ps(b[r].add(i)));
            acc[2 * r] = _mm256_fmadd_ps(d0, d0, acc[2 * r]);
        }
        i += 8;
    }
    let mut out = [0.0f32; 4];
    for r in 0..4 {
        let mut sum = hsum_ps(_mm256_add_ps(acc[2 * r], acc[2 * r + 1]));
        for j in i..n {
            let d = *a.add(j) - *b[r].add(j);
            sum += d * d;
        }
        out[r] = sum;
    }
    out
}

/// Inner product of `n` i8 values, widened to i16 and summed in i32 lanes.
///
/// # Safety
/// See the module documentation.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn dot_i8(a: *const i8, b: *const i8, n: usize) -> i32 {
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    // SAFETY (all loads below): `i + 16 <= n` before each 16-byte load, within the caller's bounds.
    while i + 32 <= n {
        let a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(a.add(i).cast()));
        let b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b.add(i).cast()));
        let a1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(a.add(i + 16).cast()));
        let b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b.add(i + 16).cast()));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(a0, b0));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(a1, b1));
        i += 32;
    }
    if i + 16 <= n {
        let a0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(a.add(i).cast()));
        let b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b.add(i).cast()));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(a0, b0));
        i += 16;
    }
    let mut sum = hsum_epi32(_mm256_add_epi32(acc0, acc1));
    while i < n {
        sum = sum.wrapping_add(i32::from(*a.add(i)) * i32::from(*b.add(i)));
        i += 1;
    }
    sum
}

/// Inner products of `a` with four rows of `n` i8 values (see [`dot_i8`]). Each chunk of the
/// query is loaded and widened once for all four rows, and the four rows stream side by side, so
/// their cache misses overlap. The sums are integers: the same as four [`dot_i8`] calls.
///
/// # Safety
/// See the module documentation; each of the four row pointers is valid for `n` reads.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn dot_i8_4(a: *const i8, b: [*const i8; 4], n: usize) -> [i32; 4] {
    let mut acc = [_mm256_setzero_si256(); 8];
    let mut i = 0;
    // SAFETY (all loads below): `i + 32 <= n`, then `i + 16 <= n`, before each 16-byte load.
    while i + 32 <= n {
        let q0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(a.add(i).cast()));
        let q1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(a.add(i + 16).cast()));
        for r in 0..4 {
            let r0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b[r].add(i).cast()));
            let r1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b[r].add(i + 16).cast()));
            acc[2 * r] = _mm256_add_epi32(acc[2 * r], _mm256_madd_epi16(q0, r0));
            acc[2 * r + 1] = _mm256_add_epi32(acc[2 * r + 1], _mm256_madd_epi16(q1, r1));
        }
        i += 32;
    }
    if i + 16 <= n {
        let q0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(a.add(i).cast()));
        for r in 0..4 {
            let r0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(b[r].add(i).cast()));
            acc[2 * r] = _mm256_add_epi32(acc[2 * r], _mm256_madd_epi16(q0, r0));
        }
        i += 16;
    }
    let mut out = [0i32; 4];
    for r in 0..4 {
        let mut sum = hsum_epi32(_mm256_add_epi32(acc[2 * r], acc[2 * r + 1]));
        for j in i..n {
            sum = sum.wrapping_add(i32::from(*a.add(j)) * i32::from(*b[r].add(j)));
        }
        out[r] = sum;
    }
    out
}

/// Squared euclidean distance of `n` i8 values; lanes wrap like the scalar twin.
///
/// # Safety
/// See the module documentation.
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn l2_squared_i8(a: *const i8, b: *const i8, n: usize) -> u32 {
    let mut acc0 = _mm256_setzero_si256();
    let mut acc1 = _mm256_setzero_si256();
    let mut i = 0;
    // SAFETY (all loads below): `i + 16 <= n` before each 16-byte load, within the caller's bounds.
    while i + 32 <= n {
        let d0 = _mm256_sub_epi16(
            _mm256_cvtepi8_epi16(_mm_loadu_si128(a.add(i).cast())),
            _mm256_cvtepi8_epi16(_mm_loadu_si128(b.add(i).cast())),
        );
        let d1 = _mm256_sub_epi16(
            _mm256_cvtepi8_epi16(_mm_loadu_si128(a.add(i + 16).cast())),
            _mm256_cvtepi8_epi16(_mm_loadu_si128(b.add(i + 16).cast())),
        );
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(d0, d0));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(d1, d1));
        i += 32;
    }
    if i + 16 <= n {
        let d0 = _mm256_sub_epi16(
            _mm256_cvtepi8_epi16(_mm_loadu_si128(a.add(i).cast())),
            _mm256_cvtepi8_epi16(_mm_loadu_si128(b.add(i).cast())),
        );
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(d0, d0));
        i += 16;
    }
    // The lanes hold non-negative partial sums; reading them as u32 keeps the wrapping semantics.
    let mut sum = hsum_epi32(_mm256_add_epi32(acc0, acc1)) as u32;
    while i < n {
        let d = i32::from(*a.add(i)) - i32::from(*b.add(i));
        sum = sum.wrapping_add(d.unsigned_abs() * d.unsigned_abs());
        i += 1;
    }
    sum
}

#[target_feature(enable = "avx2")]
fn hsum_ps(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
    _mm_cvtss_f32(s)
}

#[target_feature(enable = "avx2")]
fn hsum_epi32(v: __m256i) -> i32 {
    let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    _mm_cvtsi128_si32(s)
}

#[cfg(test)]
mod tests {
    use super::super::scalar;
    use super::super::twins::{assert_close, random_f32, random_i8, LENGTHS};

    fn supported() -> bool {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    #[test]
    fn f32_kernels_match_scalar_twins() {
        if !supported() {
            return;
        }
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let a = random_f32(n, seed as u64);
            let b = random_f32(n, seed as u64 + 7);
            // SAFETY: AVX2 and FMA were detected; both vectors hold `n` values.
            let (dot, l2) =
                unsafe { (super::dot(a.as_ptr(), b.as_ptr(), n), super::l2_squared(a.as_ptr(), b.as_ptr(), n)) };
            assert_close(dot, scalar::dot(&a[..], &b[..], n), &a, &b);
            assert_close(l2, scalar::l2_squared(&a[..], &b[..], n), &a, &b);
        }
    }

    #[test]
    fn four_row_kernels_match_scalar_twins() {
        if !supported() {
            return;
        }
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let a = random_f32(n, seed as u64);
            let rows: Vec<Vec<f32>> = (0..4).map(|r| random_f32(n, seed as u64 + 11 + r)).collect();
            let ptrs = [rows[0].as_ptr(), rows[1].as_ptr(), rows[2].as_ptr(), rows[3].as_ptr()];
            // SAFETY: AVX2 and FMA were detected; the query and all four rows hold `n` values.
            let (dots, l2s) = unsafe { (super::dot_4(a.as_ptr(), ptrs, n), super::l2_squared_4(a.as_ptr(), ptrs, n)) };
            for (r, row) in rows.iter().enumerate() {
                assert_close(dots[r], scalar::dot(&a[..], &row[..], n), &a, row);
                assert_close(l2s[r], scalar::l2_squared(&a[..], &row[..], n), &a, row);
            }
        }
    }

    #[test]
    fn four_row_i8_kernel_matches_scalar_twin_exactly() {
        if !supported() {
            return;
        }
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let a = random_i8(n, seed as u64);
            let rows: Vec<Vec<i8>> = (0..4).map(|r| random_i8(n, seed as u64 + 23 + r)).collect();
            let ptrs = [rows[0].as_ptr(), rows[1].as_ptr(), rows[2].as_ptr(), rows[3].as_ptr()];
            // SAFETY: AVX2 was detected; the query and all four rows hold `n` values.
            let dots = unsafe { super::dot_i8_4(a.as_ptr(), ptrs, n) };
            for (r, row) in rows.iter().enumerate() {
                assert_eq!(dots[r], scalar::dot_i8(&a[..], &row[..], n), "len {n}, row {r}");
            }
        }
    }

    #[test]
    fn i8_kernels_match_scalar_twins_exactly() {
        if !supported() {
            return;
        }
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let a = random_i8(n, seed as u64);
            let b = random_i8(n, seed as u64 + 7);
            // SAFETY: AVX2 was detected; both vectors hold `n` values.
            let (dot, l2) =
                unsafe { (super::dot_i8(a.as_ptr(), b.as_ptr(), n), super::l2_squared_i8(a.as_ptr(), b.as_ptr(), n)) };
            assert_eq!(dot, scalar::dot_i8(&a[..], &b[..], n), "len {n}");
            assert_eq!(l2, scalar::l2_squared_i8(&a[..], &b[..], n), "len {n}");
        }
        let low = vec![-128i8; 4099];
        let high = vec![127i8; 4099];
        // SAFETY: AVX2 was detected; the query and all four rows hold 4099 values.
        let four =
            unsafe { super::dot_i8_4(low.as_ptr(), [low.as_ptr(), high.as_ptr(), low.as_ptr(), high.as_ptr()], 4099) };
        assert_eq!(four, [4099 * 16384, -4099 * 16256, 4099 * 16384, -4099 * 16256]);
        // SAFETY: AVX2 was detected; both vectors hold 4099 values.
        unsafe {
            assert_eq!(super::dot_i8(low.as_ptr(), low.as_ptr(), 4099), 4099 * 16384);
            assert_eq!(super::l2_squared_i8(low.as_ptr(), high.as_ptr(), 4099), 4099 * 65025);
        }
    }
}
