//! A fixed-length run of values that starts on a cache-line boundary.
//!
//! A boxed slice from the global allocator starts wherever `malloc` puts it: for a large block,
//! 16 bytes past a page boundary. Rows whose length is a multiple of 64 bytes (a 384-d f32
//! vector is 1,536 bytes) then straddle one cache line more than they need, and every other
//! 32-byte load in a distance kernel splits across two lines. Segments are allocated here instead.
//!
//! A block of 2 MiB or more starts on a 2 MiB boundary and, on Linux, is marked for transparent
//! huge pages (`madvise(MADV_HUGEPAGE)`, which takes effect where the system's setting is
//! `madvise` or `always`) before it is first written. A graph walk reads rows scattered over the
//! whole index: with 4 KiB pages nearly every row is also a TLB miss, with 2 MiB pages few are.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::Deref;
use std::ptr::NonNull;

/// Bytes of a cache line, the alignment of every block.
const LINE: usize = 64;
/// Bytes of a huge page: the alignment of blocks at least this large.
const HUGE: usize = 2 << 20;

pub(crate) struct AlignedBlock<T> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: the block owns its values like a `Box<[T]>` does; sending or sharing it is sending or
// sharing them.
unsafe impl<T: Send> Send for AlignedBlock<T> {}
// SAFETY: as above; `&AlignedBlock<T>` hands out only `&[T]`.
unsafe impl<T: Sync> Sync for AlignedBlock<T> {}

impl<T> AlignedBlock<T> {
    fn layout(len: usize) -> Layout {
        let size = std::mem::size_of::<T>().checked_mul(len).expect("a block fits in the address space");
        let line = if size >= HUGE { HUGE } else { LINE };
        Layout::from_size_align(size, line.max(std::mem::align_of::<T>())).expect("a block's layout is valid")
    }
}

impl<T: Default> AlignedBlock<T> {
    /// `len` values of `T::default()`, the first on a cache-line boundary.
    pub(crate) fn new(len: usize) -> Self {
        let layout = Self::layout(len);
        let ptr = if layout.size() == 0 {
            NonNull::dangling()
        } else {
            // SAFETY: the layout has a non-zero size.
            let raw = unsafe { alloc(layout) }.cast::<T>();
            let ptr = NonNull::new(raw).unwrap_or_else(|| handle_alloc_error(layout));
            if layout.size() >= HUGE {
                advise_huge_pages(ptr.as_ptr().cast(), layout.size());
            }
            ptr
        };
        for i in 0..len {
            // SAFETY: `i < len`, so the slot lies inside the block just allocated for `len`
            // values of `T`, suitably aligned (or `T` has no size, and a dangling pointer is a
            // valid place for it); it is written once, before anything reads it.
            unsafe { ptr.as_ptr().add(i).write(T::default()) };
        }
        AlignedBlock { ptr, len }
    }
}

/// Asks Linux to back `len` bytes from `ptr` with huge pages; advice only, so a refusal (an old
/// kernel, huge pages off) changes nothing.
fn advise_huge_pages(ptr: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: `ptr..ptr + len` is one live allocation of this process; `madvise` with
    // `MADV_HUGEPAGE` changes how it is backed, never its contents or its validity.
    unsafe {
        libc::madvise(ptr.cast(), len, libc::MADV_HUGEPAGE);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

impl<T> Deref for AlignedBlock<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` holds `len` initialised values (or is dangling with a zero-sized
        // layout), which live as long as the block.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for AlignedBlock<T> {
    fn drop(&mut self) {
        let layout = Self::layout(self.len);
        // SAFETY: the values were initialised in `new` and are dropped once, here; the memory
        // was allocated with this same layout unless it has zero size.
        unsafe {
            std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len));
            if layout.size() != 0 {
                dealloc(self.ptr.as_ptr().cast(), layout);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn blocks_start_on_a_line_and_hold_defaults() {
        for len in [1, 3, 64, 100_000] {
            let block: AlignedBlock<AtomicU32> = AlignedBlock::new(len);
            assert_eq!(block.as_ptr() as usize % LINE, 0);
            assert_eq!(block.len(), len);
            assert!(block.iter().all(|x| x.load(Ordering::Relaxed) == 0));
        }
        let empty: AlignedBlock<u8> = AlignedBlock::new(0);
        assert!(empty.is_empty());
    }

    #[test]
    fn values_are_dropped_with_the_block() {
        static LIVE: AtomicU32 = AtomicU32::new(0);
        struct Counted;
        impl Default for Counted {
            fn default() -> Self {
                LIVE.fetch_add(1, Ordering::Relaxed);
                Counted
            }
        }
        impl Drop for Counted {
            fn drop(&mut self) {
                LIVE.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let block: AlignedBlock<Counted> = AlignedBlock::new(5);
        assert_eq!(LIVE.load(Ordering::Relaxed), 5);
        drop(block);
        assert_eq!(LIVE.load(Ordering::Relaxed), 0);
    }
}
