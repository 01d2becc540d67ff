//! Append-only rows in segments that never move.
//!
//! Ids below 65,536 live in seven head segments that grow with the index: rows 0..1,024, then
//! 1,024..2,048, 2,048..4,096, and so on to 32,768..65,536, each allocated the first time a row in
//! it is asked for, so a small index holds memory for about twice its rows, not for 65,536. Past
//! them, row `id` lives in tail segment `id / 65,536` of 65,536 rows, on a two-level directory
//! (256 shelves × 256 segments) that covers every `u32` id while costing a few kilobytes for a
//! small index. A segment stays where it is until the store is dropped, so a reader holding a row
//! never sees it reallocated. Reading takes two or three acquire loads and no lock.

use std::sync::OnceLock;

use super::aligned::{AlignedBlock, Slot};

const SEGMENT_BITS: u32 = 16;
/// Rows per tail segment (and the ids the head segments cover).
pub(crate) const SEGMENT_ROWS: usize = 1 << SEGMENT_BITS;
/// Rows of the first head segment; each later one holds as many rows as all before it.
const FIRST_BITS: u32 = 10;
const HEAD_SEGMENTS: usize = (SEGMENT_BITS - FIRST_BITS) as usize + 1;
const SHELF_BITS: u32 = 8;
const SHELF_SLOTS: usize = 1 << SHELF_BITS;

/// Starts on a cache line, so rows whose size is a multiple of 64 bytes each start on one too.
type Segment<T> = AlignedBlock<T>;
type Shelf<T> = Box<[OnceLock<Segment<T>>]>;

/// Rows of `stride` values of `T`, addressed by `u32` id.
pub(crate) struct Segments<T> {
    stride: usize,
    head: [OnceLock<Segment<T>>; HEAD_SEGMENTS],
    shelves: Box<[OnceLock<Shelf<T>>]>,
}

/// Where an id's row is.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Place {
    /// Head segment, row within it, and the segment's rows.
    Head(usize, usize, usize),
    /// Shelf, tail segment within the shelf, and row within the segment.
    Tail(usize, usize, usize),
}

fn locate(id: u32) -> Place {
    if id >> SEGMENT_BITS == 0 {
        // Segment 0 holds ids below 2^FIRST_BITS; segment k > 0 those with k + FIRST_BITS bits.
        let bits = (u32::BITS - id.leading_zeros()).max(FIRST_BITS);
        let segment = (bits - FIRST_BITS) as usize;
        let rows = 1usize << (bits - u32::from(segment > 0));
        let start = if segment == 0 { 0 } else { rows };
        return Place::Head(segment, id as usize - start, rows);
    }
    let segment = (id >> SEGMENT_BITS) as usize;
    Place::Tail(segment >> SHELF_BITS, segment & (SHELF_SLOTS - 1), id as usize & (SEGMENT_ROWS - 1))
}

fn empty_shelf<T>() -> Shelf<T> {
    (0..SHELF_SLOTS).map(|_| OnceLock::new()).collect()
}

impl<T: Slot> Segments<T> {
    pub(crate) fn new(stride: usize) -> Self {
        // A u32 id has 16 bits of tail segment number: 256 shelves of 256 segments.
        let shelves = (0..1usize << (32 - SEGMENT_BITS - SHELF_BITS)).map(|_| OnceLock::new()).collect();
        Segments { stride, head: std::array::from_fn(|_| OnceLock::new()), shelves }
    }

    /// Row `id`, or `None` when its segment was never allocated.
    #[inline]
    pub(crate) fn get(&self, id: u32) -> Option<&[T]> {
        let (segment, row) = match locate(id) {
            Place::Head(segment, row, _) => (self.head[segment].get()?, row),
            Place::Tail(shelf, segment, row) => (self.shelves.get(shelf)?.get()?.get(segment)?.get()?, row),
        };
        let start = row * self.stride;
        segment.get(start..start + self.stride)
    }

    /// Asks the CPU to start loading the first `max_bytes` of row `id` (a walk reads it soon; the
    /// hardware prefetcher follows a longer row on its own).
    #[inline]
    pub(crate) fn prefetch(&self, id: u32, max_bytes: usize) {
        #[cfg(target_arch = "x86_64")]
        if let Some(row) = self.get(id) {
            let base = row.as_ptr().cast::<i8>();
            for offset in (0..std::mem::size_of_val(row).min(max_bytes)).step_by(64) {
                // SAFETY: `base + offset` lies inside the row (offset < its size); a prefetch
                // reads nothing architecturally and cannot fault.
                unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(base.add(offset)) };
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (id, max_bytes);
    }

    /// Row `id`, allocating its segment (filled with `T::default()`) when needed.
    pub(crate) fn get_or_alloc(&self, id: u32) -> &[T] {
        let alloc = |rows: usize| {
            tracing::trace!(id, rows, stride = self.stride, "segment allocated");
            AlignedBlock::new(rows * self.stride)
        };
        let (segment, row) = match locate(id) {
            Place::Head(segment, row, rows) => (self.head[segment].get_or_init(|| alloc(rows)), row),
            Place::Tail(shelf, segment, row) => {
                // `locate` keeps `shelf` below the 256 shelves and `segment` below the 256 slots.
                let shelf = self.shelves[shelf].get_or_init(empty_shelf);
                (shelf[segment].get_or_init(|| alloc(SEGMENT_ROWS)), row)
            }
        };
        let start = row * self.stride;
        &segment[start..start + self.stride]
    }

    /// Row `id` for writing, allocating its segment when needed (`None` never happens: the
    /// segment is allocated first).
    pub(crate) fn get_or_alloc_mut(&mut self, id: u32) -> Option<&mut [T]> {
        self.get_or_alloc(id);
        let (segment, row) = match locate(id) {
            Place::Head(segment, row, _) => (self.head[segment].get_mut()?, row),
            Place::Tail(shelf, segment, row) => (self.shelves[shelf].get_mut()?[segment].get_mut()?, row),
        };
        let start = row * self.stride;
        segment.get_mut(start..start + self.stride)
    }

    /// Bytes held by the segments allocated so far.
    pub(crate) fn allocated_bytes(&self) -> usize {
        let head: usize = self.head.iter().filter_map(OnceLock::get).map(|s| s.len()).sum();
        let tail: usize = self
            .shelves
            .iter()
            .filter_map(OnceLock::get)
            .flat_map(|shelf| shelf.iter().filter_map(OnceLock::get))
            .map(|s| s.len())
            .sum();
        (head + tail) * std::mem::size_of::<T>()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn rows_are_absent_until_allocated() {
        let rows: Segments<AtomicU32> = Segments::new(3);
        assert!(rows.get(0).is_none());
        rows.get_or_alloc(5)[2].store(7, Ordering::Relaxed);
        assert_eq!(rows.get(5).map(|r| r[2].load(Ordering::Relaxed)), Some(7));
        assert_eq!(rows.get(0).map(<[_]>::len), Some(3), "the whole segment exists");
        assert_eq!(rows.get(1023).map(<[_]>::len), Some(3));
        assert!(rows.get(1024).is_none(), "the next segment does not");
        assert_eq!(rows.allocated_bytes(), 1024 * 3 * 4, "a small index holds a small segment");
        rows.get_or_alloc(40_000);
        assert_eq!(rows.allocated_bytes(), (1024 + 32_768) * 3 * 4);
    }

    #[test]
    fn ids_map_to_distinct_rows_across_segments_and_shelves() {
        assert_eq!(locate(0), Place::Head(0, 0, 1024));
        assert_eq!(locate(1023), Place::Head(0, 1023, 1024));
        assert_eq!(locate(1024), Place::Head(1, 0, 1024));
        assert_eq!(locate(2047), Place::Head(1, 1023, 1024));
        assert_eq!(locate(2048), Place::Head(2, 0, 2048));
        assert_eq!(locate(65_535), Place::Head(6, 32_767, 32_768));
        assert_eq!(locate(65_536), Place::Tail(0, 1, 0));
        assert_eq!(locate(1 << 24), Place::Tail(1, 0, 0));
        assert_eq!(locate(u32::MAX), Place::Tail(255, 255, 65_535));
        // Every id below 2^17 has a row of its own.
        let mut seen = std::collections::HashSet::new();
        for id in 0..1u32 << 17 {
            let place = locate(id);
            if let Place::Head(_, row, rows) = place {
                assert!(row < rows, "{id}");
            }
            assert!(seen.insert(place), "{id}");
        }
        let rows: Segments<AtomicU32> = Segments::new(1);
        let ids = [0, 1023, 1024, 4095, 4096, 65_535, 65_536, 1 << 24, u32::MAX];
        for id in ids {
            rows.get_or_alloc(id)[0].store(id ^ 1, Ordering::Relaxed);
        }
        for id in ids {
            assert_eq!(rows.get(id).map(|r| r[0].load(Ordering::Relaxed)), Some(id ^ 1));
        }
    }

    #[test]
    fn rows_stay_put_while_others_are_appended() {
        let rows: Segments<AtomicU32> = Segments::new(4);
        let first = rows.get_or_alloc(0).as_ptr();
        std::thread::scope(|s| {
            s.spawn(|| {
                for id in 0..200_000u32 {
                    rows.get_or_alloc(id)[0].store(id, Ordering::Release);
                }
            });
            s.spawn(|| {
                for id in (0..200_000u32).rev() {
                    if let Some(row) = rows.get(id) {
                        let seen = row[0].load(Ordering::Acquire);
                        assert!(seen == 0 || seen == id);
                    }
                }
            });
        });
        assert_eq!(rows.get(0).map(<[_]>::as_ptr), Some(first));
    }
}
