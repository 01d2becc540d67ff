//! Activation rows as int8 codes: the per-row quantizers, on AVX-512 where the VNNI kernels run.

#[cfg(target_arch = "x86_64")]
use super::kernels::x86;
use super::{Int8Kernel, ROWS};

/// One task's activation rows as codes: row `r` is `scale[r] · (code − zero[r])`. Narrow codes
/// spread 256 levels from the row's least to its greatest value (zero included, so that it is a
/// level); wide codes are symmetric (zero point 0). Rows are padded to whole lanes and the row
/// count to whole blocks of [`ROWS`]; the padding meets zero weights or is never written out.
#[derive(Default)]
pub(super) struct RowCodes {
    pub(super) bytes: Vec<u8>,
    pub(super) words: Vec<i16>,
    pub(super) scales: Vec<f32>,
    pub(super) zeros: Vec<i32>,
    /// Codes per row.
    pub(super) pitch: usize,
    pub(super) rows: usize,
}

impl RowCodes {
    fn reset(&mut self, rows: usize, pitch: usize) -> usize {
        self.pitch = pitch;
        self.rows = rows;
        let padded = rows.div_ceil(ROWS) * ROWS;
        self.scales.clear();
        self.scales.resize(padded, 0.0);
        self.zeros.clear();
        self.zeros.resize(padded, 0);
        padded * pitch
    }

    #[inline(always)]
    pub(super) fn fill_narrow(&mut self, kernel: Int8Kernel, x: &[f32], rows: usize, inputs: usize, pitch: usize) {
        let len = self.reset(rows, pitch);
        self.bytes.clear();
        self.bytes.resize(len, 0);
        for (r, row) in x.chunks_exact(inputs).enumerate().take(rows) {
            let (lo, hi) = range(kernel, row);
            if hi - lo == 0.0 || !(hi - lo).is_finite() {
                continue;
            }
            let scale = (hi - lo) / 255.0;
            let zero = (-lo / scale).round_ties_even().clamp(0.0, 255.0);
            let inv = 1.0 / scale;
            self.scales[r] = scale;
            self.zeros[r] = zero as i32;
            let out = &mut self.bytes[r * pitch..r * pitch + inputs];
            #[cfg(target_arch = "x86_64")]
            if kernel == Int8Kernel::Vnni {
                // SAFETY: `Vnni` is only detected on CPUs with AVX-512 F and BW.
                unsafe { x86::codes_narrow(row, inv, zero, out) };
                continue;
            }
            for (c, &v) in out.iter_mut().zip(row) {
                *c = (v * inv + zero).round_ties_even().clamp(0.0, 255.0) as u8;
            }
        }
    }

    #[inline(always)]
    pub(super) fn fill_wide(
        &mut self,
        kernel: Int8Kernel,
        x: &[f32],
        rows: usize,
        inputs: usize,
        pitch: usize,
        levels: f32,
    ) {
        let len = self.reset(rows, pitch);
        self.words.clear();
        self.words.resize(len, 0);
        for (r, row) in x.chunks_exact(inputs).enumerate().take(rows) {
            let (lo, hi) = range(kernel, row);
            let max = hi.max(-lo);
            if max == 0.0 || !max.is_finite() {
                continue;
            }
            let inv = levels / max;
            self.scales[r] = max / levels;
            let out = &mut self.words[r * pitch..r * pitch + inputs];
            #[cfg(target_arch = "x86_64")]
            if kernel == Int8Kernel::Vnni {
                // SAFETY: `Vnni` is only detected on CPUs with AVX-512 F and BW.
                unsafe { x86::codes_wide(row, inv, levels, out) };
                continue;
            }
            for (c, &v) in out.iter_mut().zip(row) {
                *c = (v * inv).round_ties_even().clamp(-levels, levels) as i16;
            }
        }
    }
}

/// The least and greatest of `row` and zero.
#[inline(always)]
fn range(kernel: Int8Kernel, row: &[f32]) -> (f32, f32) {
    #[cfg(target_arch = "x86_64")]
    if kernel == Int8Kernel::Vnni {
        // SAFETY: `Vnni` is only detected on CPUs with AVX-512 F.
        return unsafe { x86::range(row) };
    }
    let _ = kernel;
    row.iter().fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}
