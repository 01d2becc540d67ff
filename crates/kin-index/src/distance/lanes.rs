//! What the kernels read: plain slices, or rows of the index's storage.
//!
//! Stored rows are atomics so that one thread can append a row while others read published rows,
//! without locks and without `unsafe` outside the kernels. A row is written once, before its id is
//! published with a release store; readers reach it through an acquire load, so every read of a
//! published row happens after its last write. The SIMD kernels read rows through
//! [`F32Lanes::as_f32_ptr`], the scalar kernels through [`F32Lanes::lane`].

use std::sync::atomic::{AtomicI8, AtomicU32, Ordering};

/// A run of f32 values a kernel can read.
pub(crate) trait F32Lanes {
    fn lanes(&self) -> usize;
    /// Value `i`, which must be below `lanes()`.
    fn lane(&self, i: usize) -> f32;
    /// Pointer to `lanes()` contiguous, initialised f32 values.
    fn as_f32_ptr(&self) -> *const f32;
}

/// A run of i8 values a kernel can read.
pub(crate) trait I8Lanes {
    fn lanes(&self) -> usize;
    /// Value `i`, which must be below `lanes()`.
    fn lane(&self, i: usize) -> i8;
    /// Pointer to `lanes()` contiguous, initialised i8 values.
    fn as_i8_ptr(&self) -> *const i8;
}

impl F32Lanes for [f32] {
    #[inline]
    fn lanes(&self) -> usize {
        self.len()
    }

    #[inline]
    fn lane(&self, i: usize) -> f32 {
        self[i]
    }

    #[inline]
    fn as_f32_ptr(&self) -> *const f32 {
        self.as_ptr()
    }
}

impl F32Lanes for [AtomicU32] {
    #[inline]
    fn lanes(&self) -> usize {
        self.len()
    }

    #[inline]
    fn lane(&self, i: usize) -> f32 {
        f32::from_bits(self[i].load(Ordering::Relaxed))
    }

    #[inline]
    fn as_f32_ptr(&self) -> *const f32 {
        // `AtomicU32` has the size, alignment and bit validity of `u32`, hence of `f32`.
        self.as_ptr().cast::<f32>()
    }
}

impl I8Lanes for [i8] {
    #[inline]
    fn lanes(&self) -> usize {
        self.len()
    }

    #[inline]
    fn lane(&self, i: usize) -> i8 {
        self[i]
    }

    #[inline]
    fn as_i8_ptr(&self) -> *const i8 {
        self.as_ptr()
    }
}

impl I8Lanes for [AtomicI8] {
    #[inline]
    fn lanes(&self) -> usize {
        self.len()
    }

    #[inline]
    fn lane(&self, i: usize) -> i8 {
        self[i].load(Ordering::Relaxed)
    }

    #[inline]
    fn as_i8_ptr(&self) -> *const i8 {
        // `AtomicI8` has the size, alignment and bit validity of `i8`.
        self.as_ptr().cast::<i8>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_rows_read_like_slices() {
        let plain = [1.5f32, -2.0, 3.25];
        let stored: Vec<AtomicU32> = plain.iter().map(|x| AtomicU32::new(x.to_bits())).collect();
        for i in 0..plain.len() {
            assert_eq!(plain[..].lane(i), stored[..].lane(i));
        }
        let codes = [-128i8, 0, 127];
        let stored: Vec<AtomicI8> = codes.iter().map(|&c| AtomicI8::new(c)).collect();
        for i in 0..codes.len() {
            assert_eq!(codes[..].lane(i), stored[..].lane(i));
        }
    }
}
