//! The arithmetic a local model runs in: f32 (the reference's own vectors) or int8.
//!
//! A model spec names its precision with a suffix, `all-MiniLM-L6-v2@int8`, and an int8
//! embedder's name keeps it, so that a collection bound to one precision never takes vectors of
//! the other.

use std::fmt;
use std::str::FromStr;

/// How a local model's dense layers compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Precision {
    /// The checkpoint's weights in f32: vectors equal the reference implementation's.
    #[default]
    Float32,
    /// Weights int8 per output channel, activations int8 per token, exact integer sums.
    Int8,
}

/// The spec suffix that asks for int8.
const INT8_SUFFIX: &str = "@int8";

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Float32 => "float32",
            Precision::Int8 => "int8",
        }
    }

    /// `spec` without its precision suffix, and the precision it names (`@int8`, `@float32`).
    pub fn split(spec: &str) -> (&str, Precision) {
        if let Some(base) = spec.strip_suffix(INT8_SUFFIX) {
            return (base, Precision::Int8);
        }
        (spec.strip_suffix("@float32").unwrap_or(spec), Precision::Float32)
    }

    /// `spec` with this precision's suffix (none for f32), replacing any suffix it had.
    pub fn apply(self, spec: &str) -> String {
        let (base, _) = Precision::split(spec);
        match self {
            Precision::Float32 => base.to_string(),
            Precision::Int8 => format!("{base}{INT8_SUFFIX}"),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "float32" | "fp32" | "f32" => Ok(Precision::Float32),
            "int8" | "i8" => Ok(Precision::Int8),
            other => Err(format!("unknown precision {other:?}: use float32 or int8")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_carry_their_precision() {
        assert_eq!(Precision::split("all-MiniLM-L6-v2@int8"), ("all-MiniLM-L6-v2", Precision::Int8));
        assert_eq!(Precision::split("./model@float32"), ("./model", Precision::Float32));
        assert_eq!(Precision::split("org/model"), ("org/model", Precision::Float32));
        assert_eq!(Precision::Int8.apply("m@int8"), "m@int8");
        assert_eq!(Precision::Float32.apply("m@int8"), "m");
        assert_eq!("FP32".parse::<Precision>(), Ok(Precision::Float32));
        assert!("int4".parse::<Precision>().unwrap_err().contains("int4"));
    }
}
