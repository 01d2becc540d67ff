//! Portable kernels: the fallback on CPUs without SIMD support, and the reference every SIMD
//! kernel is tested against.

use super::lanes::{F32Lanes, I8Lanes};

/// Independent accumulators, so the sum does not wait on one long dependency chain.
const ACCUMULATORS: usize = 8;

/// Inner product of the first `n` lanes.
pub(crate) fn dot<A, B>(a: &A, b: &B, n: usize) -> f32
where
    A: F32Lanes + ?Sized,
    B: F32Lanes + ?Sized,
{
    let mut acc = [0.0f32; ACCUMULATORS];
    let whole = n - n % ACCUMULATORS;
    for base in (0..whole).step_by(ACCUMULATORS) {
        for (j, slot) in acc.iter_mut().enumerate() {
            *slot += a.lane(base + j) * b.lane(base + j);
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in whole..n {
        sum += a.lane(i) * b.lane(i);
    }
    sum
}

/// Squared euclidean distance over the first `n` lanes.
pub(crate) fn l2_squared<A, B>(a: &A, b: &B, n: usize) -> f32
where
    A: F32Lanes + ?Sized,
    B: F32Lanes + ?Sized,
{
    let mut acc = [0.0f32; ACCUMULATORS];
    let whole = n - n % ACCUMULATORS;
    for base in (0..whole).step_by(ACCUMULATORS) {
        for (j, slot) in acc.iter_mut().enumerate() {
            let d = a.lane(base + j) - b.lane(base + j);
            *slot += d * d;
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for i in whole..n {
        let d = a.lane(i) - b.lane(i);
        sum += d * d;
    }
    sum
}

/// Inner product of the first `n` i8 lanes, exact in i32 for `n` up to 131,072.
pub(crate) fn dot_i8<A, B>(a: &A, b: &B, n: usize) -> i32
where
    A: I8Lanes + ?Sized,
    B: I8Lanes + ?Sized,
{
    let mut sum = 0i32;
    for i in 0..n {
        sum = sum.wrapping_add(i32::from(a.lane(i)) * i32::from(b.lane(i)));
    }
    sum
}

/// Squared euclidean distance of the first `n` i8 lanes, exact in u32 for `n` up to 66,051.
pub(crate) fn l2_squared_i8<A, B>(a: &A, b: &B, n: usize) -> u32
where
    A: I8Lanes + ?Sized,
    B: I8Lanes + ?Sized,
{
    let mut sum = 0u32;
    for i in 0..n {
        let d = i32::from(a.lane(i)) - i32::from(b.lane(i));
        sum = sum.wrapping_add(d.unsigned_abs() * d.unsigned_abs());
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_by_hand() {
        let a = [1.0f32, 2.0, 3.0];
        let b = [4.0f32, -5.0, 6.0];
        assert_eq!(dot(&a[..], &b[..], 3), 12.0);
        assert_eq!(l2_squared(&a[..], &b[..], 3), 9.0 + 49.0 + 9.0);
        assert_eq!(dot(&a[..], &b[..], 0), 0.0);
        let c = [-128i8, 127, 3];
        let d = [-128i8, -128, 5];
        assert_eq!(dot_i8(&c[..], &d[..], 3), 16384 - 16256 + 15);
        assert_eq!(l2_squared_i8(&c[..], &d[..], 3), 255 * 255 + 4);
    }

    #[test]
    fn extreme_codes_do_not_overflow() {
        let a = vec![-128i8; 4096];
        let b = vec![127i8; 4096];
        assert_eq!(dot_i8(&a[..], &a[..], 4096), 4096 * 16384);
        assert_eq!(l2_squared_i8(&a[..], &b[..], 4096), 4096 * 65025);
    }
}
