//! A decoding stream cut into fixed windows of 16 kHz mono audio, produced while the file is
//! read: memory holds one window (plus the overlap), whatever the file's length.

use crate::decode::Decoder;
use crate::error::Result;
use crate::resample::Resampler;

/// The rate every model input uses.
pub const SAMPLE_RATE: u32 = 16_000;

/// One window of audio and where it lies in the file.
#[derive(Debug, Clone)]
pub struct Window {
    /// Seconds from the start of the file.
    pub start: f64,
    /// Seconds of audio in the window (the last window is usually shorter).
    pub duration: f64,
    /// 16 kHz mono samples.
    pub samples: Vec<f32>,
}

/// Windows of `length` samples starting every `length − overlap` samples.
pub struct Windows {
    decoder: Decoder,
    resampler: Resampler,
    length: usize,
    hop: usize,
    pending: Vec<f32>,
    /// The sample index of `pending[0]`.
    offset: usize,
    finished: bool,
    emitted: bool,
}

impl Windows {
    /// `length` and `overlap` in samples at 16 kHz; `overlap < length`.
    pub fn new(decoder: Decoder, length: usize, overlap: usize) -> Self {
        let length = length.max(1);
        let rate = decoder.info().sample_rate;
        Windows {
            decoder,
            resampler: Resampler::new(rate, SAMPLE_RATE),
            length,
            hop: length - overlap.min(length - 1),
            pending: Vec::new(),
            offset: 0,
            finished: false,
            emitted: false,
        }
    }

    fn take(&mut self, len: usize) -> Window {
        let samples = self.pending[..len.min(self.pending.len())].to_vec();
        let window = Window {
            start: self.offset as f64 / f64::from(SAMPLE_RATE),
            duration: samples.len() as f64 / f64::from(SAMPLE_RATE),
            samples,
        };
        let hop = self.hop.min(self.pending.len());
        self.pending.drain(..hop);
        self.offset += hop;
        self.emitted = true;
        window
    }
}

impl Iterator for Windows {
    type Item = Result<Window>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.finished && self.pending.len() < self.length {
            match self.decoder.next() {
                Some(Ok(chunk)) => {
                    let out = self.resampler.process(&chunk);
                    self.pending.extend(out);
                }
                Some(Err(e)) => {
                    self.finished = true;
                    return Some(Err(e));
                }
                None => {
                    self.finished = true;
                    let tail = self.resampler.finish();
                    self.pending.extend(tail);
                }
            }
        }
        if self.pending.len() >= self.length {
            return Some(Ok(self.take(self.length)));
        }
        // The last, shorter window: only when it holds audio not already in an earlier window.
        let fresh = !self.emitted || self.pending.len() > self.length - self.hop;
        if !self.pending.is_empty() && fresh {
            let len = self.pending.len();
            let w = self.take(len);
            self.pending.clear();
            return Some(Ok(w));
        }
        None
    }
}
