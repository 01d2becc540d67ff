//! Int8 scalar quantization with a per-dimension range.
//!
//! Dimension `d` maps `[min_d, max_d]` onto 256 levels: `code = round((x − min_d) / s_d) − 128`
//! with `s_d = (max_d − min_d) / 255`, so a code decodes to `o_d + s_d·code` where
//! `o_d = min_d + 128·s_d`. Values outside the range clamp to its ends.
//!
//! Distances between a float query `q` and a decoded vector reduce to one i8·i8 inner product,
//! whatever the per-dimension scales: the query is folded into weights `w_d` (quantized to i8 with
//! one scale `t`), and
//!
//! * dot: `q·x̂ = q·o + Σ_d (q_d s_d)·code_d ≈ q·o + t·(w·code)`;
//! * l2: with `e = q − o`, `|q − x̂|² = |e|² − 2 Σ_d (e_d s_d)·code_d + Σ_d (s_d code_d)²`, where the
//!   last sum depends on the vector only and is stored beside its code.
//!
//! The approximation only steers the graph walk; results are re-ranked with exact f32 distances.

use std::sync::atomic::{AtomicI8, Ordering};

use kin_core::Metric;

use crate::distance::{dot_i8_4_lanes, dot_i8_lanes, F32Lanes, I8Lanes};
use crate::validate::check_dim;
use crate::{Error, Result};

/// Levels above the lowest code.
const STEPS: f64 = 255.0;
/// Largest magnitude of a query weight.
const WEIGHT_MAX: f32 = 127.0;

/// Per-dimension min/max quantizer from f32 to i8.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Quantizer {
    min: Vec<f32>,
    max: Vec<f32>,
    scale: Vec<f32>,
    offset: Vec<f32>,
}

impl Int8Quantizer {
    /// A quantizer for the given per-dimension bounds.
    pub fn new(min: Vec<f32>, max: Vec<f32>) -> Result<Self> {
        if min.len() != max.len() {
            return Err(Error::DimensionMismatch { expected: min.len(), got: max.len() });
        }
        check_dim(min.len())?;
        let mut scale = Vec::with_capacity(min.len());
        let mut offset = Vec::with_capacity(min.len());
        for (d, (&lo, &hi)) in min.iter().zip(&max).enumerate() {
            if !lo.is_finite() {
                return Err(Error::NonFinite { index: d });
            }
            if !hi.is_finite() {
                return Err(Error::NonFinite { index: min.len() + d });
            }
            if lo > hi {
                return Err(Error::InvalidParameter {
                    name: "quantizer dimension",
                    value: d as u64,
                    reason: "its minimum exceeds its maximum",
                });
            }
            let s = ((f64::from(hi) - f64::from(lo)) / STEPS) as f32;
            scale.push(s);
            offset.push(lo + 128.0 * s);
        }
        Ok(Int8Quantizer { min, max, scale, offset })
    }

    /// Fits the bounds to the per-dimension minimum and maximum of `rows`. Under cosine, fit on
    /// unit vectors, as the index stores them.
    pub fn fit<'a>(dim: usize, rows: impl IntoIterator<Item = &'a [f32]>) -> Result<Self> {
        Int8Quantizer::fit_rows(dim, rows)
    }

    /// [`Int8Quantizer::fit`] over any rows the kernels can read, stored rows included.
    pub(crate) fn fit_rows<'a, V>(dim: usize, rows: impl IntoIterator<Item = &'a V>) -> Result<Self>
    where
        V: F32Lanes + ?Sized + 'a,
    {
        check_dim(dim)?;
        let mut min = vec![f32::INFINITY; dim];
        let mut max = vec![f32::NEG_INFINITY; dim];
        let mut seen = 0usize;
        for row in rows {
            if row.lanes() != dim {
                return Err(Error::DimensionMismatch { expected: dim, got: row.lanes() });
            }
            for (d, (lo, hi)) in min.iter_mut().zip(max.iter_mut()).enumerate() {
                let x = row.lane(d);
                if !x.is_finite() {
                    return Err(Error::NonFinite { index: seen * dim + d });
                }
                *lo = lo.min(x);
                *hi = hi.max(x);
            }
            seen += 1;
        }
        if seen == 0 {
            return Err(Error::EmptyTrainingSet);
        }
        tracing::debug!(dim, vectors = seen, "int8 quantizer fitted");
        Int8Quantizer::new(min, max)
    }

    pub fn dim(&self) -> usize {
        self.min.len()
    }

    /// Per-dimension lower bounds.
    pub fn min(&self) -> &[f32] {
        &self.min
    }

    /// Per-dimension upper bounds.
    pub fn max(&self) -> &[f32] {
        &self.max
    }

    /// The code of `v`.
    pub fn encode(&self, v: &[f32]) -> Result<Vec<i8>> {
        self.check_len(v.len())?;
        Ok(v.iter().enumerate().map(|(d, &x)| self.code(d, x)).collect())
    }

    /// The vector a code stands for.
    pub fn decode(&self, code: &[i8]) -> Result<Vec<f32>> {
        self.check_len(code.len())?;
        Ok(code.iter().enumerate().map(|(d, &c)| self.offset[d] + self.scale[d] * f32::from(c)).collect())
    }

    fn check_len(&self, len: usize) -> Result<()> {
        if len != self.dim() {
            return Err(Error::DimensionMismatch { expected: self.dim(), got: len });
        }
        Ok(())
    }

    #[inline]
    fn code(&self, d: usize, x: f32) -> i8 {
        let s = self.scale[d];
        if s == 0.0 {
            return -128;
        }
        let level = round_small(((x - self.min[d]) / s).clamp(0.0, STEPS as f32));
        (level - 128) as i8
    }

    /// Writes the code of `v` into `out` and returns the l2 term `Σ_d (s_d·code_d)²`.
    pub(crate) fn encode_into<V: F32Lanes + ?Sized>(&self, v: &V, out: &[AtomicI8]) -> f32 {
        let mut term = 0.0f32;
        for (d, slot) in out.iter().enumerate().take(v.lanes()) {
            let c = self.code(d, v.lane(d));
            slot.store(c, Ordering::Relaxed);
            let y = self.scale[d] * f32::from(c);
            term += y * y;
        }
        term
    }

    /// Prepares `query` (as the index compares it: unit length under cosine) for distances to codes.
    pub(crate) fn query(&self, metric: Metric, query: &[f32]) -> QueryCode {
        let (weights, base, factor_per_step): (Vec<f32>, f32, f32) = match metric {
            Metric::L2 => {
                let e: Vec<f32> = query.iter().zip(&self.offset).map(|(q, o)| q - o).collect();
                let base = e.iter().map(|x| x * x).sum();
                (e.iter().zip(&self.scale).map(|(e, s)| e * s).collect(), base, -2.0)
            }
            Metric::Dot | Metric::Cosine => {
                let k: f32 = query.iter().zip(&self.offset).map(|(q, o)| q * o).sum();
                let base = if metric == Metric::Cosine { 1.0 - k } else { -k };
                (query.iter().zip(&self.scale).map(|(q, s)| q * s).collect(), base, -1.0)
            }
        };
        let largest = weights.iter().fold(0.0f32, |m, w| m.max(w.abs()));
        let t = largest / WEIGHT_MAX;
        let weights = if t > 0.0 {
            weights.iter().map(|w| round_small((w / t).clamp(-WEIGHT_MAX, WEIGHT_MAX)) as i8).collect()
        } else {
            vec![0; weights.len()]
        };
        QueryCode { weights, base, factor: factor_per_step * t, with_term: metric == Metric::L2 }
    }
}

/// `x.round()` (halves away from zero) as an integer, for `|x| < 2²³` (the callers clamp first;
/// rounding and clamping to whole bounds commute). `f32::round` is a library call per value on
/// the x86-64 baseline, a tenth of an int8 query's time at 384 dimensions; this vectorises.
#[inline]
fn round_small(x: f32) -> i32 {
    let whole = x as i32;
    // Exact: `whole` is `x` truncated, and the difference of the two is representable.
    let fraction = x - whole as f32;
    whole + i32::from(fraction >= 0.5) - i32::from(fraction <= -0.5)
}

/// A query folded into i8 weights, for approximate distances to codes.
pub(crate) struct QueryCode {
    weights: Vec<i8>,
    base: f32,
    factor: f32,
    with_term: bool,
}

impl QueryCode {
    /// Approximate distance to the vector with this code and l2 term.
    #[inline]
    pub(crate) fn distance<C: I8Lanes + ?Sized>(&self, code: &C, term: f32) -> f32 {
        self.finish(dot_i8_lanes(&self.weights[..], code), term)
    }

    /// [`QueryCode::distance`] to four codes at once.
    #[inline]
    pub(crate) fn distances_4<C: I8Lanes + ?Sized>(&self, codes: [&C; 4], terms: [f32; 4]) -> [f32; 4] {
        let dots = dot_i8_4_lanes(&self.weights[..], codes);
        [0, 1, 2, 3].map(|r| self.finish(dots[r], terms[r]))
    }

    /// Whether distances need the vectors' l2 terms (only l2 does; they may be given as 0 otherwise).
    #[inline]
    pub(crate) fn uses_term(&self) -> bool {
        self.with_term
    }

    #[inline]
    fn finish(&self, dot: i32, term: f32) -> f32 {
        let d = self.base + self.factor * dot as f32;
        if self.with_term {
            d + term
        } else {
            d
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::{distance, normalize};

    #[test]
    fn round_small_rounds_as_f32_round_does() {
        let mut values = vec![0.0f32, -0.0, 0.49999997, -0.49999997, 2.5e-8, 8_388_607.0, -8_388_607.5];
        for whole in -300..=300 {
            let half = whole as f32 + 0.5;
            values.extend([half, half.next_up(), half.next_down(), whole as f32, (whole as f32).next_down()]);
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            values.push(((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 600.0);
        }
        for x in values {
            assert_eq!(round_small(x), x.round() as i32, "{x:?}");
        }
    }

    fn sample(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        (0..n).map(|_| (0..dim).map(|d| next() * (1.0 + d as f32 / 8.0)).collect()).collect()
    }

    #[test]
    fn round_trip_error_is_half_a_step() -> Result<()> {
        let rows = sample(200, 16, 1);
        let q = Int8Quantizer::fit(16, rows.iter().map(Vec::as_slice))?;
        for row in &rows {
            let back = q.decode(&q.encode(row)?)?;
            for d in 0..16 {
                let step = (q.max()[d] - q.min()[d]) / 255.0;
                assert!((back[d] - row[d]).abs() <= step * 0.5 + 1e-5, "dim {d}");
            }
        }
        Ok(())
    }

    #[test]
    fn code_distances_track_true_distances() -> Result<()> {
        for metric in [Metric::L2, Metric::Dot, Metric::Cosine] {
            let mut rows = sample(300, 32, 2);
            if metric == Metric::Cosine {
                rows.iter_mut().for_each(|r| {
                    normalize(r);
                });
            }
            let q = Int8Quantizer::fit(32, rows.iter().map(Vec::as_slice))?;
            let query = &rows[0];
            let code = q.query(metric, query);
            let mut pairs = Vec::new();
            for row in &rows[1..] {
                let stored: Vec<AtomicI8> = (0..32).map(|_| AtomicI8::new(0)).collect();
                let term = q.encode_into(&row[..], &stored);
                pairs.push((distance(metric, query, row), code.distance(&stored[..], term)));
            }
            let (lo, hi) = pairs.iter().fold((f32::MAX, f32::MIN), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
            let worst = pairs.iter().map(|(exact, approx)| (exact - approx).abs()).fold(0.0, f32::max) / (hi - lo);
            assert!(worst < 0.02, "{metric}: error {worst} of the spread of distances");
        }
        Ok(())
    }

    #[test]
    fn constant_dimensions_and_bad_bounds() -> Result<()> {
        let q = Int8Quantizer::new(vec![1.0, -1.0], vec![1.0, 1.0])?;
        assert_eq!(q.encode(&[1.0, 1.0])?, vec![-128, 127]);
        assert_eq!(q.decode(&[-128, -128])?, vec![1.0, -1.0]);
        assert!(matches!(Int8Quantizer::new(vec![2.0], vec![1.0]), Err(Error::InvalidParameter { .. })));
        assert!(matches!(Int8Quantizer::new(vec![0.0], vec![f32::NAN]), Err(Error::NonFinite { index: 1 })));
        assert!(matches!(Int8Quantizer::new(vec![0.0], vec![]), Err(Error::DimensionMismatch { .. })));
        assert!(matches!(Int8Quantizer::fit(2, std::iter::empty()), Err(Error::EmptyTrainingSet)));
        assert!(matches!(q.encode(&[1.0]), Err(Error::DimensionMismatch { expected: 2, got: 1 })));
        Ok(())
    }
}
