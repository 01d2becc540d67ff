//! kin's audio input: decoding by content ([`Decoder`]), downmixing to mono, resampling to
//! 16 kHz ([`Resampler`]), cutting into 30-second windows as the file streams ([`Windows`]), and
//! Whisper's log-mel features ([`log_mel`]), equal to transformers' `WhisperFeatureExtractor`.

mod decode;
mod error;
mod mel;
mod resample;
mod window;

pub use decode::{Decoder, SourceInfo};
pub use error::{AudioError, Result};
pub use mel::{log_mel, LogMel, MelConfig};
pub use resample::Resampler;
pub use window::{Window, Windows, SAMPLE_RATE};
