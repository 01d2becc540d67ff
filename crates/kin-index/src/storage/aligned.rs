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
//!
//! A block of 2 MiB or more of values whose default is all zero bytes ([`Slot`]) is an anonymous
//! map from the system (`memmap2`): the pages come zeroed, so nothing is written until a row is
//! used, and the rows a segment never uses never take memory. Opening a collection writes its
//! vectors into such blocks once, instead of writing zeros first and then the vectors.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI8, AtomicU32, AtomicU8};

/// Bytes of a cache line, the alignment of every block.
const LINE: usize = 64;
/// Bytes of a huge page: the alignment of blocks at least this large.
const HUGE: usize = 2 << 20;

/// A value a block holds: it has a default, and says whether that default is all zero bytes.
///
/// # Safety
/// `ZERO_DEFAULT` may be true only when `T::default()` is `size_of::<T>()` zero bytes, so that
/// zeroed memory already holds `T::default()` values.
pub(crate) unsafe trait Slot: Default {
    const ZERO_DEFAULT: bool = false;
}

// SAFETY: the atomic integers have the layout of their integer, and their default is 0.
unsafe impl Slot for AtomicU8 {
    const ZERO_DEFAULT: bool = true;
}
// SAFETY: as above.
unsafe impl Slot for AtomicI8 {
    const ZERO_DEFAULT: bool = true;
}
// SAFETY: as above.
unsafe impl Slot for AtomicU32 {
    const ZERO_DEFAULT: bool = true;
}
// SAFETY: `ZERO_DEFAULT` stays false: a lock's layout is its crate's business.
unsafe impl Slot for parking_lot::Mutex<()> {}

pub(crate) struct AlignedBlock<T> {
    ptr: NonNull<T>,
    len: usize,
    /// The anonymous map holding the values when they were not taken from the allocator (see
    /// [`map_zeroed`]); unmapped when the block is dropped.
    map: Option<memmap2::MmapMut>,
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

impl<T: Slot> AlignedBlock<T> {
    /// `len` values of `T::default()`, the first on a cache-line boundary.
    pub(crate) fn new(len: usize) -> Self {
        let layout = Self::layout(len);
        if T::ZERO_DEFAULT && layout.size() >= HUGE {
            let (map, ptr) = map_zeroed(layout);
            return AlignedBlock { ptr: ptr.cast(), len, map: Some(map) };
        }
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
        AlignedBlock { ptr, len, map: None }
    }
}

/// Zeroed memory for `layout` (at least 2 MiB, so aligned to 2 MiB): an anonymous map with room
/// to start on the next 2 MiB boundary, and that start, marked for huge pages. The slack before
/// and after is never touched, so it takes no memory.
fn map_zeroed(layout: Layout) -> (memmap2::MmapMut, NonNull<u8>) {
    let mut map =
        memmap2::MmapOptions::new().len(layout.size() + HUGE).map_anon().unwrap_or_else(|_| handle_alloc_error(layout));
    let base = map.as_mut_ptr();
    let head = (base as usize).next_multiple_of(HUGE) - base as usize;
    // `head < HUGE`, so `head + layout.size()` lies inside the map.
    let start = map[head..].as_mut_ptr();
    advise_huge_pages(start, layout.size());
    (map, NonNull::new(start).unwrap_or_else(|| handle_alloc_error(layout)))
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

impl<T> DerefMut for AlignedBlock<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`; `&mut self` makes this the only borrow of the values.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for AlignedBlock<T> {
    fn drop(&mut self) {
        let layout = Self::layout(self.len);
        // SAFETY: the values were initialised in `new` (written, or zero bytes that are their
        // default) and are dropped once, here; a map goes with the block, after them.
        unsafe { std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len)) };
        if self.map.is_none() && layout.size() != 0 {
            // SAFETY: the memory was allocated in `new` with this same layout.
            unsafe { dealloc(self.ptr.as_ptr().cast(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    #[test]
    fn blocks_start_on_a_line_and_hold_defaults() {
        for len in [1, 3, 64, 100_000] {
            let block: AlignedBlock<AtomicU32> = AlignedBlock::new(len);
            assert_eq!(block.as_ptr() as usize % LINE, 0);
            assert_eq!(block.len(), len);
            assert!(block.iter().all(|x| x.load(Ordering::Relaxed) == 0));
        }
        let empty: AlignedBlock<AtomicU8> = AlignedBlock::new(0);
        assert!(empty.is_empty());
    }

    #[test]
    fn large_blocks_start_on_a_huge_page_and_hold_defaults() {
        // 3 MiB and a bit of zero-default values: mapped.
        let len = (3 << 20) / 4 + 5;
        let block: AlignedBlock<AtomicU32> = AlignedBlock::new(len);
        assert_eq!(block.as_ptr() as usize % HUGE, 0);
        assert!(block.iter().all(|x| x.load(Ordering::Relaxed) == 0));
        block[len - 1].store(9, Ordering::Relaxed);
        assert_eq!(block[len - 1].load(Ordering::Relaxed), 9);
        drop(block);

        // A default that is not zero bytes is written, however large the block.
        #[derive(Clone, Copy)]
        struct Seven(u32);
        impl Default for Seven {
            fn default() -> Self {
                Seven(7)
            }
        }
        // SAFETY: ZERO_DEFAULT is left false.
        unsafe impl Slot for Seven {}
        let sevens: AlignedBlock<Seven> = AlignedBlock::new(len);
        assert_eq!(sevens.as_ptr() as usize % HUGE, 0);
        assert!(sevens.iter().all(|s| s.0 == 7));
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
        // SAFETY: ZERO_DEFAULT is left false.
        unsafe impl Slot for Counted {}
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
