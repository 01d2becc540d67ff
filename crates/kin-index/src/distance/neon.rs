//! NEON kernels for aarch64. Each has a twin in `scalar.rs` and a test comparing the two.
//!
//! Every function here requires, as its safety contract, that the CPU supports NEON and that each
//! pointer is valid for `n` reads of values no thread writes during the call.

use std::arch::aarch64::*;

/// Inner product of `n` f32 values.
///
/// # Safety
/// See the module documentation.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
    let mut acc0 = vdupq_n_f32(0.0);
    let mut acc1 = vdupq_n_f32(0.0);
    let mut acc2 = vdupq_n_f32(0.0);
    let mut acc3 = vdupq_n_f32(0.0);
    let mut i = 0;
    // SAFETY (all loads below): `i + 4 <= n` before each 4-lane load, within the caller's bounds.
    while i + 16 <= n {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a.add(i)), vld1q_f32(b.add(i)));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a.add(i + 4)), vld1q_f32(b.add(i + 4)));
        acc2 = vfmaq_f32(acc2, vld1q_f32(a.add(i + 8)), vld1q_f32(b.add(i + 8)));
        acc3 = vfmaq_f32(acc3, vld1q_f32(a.add(i + 12)), vld1q_f32(b.add(i + 12)));
        i += 16;
    }
    while i + 4 <= n {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a.add(i)), vld1q_f32(b.add(i)));
        i += 4;
    }
    let mut sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
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
#[target_feature(enable = "neon")]
pub(crate) unsafe fn l2_squared(a: *const f32, b: *const f32, n: usize) -> f32 {
    let mut acc0 = vdupq_n_f32(0.0);
    let mut acc1 = vdupq_n_f32(0.0);
    let mut acc2 = vdupq_n_f32(0.0);
    let mut acc3 = vdupq_n_f32(0.0);
    let mut i = 0;
    // SAFETY (all loads below): `i + 4 <= n` before each 4-lane load, within the caller's bounds.
    while i + 16 <= n {
        let d0 = vsubq_f32(vld1q_f32(a.add(i)), vld1q_f32(b.add(i)));
        let d1 = vsubq_f32(vld1q_f32(a.add(i + 4)), vld1q_f32(b.add(i + 4)));
        let d2 = vsubq_f32(vld1q_f32(a.add(i + 8)), vld1q_f32(b.add(i + 8)));
        let d3 = vsubq_f32(vld1q_f32(a.add(i + 12)), vld1q_f32(b.add(i + 12)));
        acc0 = vfmaq_f32(acc0, d0, d0);
        acc1 = vfmaq_f32(acc1, d1, d1);
        acc2 = vfmaq_f32(acc2, d2, d2);
        acc3 = vfmaq_f32(acc3, d3, d3);
        i += 16;
    }
    while i + 4 <= n {
        let d = vsubq_f32(vld1q_f32(a.add(i)), vld1q_f32(b.add(i)));
        acc0 = vfmaq_f32(acc0, d, d);
        i += 4;
    }
    let mut sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
    while i < n {
        let d = *a.add(i) - *b.add(i);
        sum += d * d;
        i += 1;
    }
    sum
}

/// Inner product of `n` i8 values: products widen to i16, pairs accumulate in i32 lanes.
///
/// # Safety
/// See the module documentation.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn dot_i8(a: *const i8, b: *const i8, n: usize) -> i32 {
    let mut acc = vdupq_n_s32(0);
    let mut i = 0;
    // SAFETY (all loads below): `i + 16 <= n` before each 16-byte load, within the caller's bounds.
    while i + 16 <= n {
        let va = vld1q_s8(a.add(i));
        let vb = vld1q_s8(b.add(i));
        acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(va), vget_low_s8(vb)));
        acc = vpadalq_s16(acc, vmull_high_s8(va, vb));
        i += 16;
    }
    let mut sum = vaddvq_s32(acc);
    while i < n {
        sum = sum.wrapping_add(i32::from(*a.add(i)) * i32::from(*b.add(i)));
        i += 1;
    }
    sum
}

/// Squared euclidean distance of `n` i8 values; lanes wrap like the scalar twin.
///
/// # Safety
/// See the module documentation.
#[target_feature(enable = "neon")]
pub(crate) unsafe fn l2_squared_i8(a: *const i8, b: *const i8, n: usize) -> u32 {
    let mut acc = vdupq_n_u32(0);
    let mut i = 0;
    // SAFETY (all loads below): `i + 16 <= n` before each 16-byte load, within the caller's bounds.
    while i + 16 <= n {
        let va = vld1q_s8(a.add(i));
        let vb = vld1q_s8(b.add(i));
        let lo = vreinterpretq_u16_s16(vabdl_s8(vget_low_s8(va), vget_low_s8(vb)));
        let hi = vreinterpretq_u16_s16(vabdl_high_s8(va, vb));
        acc = vmlal_u16(acc, vget_low_u16(lo), vget_low_u16(lo));
        acc = vmlal_high_u16(acc, lo, lo);
        acc = vmlal_u16(acc, vget_low_u16(hi), vget_low_u16(hi));
        acc = vmlal_high_u16(acc, hi, hi);
        i += 16;
    }
    let mut sum = vaddvq_u32(acc);
    while i < n {
        let d = i32::from(*a.add(i)) - i32::from(*b.add(i));
        sum = sum.wrapping_add(d.unsigned_abs() * d.unsigned_abs());
        i += 1;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::super::scalar;
    use super::super::twins::{assert_close, random_f32, random_i8, LENGTHS};

    #[test]
    fn kernels_match_scalar_twins() {
        if !std::arch::is_aarch64_feature_detected!("neon") {
            return;
        }
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let a = random_f32(n, seed as u64);
            let b = random_f32(n, seed as u64 + 7);
            // SAFETY: NEON was detected; both vectors hold `n` values.
            let (dot, l2) =
                unsafe { (super::dot(a.as_ptr(), b.as_ptr(), n), super::l2_squared(a.as_ptr(), b.as_ptr(), n)) };
            assert_close(dot, scalar::dot(&a[..], &b[..], n), &a, &b);
            assert_close(l2, scalar::l2_squared(&a[..], &b[..], n), &a, &b);
            let c = random_i8(n, seed as u64);
            let d = random_i8(n, seed as u64 + 7);
            // SAFETY: NEON was detected; both vectors hold `n` values.
            let (dot, l2) =
                unsafe { (super::dot_i8(c.as_ptr(), d.as_ptr(), n), super::l2_squared_i8(c.as_ptr(), d.as_ptr(), n)) };
            assert_eq!(dot, scalar::dot_i8(&c[..], &d[..], n), "len {n}");
            assert_eq!(l2, scalar::l2_squared_i8(&c[..], &d[..], n), "len {n}");
        }
    }
}
