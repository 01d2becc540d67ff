//! How an HNSW graph is built.

use crate::{Error, Result};

/// Whether, and how, the index keeps int8 codes beside its f32 vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quantization {
    /// Searches compare f32 vectors only.
    #[default]
    None,
    /// Searches walk the graph with int8 distances and re-rank the best candidates exactly. The
    /// quantizer is fitted on the first `train_size` vectors inserted (vectors inserted before
    /// that are coded once it exists), unless one is given with
    /// [`HnswIndex::with_quantizer`](super::HnswIndex::with_quantizer).
    Int8 { train_size: usize },
}

/// Graph parameters, fixed when the index is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours kept per node on the upper layers; layer 0 keeps `2·m`.
    pub m: usize,
    /// Beam width while inserting: larger builds slower and searches better.
    pub ef_construction: usize,
    /// Seed of the level assignment; with one inserting thread the graph is reproducible.
    pub seed: u64,
    pub quantization: Quantization,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams { m: 16, ef_construction: 200, seed: 0x6b69_6e5f_686e_7377, quantization: Quantization::None }
    }
}

/// Bounds that keep a node's links within one small, fixed-size row.
const M_RANGE: std::ops::RangeInclusive<usize> = 2..=256;
const EF_CONSTRUCTION_MAX: usize = 1 << 20;

impl HnswParams {
    pub fn validate(&self) -> Result<()> {
        if !M_RANGE.contains(&self.m) {
            return Err(Error::InvalidParameter {
                name: "m",
                value: self.m as u64,
                reason: "must be between 2 and 256",
            });
        }
        if self.ef_construction == 0 || self.ef_construction > EF_CONSTRUCTION_MAX {
            return Err(Error::InvalidParameter {
                name: "ef_construction",
                value: self.ef_construction as u64,
                reason: "must be between 1 and 1048576",
            });
        }
        if let Quantization::Int8 { train_size: 0 } = self.quantization {
            return Err(Error::InvalidParameter { name: "train_size", value: 0, reason: "must be at least 1" });
        }
        Ok(())
    }

    /// Links kept on layer 0.
    pub(crate) fn m0(&self) -> usize {
        2 * self.m
    }

    /// Level multiplier of the paper, `1 / ln(m)`.
    pub(crate) fn level_mult(&self) -> f64 {
        1.0 / (self.m as f64).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_are_named() {
        assert!(HnswParams::default().validate().is_ok());
        let bad_m = HnswParams { m: 1, ..HnswParams::default() };
        assert!(matches!(bad_m.validate(), Err(Error::InvalidParameter { name: "m", .. })));
        let bad_ef = HnswParams { ef_construction: 0, ..HnswParams::default() };
        assert!(matches!(bad_ef.validate(), Err(Error::InvalidParameter { name: "ef_construction", .. })));
        let bad_q = HnswParams { quantization: Quantization::Int8 { train_size: 0 }, ..HnswParams::default() };
        assert!(bad_q.validate().is_err());
        assert_eq!(HnswParams::default().m0(), 32);
    }
}
