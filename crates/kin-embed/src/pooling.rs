//! Turning per-token hidden states into one vector per sequence.

use serde::Serialize;

/// A pooling mode of sentence-transformers' `Pooling` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// The first token's state.
    Cls,
    /// Element-wise maximum over tokens.
    Max,
    /// Mean over tokens.
    Mean,
    /// Sum over tokens divided by the square root of their count.
    MeanSqrtLen,
}

impl Pooling {
    /// Pools `tokens` (`[len, hidden]`, `len ≥ 1`) into `out` (`hidden` values).
    pub fn pool(self, tokens: &[f32], hidden: usize, out: &mut Vec<f32>) {
        let len = tokens.len() / hidden;
        let rows = tokens.chunks_exact(hidden);
        match self {
            Pooling::Cls => out.extend_from_slice(&tokens[..hidden]),
            Pooling::Max => {
                let mut acc = vec![f32::NEG_INFINITY; hidden];
                for row in rows {
                    acc.iter_mut().zip(row).for_each(|(a, v)| *a = a.max(*v));
                }
                out.extend(acc);
            }
            Pooling::Mean | Pooling::MeanSqrtLen => {
                let mut acc = vec![0f32; hidden];
                for row in rows {
                    acc.iter_mut().zip(row).for_each(|(a, v)| *a += *v);
                }
                let div = if self == Pooling::Mean { len as f32 } else { (len as f32).sqrt() };
                out.extend(acc.into_iter().map(|a| a / div));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_rows() {
        let t = [1.0, 2.0, 3.0, -4.0];
        let run = |p: Pooling| {
            let mut out = Vec::new();
            p.pool(&t, 2, &mut out);
            out
        };
        assert_eq!(run(Pooling::Cls), vec![1.0, 2.0]);
        assert_eq!(run(Pooling::Max), vec![3.0, 2.0]);
        assert_eq!(run(Pooling::Mean), vec![2.0, -1.0]);
        assert_eq!(run(Pooling::MeanSqrtLen), vec![4.0 / 2f32.sqrt(), -2.0 / 2f32.sqrt()]);
    }
}
