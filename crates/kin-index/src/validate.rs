//! Checks on vectors coming in: dimension, finiteness, and a direction under cosine.

use kin_core::Metric;

use crate::distance::inverse_norm;
use crate::{Error, Result};

/// The largest dimension an index accepts; it keeps the int8 kernels exact.
pub const MAX_DIM: usize = 65_536;

pub(crate) fn check_dim(dim: usize) -> Result<()> {
    if dim == 0 || dim > MAX_DIM {
        return Err(Error::InvalidParameter { name: "dim", value: dim as u64, reason: "must be between 1 and 65536" });
    }
    Ok(())
}

/// Checks one row of a batch (`row` counts rows, `offset` is the position of its first value in
/// the caller's input) and returns the factor the index stores it scaled by: `1/|v|` under
/// cosine, 1 otherwise.
pub(crate) fn check_row(metric: Metric, dim: usize, v: &[f32], row: usize, offset: usize) -> Result<f32> {
    if v.len() != dim {
        return Err(Error::DimensionMismatch { expected: dim, got: v.len() });
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite { index: offset + i });
    }
    match metric {
        Metric::Cosine => inverse_norm(v).ok_or(Error::ZeroVector { row }),
        Metric::Dot | Metric::L2 => Ok(1.0),
    }
}

/// Checks a single vector and returns it as the index compares it (unit length under cosine).
pub(crate) fn prepare(metric: Metric, dim: usize, v: &[f32]) -> Result<Vec<f32>> {
    let scale = check_row(metric, dim, v, 0, 0)?;
    Ok(v.iter().map(|x| x * scale).collect())
}

/// Splits a flat batch into rows of `dim`, refusing a ragged tail.
pub(crate) fn rows(dim: usize, flat: &[f32]) -> Result<std::slice::ChunksExact<'_, f32>> {
    if dim == 0 || !flat.len().is_multiple_of(dim) {
        return Err(Error::RaggedBatch { len: flat.len(), dim });
    }
    Ok(flat.chunks_exact(dim))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_vectors_are_named() {
        assert!(matches!(prepare(Metric::L2, 3, &[1.0, 2.0]), Err(Error::DimensionMismatch { expected: 3, got: 2 })));
        assert!(matches!(prepare(Metric::L2, 2, &[1.0, f32::NAN]), Err(Error::NonFinite { index: 1 })));
        assert!(matches!(check_row(Metric::Dot, 2, &[f32::INFINITY, 0.0], 4, 8), Err(Error::NonFinite { index: 8 })));
        assert!(matches!(check_row(Metric::Cosine, 2, &[0.0, 0.0], 3, 6), Err(Error::ZeroVector { row: 3 })));
        assert!(prepare(Metric::Dot, 2, &[0.0, 0.0]).is_ok());
        assert!(matches!(rows(3, &[0.0; 7]), Err(Error::RaggedBatch { len: 7, dim: 3 })));
        assert!(check_dim(0).is_err() && check_dim(MAX_DIM + 1).is_err() && check_dim(768).is_ok());
    }

    #[test]
    fn cosine_vectors_come_out_unit_length() {
        let v = prepare(Metric::Cosine, 2, &[3.0, 4.0]).unwrap_or_default();
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
    }
}
