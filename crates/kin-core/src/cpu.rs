//! The CPU kin runs on: its model name, the SIMD levels it has, and the highest level kin's own
//! kernels may use. `KIN_CPU=scalar|avx2|avx512` lowers that level (never raises it past what
//! the CPU has), so that every kernel path can be tested and measured on one machine.

use std::fmt;
use std::sync::OnceLock;

/// A level of kernels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CpuLevel {
    Scalar,
    /// x86-64 AVX2 with FMA (or NEON on aarch64).
    Avx2,
    /// x86-64 AVX-512 F.
    Avx512,
}

impl CpuLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            CpuLevel::Scalar => "scalar",
            CpuLevel::Avx2 => "avx2",
            CpuLevel::Avx512 => "avx512",
        }
    }

    fn parse(s: &str) -> Option<CpuLevel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" | "none" => Some(CpuLevel::Scalar),
            "avx2" | "neon" => Some(CpuLevel::Avx2),
            "avx512" | "avx-512" => Some(CpuLevel::Avx512),
            _ => None,
        }
    }
}

impl fmt::Display for CpuLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The highest level this CPU supports.
pub fn detected_level() -> CpuLevel {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            return CpuLevel::Avx512;
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return CpuLevel::Avx2;
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            return CpuLevel::Avx2;
        }
    }
    CpuLevel::Scalar
}

/// The level `KIN_CPU` asks for (`KIN_SIMD`, its older name, too), when it names one.
pub fn requested_level() -> Option<CpuLevel> {
    let value = std::env::var("KIN_CPU").or_else(|_| std::env::var("KIN_SIMD")).ok()?;
    let level = CpuLevel::parse(&value);
    if level.is_none() && !value.trim().is_empty() {
        tracing::warn!(value = %value, "KIN_CPU is not scalar, avx2 or avx512; ignored");
    }
    level
}

/// The highest level kin's kernels use: what the CPU has, lowered by `KIN_CPU`. Read once.
pub fn level() -> CpuLevel {
    static LEVEL: OnceLock<CpuLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let detected = detected_level();
        requested_level().map_or(detected, |wanted| wanted.min(detected))
    })
}

/// Whether kernels of `wanted` may run: the CPU has them and `KIN_CPU` allows them.
pub fn allows(wanted: CpuLevel) -> bool {
    level() >= wanted
}

/// The CPU's model name (`/proc/cpuinfo`), or the architecture where that cannot be read.
pub fn model_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name") || l.starts_with("Model"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The SIMD features of this CPU that kin's kernels (and the libraries under them) use.
pub fn features() -> Vec<&'static str> {
    let mut out = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! probe {
            ($($f:tt),*) => { $( if is_x86_feature_detected!($f) { out.push($f); } )* };
        }
        probe!("sse4.2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "avx512bf16");
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            out.push("neon");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(CpuLevel::parse(" AVX2 "), Some(CpuLevel::Avx2));
        assert_eq!(CpuLevel::parse("scalar"), Some(CpuLevel::Scalar));
        assert_eq!(CpuLevel::parse("sse9"), None);
        assert!(CpuLevel::Scalar < CpuLevel::Avx2 && CpuLevel::Avx2 < CpuLevel::Avx512);
        assert!(level() <= detected_level());
        assert!(allows(CpuLevel::Scalar));
    }
}
