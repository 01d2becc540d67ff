use std::time::{Duration, Instant};

use crate::{ExtractError, Result};

/// Bounds on what one extraction may take: input size, decompressed size, time and nesting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Input files larger than this are refused before they are read.
    pub max_bytes: u64,
    /// Decompressed bytes one document may unpack to (DOCX zip entries, PDF Flate streams).
    pub max_unpacked: u64,
    /// How long one extraction may run; past it the caller gets [`ExtractError::Timeout`].
    pub timeout: Duration,
    /// Element nesting (HTML, DOCX XML) past which a parser stops tracking structure (HTML) or
    /// refuses the file (DOCX).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 64 << 20, max_unpacked: 256 << 20, timeout: Duration::from_secs(30), max_depth: 512 }
    }
}

/// The moment a parser of ours gives up by itself, so that a timed-out extraction does not keep
/// its thread busy (the third-party PDF parser cannot be stopped and runs to its end).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    timeout: Duration,
}

impl Deadline {
    pub(crate) fn after(timeout: Duration) -> Self {
        Deadline { at: Instant::now().checked_add(timeout), timeout }
    }

    /// `Err(Timeout)` once the deadline has passed.
    pub(crate) fn check(&self) -> Result<()> {
        match self.at {
            Some(at) if Instant::now() >= at => Err(ExtractError::Timeout { seconds: self.timeout.as_secs_f64() }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let limits = Limits::default();
        assert_eq!(limits.max_bytes, 64 * 1024 * 1024);
        assert_eq!(limits.max_unpacked, 256 * 1024 * 1024);
        assert_eq!(limits.timeout, Duration::from_secs(30));
        assert_eq!(limits.max_depth, 512);
    }

    #[test]
    fn deadline_passes_then_fails() {
        assert!(Deadline::after(Duration::from_secs(60)).check().is_ok());
        let past = Deadline::after(Duration::ZERO);
        assert!(matches!(past.check(), Err(ExtractError::Timeout { .. })));
        // A timeout too long to add to the clock never fires.
        assert!(Deadline::after(Duration::MAX).check().is_ok());
    }
}
