//! Distance kernels with runtime-selected SIMD.
//!
//! The CPU is inspected once, on first use: AVX-512F or AVX2+FMA on x86_64, NEON on aarch64, a
//! portable scalar loop anywhere else. Setting `KIN_CPU=scalar` (or `avx2`, to skip AVX-512;
//! `KIN_SIMD` is its older name) before the first call narrows the choice, which is how
//! benchmarks measure what SIMD buys; a level the CPU lacks is never chosen.
//!
//! Distances follow one convention, smaller is nearer, under every [`Metric`]:
//! cosine is `1 − a·b` on unit vectors (the index normalises them on the way in), dot is `−a·b`,
//! l2 is the squared euclidean distance.

mod lanes;
mod scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "x86_64")]
mod vnni;

use std::sync::OnceLock;

use kin_core::cpu::CpuLevel;
use kin_core::Metric;

pub(crate) use lanes::{F32Lanes, I8Lanes};

/// The instruction set the kernels run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimdLevel {
    Scalar,
    Avx2,
    Avx512,
    /// AVX-512 with VNNI: int8 inner products 64 codes per instruction (int8 kernels only).
    Avx512Vnni,
    Neon,
}

#[derive(Debug, Clone, Copy)]
struct Dispatch {
    f32: SimdLevel,
    i8: SimdLevel,
}

static DISPATCH: OnceLock<Dispatch> = OnceLock::new();

#[inline]
fn dispatch() -> Dispatch {
    *DISPATCH.get_or_init(detect)
}

fn detect() -> Dispatch {
    let chosen = detect_cpu(kin_core::cpu::level());
    tracing::debug!(f32 = ?chosen.f32, i8 = ?chosen.i8, "distance kernels selected");
    chosen
}

/// The kernels for the highest level kin may use (`kin_core::cpu::level`, which `KIN_CPU` lowers).
#[cfg(target_arch = "x86_64")]
fn detect_cpu(allowed: CpuLevel) -> Dispatch {
    let avx2 = if allowed >= CpuLevel::Avx2 { SimdLevel::Avx2 } else { SimdLevel::Scalar };
    let avx512 = allowed >= CpuLevel::Avx512;
    let f32 = if avx512 { SimdLevel::Avx512 } else { avx2 };
    let i8 = if avx512 && vnni::available() { SimdLevel::Avx512Vnni } else { avx2 };
    Dispatch { f32, i8 }
}

#[cfg(target_arch = "aarch64")]
fn detect_cpu(allowed: CpuLevel) -> Dispatch {
    if allowed >= CpuLevel::Avx2 {
        Dispatch { f32: SimdLevel::Neon, i8: SimdLevel::Neon }
    } else {
        Dispatch { f32: SimdLevel::Scalar, i8: SimdLevel::Scalar }
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn detect_cpu(_allowed: CpuLevel) -> Dispatch {
    Dispatch { f32: SimdLevel::Scalar, i8: SimdLevel::Scalar }
}

/// The instruction set the f32 kernels use on this machine.
pub fn simd_level() -> SimdLevel {
    dispatch().f32
}

/// The instruction set the int8 kernels (quantized traversal) use on this machine.
pub fn simd_level_i8() -> SimdLevel {
    dispatch().i8
}

/// Inner product. Slices of different lengths are compared over the shorter one.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes(a, b)
}

/// Squared euclidean distance. Slices of different lengths are compared over the shorter one.
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    l2_lanes(a, b)
}

/// Inner product of int8 codes, exact for slices up to 131,072 long.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    dot_i8_lanes(a, b)
}

/// Squared euclidean distance of int8 codes, exact for slices up to 66,051 long.
pub fn l2_squared_i8(a: &[i8], b: &[i8]) -> u32 {
    l2_i8_lanes(a, b)
}

/// Distance under `metric`, smaller is nearer; cosine expects unit vectors (see [`normalize`]).
pub fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    metric_distance(metric, a, b)
}

/// Scales `v` to unit length; returns false, leaving `v` alone, when it has no direction.
pub fn normalize(v: &mut [f32]) -> bool {
    match inverse_norm(v) {
        Some(scale) => {
            v.iter_mut().for_each(|x| *x *= scale);
            true
        }
        None => false,
    }
}

/// `1 / |v|`, or `None` for a zero (or unrepresentably small) vector.
pub(crate) fn inverse_norm(v: &[f32]) -> Option<f32> {
    let squared: f64 = v.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    let scale = (1.0 / squared.sqrt()) as f32;
    (scale.is_finite() && scale > 0.0).then_some(scale)
}

#[inline]
pub(crate) fn metric_distance<A, B>(metric: Metric, a: &A, b: &B) -> f32
where
    A: F32Lanes + ?Sized,
    B: F32Lanes + ?Sized,
{
    match metric {
        Metric::Cosine => 1.0 - dot_lanes(a, b),
        Metric::Dot => -dot_lanes(a, b),
        Metric::L2 => l2_lanes(a, b),
    }
}

#[inline]
pub(crate) fn dot_lanes<A, B>(a: &A, b: &B) -> f32
where
    A: F32Lanes + ?Sized,
    B: F32Lanes + ?Sized,
{
    let n = a.lanes().min(b.lanes());
    match dispatch().f32 {
        // SAFETY: the level was chosen only after detecting its CPU features; both pointers cover
        // `n` initialised values, and stored rows are published before readers can reach them and
        // never written again.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { avx512::dot(a.as_f32_ptr(), b.as_f32_ptr(), n) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { avx2::dot(a.as_f32_ptr(), b.as_f32_ptr(), n) },
        // SAFETY: as above.
        #[cfg(target_arch = "aarch64")]
        SimdLevel::Neon => unsafe { neon::dot(a.as_f32_ptr(), b.as_f32_ptr(), n) },
        _ => scalar::dot(a, b, n),
    }
}

#[inline]
pub(crate) fn l2_lanes<A, B>(a: &A, b: &B) -> f32
where
    A: F32Lanes + ?Sized,
    B: F32Lanes + ?Sized,
{
    let n = a.lanes().min(b.lanes());
    match dispatch().f32 {
        // SAFETY: see `dot_lanes`.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { avx512::l2_squared(a.as_f32_ptr(), b.as_f32_ptr(), n) },
        // SAFETY: see `dot_lanes`.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { avx2::l2_squared(a.as_f32_ptr(), b.as_f32_ptr(), n) },
        // SAFETY: see `dot_lanes`.
        #[cfg(target_arch = "aarch64")]
        SimdLevel::Neon => unsafe { neon::l2_squared(a.as_f32_ptr(), b.as_f32_ptr(), n) },
        _ => scalar::l2_squared(a, b, n),
    }
}

/// Distances under `metric` from `query` to four rows at once (see [`metric_distance`]). The
/// AVX2 and AVX-512 kernels stream the four rows side by side; elsewhere it is four single calls.
#[inline]
pub(crate) fn metric_distance_4<A, B>(metric: Metric, query: &A, rows: [&B; 4]) -> [f32; 4]
where
    A: F32Lanes + ?Sized,
    B: F32Lanes + ?Sized,
{
    let n = rows.iter().fold(query.lanes(), |n, row| n.min(row.lanes()));
    let ptrs = rows.map(|row| row.as_f32_ptr());
    let q = query.as_f32_ptr();
    let l2 = metric == Metric::L2;
    let raw = match dispatch().f32 {
        // SAFETY: see `dot_lanes`; the query and every row cover `n` values.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 if l2 => unsafe { avx512::l2_squared_4(q, ptrs, n) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { avx512::dot_4(q, ptrs, n) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 if l2 => unsafe { avx2::l2_squared_4(q, ptrs, n) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { avx2::dot_4(q, ptrs, n) },
        _ => return rows.map(|row| metric_distance(metric, query, row)),
    };
    match metric {
        Metric::Cosine => raw.map(|d| 1.0 - d),
        Metric::Dot => raw.map(|d| -d),
        Metric::L2 => raw,
    }
}

#[inline]
pub(crate) fn dot_i8_lanes<A, B>(a: &A, b: &B) -> i32
where
    A: I8Lanes + ?Sized,
    B: I8Lanes + ?Sized,
{
    let n = a.lanes().min(b.lanes());
    match dispatch().i8 {
        // SAFETY: see `dot_lanes`; this level is chosen only where the CPU has VNNI.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512Vnni => unsafe { vnni::dot_i8(a.as_i8_ptr(), b.as_i8_ptr(), n) },
        // SAFETY: see `dot_lanes`.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { avx2::dot_i8(a.as_i8_ptr(), b.as_i8_ptr(), n) },
        // SAFETY: see `dot_lanes`.
        #[cfg(target_arch = "aarch64")]
        SimdLevel::Neon => unsafe { neon::dot_i8(a.as_i8_ptr(), b.as_i8_ptr(), n) },
        _ => scalar::dot_i8(a, b, n),
    }
}

/// Inner products of `query` with four rows at once. The VNNI and AVX2 kernels stream the four
/// rows side by side; elsewhere it is four single calls.
#[inline]
pub(crate) fn dot_i8_4_lanes<A, B>(query: &A, rows: [&B; 4]) -> [i32; 4]
where
    A: I8Lanes + ?Sized,
    B: I8Lanes + ?Sized,
{
    match dispatch().i8 {
        // SAFETY: see `dot_lanes`; the query and every row cover `n` values, and this level is
        // chosen only where the CPU has VNNI.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512Vnni => {
            let n = rows.iter().fold(query.lanes(), |n, row| n.min(row.lanes()));
            unsafe { vnni::dot_i8_4(query.as_i8_ptr(), rows.map(|row| row.as_i8_ptr()), n) }
        }
        // SAFETY: as above; this level is chosen only where the CPU has AVX2.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => {
            let n = rows.iter().fold(query.lanes(), |n, row| n.min(row.lanes()));
            unsafe { avx2::dot_i8_4(query.as_i8_ptr(), rows.map(|row| row.as_i8_ptr()), n) }
        }
        _ => rows.map(|row| dot_i8_lanes(query, row)),
    }
}

#[inline]
pub(crate) fn l2_i8_lanes<A, B>(a: &A, b: &B) -> u32
where
    A: I8Lanes + ?Sized,
    B: I8Lanes + ?Sized,
{
    let n = a.lanes().min(b.lanes());
    match dispatch().i8 {
        // SAFETY: see `dot_lanes`; a CPU with VNNI has AVX2.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 | SimdLevel::Avx512Vnni => unsafe { avx2::l2_squared_i8(a.as_i8_ptr(), b.as_i8_ptr(), n) },
        // SAFETY: see `dot_lanes`.
        #[cfg(target_arch = "aarch64")]
        SimdLevel::Neon => unsafe { neon::l2_squared_i8(a.as_i8_ptr(), b.as_i8_ptr(), n) },
        _ => scalar::l2_squared_i8(a, b, n),
    }
}

#[cfg(test)]
mod twins;

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI8, AtomicU32, Ordering};

    use super::twins::{assert_close, random_f32, random_i8, LENGTHS};
    use super::*;

    #[test]
    fn dispatched_kernels_match_scalar() {
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let a = random_f32(n, seed as u64);
            let b = random_f32(n, seed as u64 + 1000);
            assert_close(dot(&a, &b), scalar::dot(&a[..], &b[..], n), &a, &b);
            assert_close(l2_squared(&a, &b), scalar::l2_squared(&a[..], &b[..], n), &a, &b);
            let c = random_i8(n, seed as u64);
            let d = random_i8(n, seed as u64 + 1000);
            assert_eq!(dot_i8(&c, &d), scalar::dot_i8(&c[..], &d[..], n));
            assert_eq!(l2_squared_i8(&c, &d), scalar::l2_squared_i8(&c[..], &d[..], n));
        }
    }

    #[test]
    fn four_at_once_match_one_at_a_time() {
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let q = random_f32(n, seed as u64);
            let rows: Vec<Vec<AtomicU32>> = (0..4)
                .map(|r| random_f32(n, seed as u64 + 50 + r).iter().map(|x| AtomicU32::new(x.to_bits())).collect())
                .collect();
            for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
                let four = metric_distance_4(metric, &q[..], [&rows[0][..], &rows[1][..], &rows[2][..], &rows[3][..]]);
                for (r, row) in rows.iter().enumerate() {
                    let plain: Vec<f32> = row.iter().map(|x| f32::from_bits(x.load(Ordering::Relaxed))).collect();
                    assert_close(four[r], metric_distance(metric, &q[..], &row[..]), &q, &plain);
                }
            }
        }
    }

    #[test]
    fn four_int8_at_once_match_one_at_a_time() {
        for (seed, &n) in LENGTHS.iter().enumerate() {
            let q = random_i8(n, seed as u64);
            let rows: Vec<Vec<AtomicI8>> =
                (0..4).map(|r| random_i8(n, seed as u64 + 70 + r).into_iter().map(AtomicI8::new).collect()).collect();
            let four = dot_i8_4_lanes(&q[..], [&rows[0][..], &rows[1][..], &rows[2][..], &rows[3][..]]);
            for (r, row) in rows.iter().enumerate() {
                assert_eq!(four[r], scalar::dot_i8(&q[..], &row[..], n), "len {n}, row {r}");
            }
        }
    }

    #[test]
    fn stored_rows_read_like_slices() {
        let a = random_f32(77, 1);
        let b = random_f32(77, 2);
        let stored: Vec<AtomicU32> = b.iter().map(|x| AtomicU32::new(x.to_bits())).collect();
        assert_eq!(dot_lanes(&a[..], &stored[..]), dot(&a, &b));
        assert_eq!(l2_lanes(&stored[..], &a[..]), l2_squared(&b, &a));
        let c = random_i8(77, 3);
        let d = random_i8(77, 4);
        let stored: Vec<AtomicI8> = d.iter().map(|&x| AtomicI8::new(x)).collect();
        assert_eq!(dot_i8_lanes(&c[..], &stored[..]), dot_i8(&c, &d));
        assert_eq!(l2_i8_lanes(&c[..], &stored[..]), l2_squared_i8(&c, &d));
    }

    #[test]
    fn metric_conventions() {
        let mut a = vec![3.0f32, 4.0];
        assert!(normalize(&mut a));
        assert!((a[0] - 0.6).abs() < 1e-6 && (a[1] - 0.8).abs() < 1e-6);
        let b = [1.0f32, 0.0];
        assert!((distance(Metric::Cosine, &a, &b) - 0.4).abs() < 1e-6);
        assert!((distance(Metric::Dot, &a, &b) + 0.6).abs() < 1e-6);
        assert!((distance(Metric::L2, &a, &b) - (0.16 + 0.64)).abs() < 1e-6);
        assert_eq!(distance(Metric::L2, &a, &a), 0.0);
    }

    #[test]
    fn zero_vectors_have_no_direction() {
        let mut z = vec![0.0f32; 5];
        assert!(!normalize(&mut z));
        assert_eq!(z, vec![0.0; 5]);
        assert!(inverse_norm(&[]).is_none());
    }

    #[test]
    fn mismatched_lengths_use_the_shorter() {
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[1.0, 1.0]), 3.0);
        assert_eq!(dot_i8(&[1, 2], &[3]), 3);
    }
}
