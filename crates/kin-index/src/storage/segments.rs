//! Append-only rows in segments that never move.
//!
//! Row `id` lives in segment `id / 65,536`. A segment is allocated whole, the first time a row in
//! it is asked for, and stays where it is until the store is dropped, so a reader holding a row
//! never sees it reallocated. Segments hang off a two-level directory (256 shelves × 256
//! segments), which covers every `u32` id while costing a few kilobytes for a small index.
//! Reading takes two acquire loads and no lock.

use std::sync::OnceLock;

use super::aligned::AlignedBlock;

const SEGMENT_BITS: u32 = 16;
/// Rows per segment.
pub(crate) const SEGMENT_ROWS: usize = 1 << SEGMENT_BITS;
const SHELF_BITS: u32 = 8;
const SHELF_SLOTS: usize = 1 << SHELF_BITS;

/// Starts on a cache line, so rows whose size is a multiple of 64 bytes each start on one too.
type Segment<T> = AlignedBlock<T>;
type Shelf<T> = Box<[OnceLock<Segment<T>>]>;

/// Rows of `stride` values of `T`, addressed by `u32` id.
pub(crate) struct Segments<T> {
    stride: usize,
    shelves: Box<[OnceLock<Shelf<T>>]>,
}

/// Shelf, segment within the shelf, and row within the segment of an id.
fn locate(id: u32) -> (usize, usize, usize) {
    let segment = (id >> SEGMENT_BITS) as usize;
    (segment >> SHELF_BITS, segment & (SHELF_SLOTS - 1), id as usize & (SEGMENT_ROWS - 1))
}

fn empty_shelf<T>() -> Shelf<T> {
    (0..SHELF_SLOTS).map(|_| OnceLock::new()).collect()
}

impl<T: Default> Segments<T> {
    pub(crate) fn new(stride: usize) -> Self {
        // A u32 id has 16 bits of segment number: 256 shelves of 256 segments.
        let shelves = (0..1usize << (32 - SEGMENT_BITS - SHELF_BITS)).map(|_| OnceLock::new()).collect();
        Segments { stride, shelves }
    }

    /// Row `id`, or `None` when its segment was never allocated.
    #[inline]
    pub(crate) fn get(&self, id: u32) -> Option<&[T]> {
        let (shelf, segment, row) = locate(id);
        let segment = self.shelves.get(shelf)?.get()?.get(segment)?.get()?;
        let start = row * self.stride;
        segment.get(start..start + self.stride)
    }

    /// Row `id`, allocating its segment (filled with `T::default()`) when needed.
    pub(crate) fn get_or_alloc(&self, id: u32) -> &[T] {
        let (shelf, segment, row) = locate(id);
        // `locate` keeps `shelf` below the 256 shelves and `segment` below the 256 slots of one.
        let shelf = self.shelves[shelf].get_or_init(empty_shelf);
        let segment = shelf[segment].get_or_init(|| {
            tracing::trace!(
                first_id = id as usize - row,
                rows = SEGMENT_ROWS,
                stride = self.stride,
                "segment allocated"
            );
            AlignedBlock::new(SEGMENT_ROWS * self.stride)
        });
        let start = row * self.stride;
        &segment[start..start + self.stride]
    }

    /// Bytes held by the segments allocated so far.
    pub(crate) fn allocated_bytes(&self) -> usize {
        let segments: usize = self
            .shelves
            .iter()
            .filter_map(OnceLock::get)
            .map(|shelf| shelf.iter().filter(|s| s.get().is_some()).count())
            .sum();
        segments * SEGMENT_ROWS * self.stride * std::mem::size_of::<T>()
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
        assert!(rows.get(SEGMENT_ROWS as u32).is_none(), "the next segment does not");
        assert_eq!(rows.allocated_bytes(), SEGMENT_ROWS * 3 * 4);
    }

    #[test]
    fn ids_map_to_distinct_rows_across_segments_and_shelves() {
        assert_eq!(locate(0), (0, 0, 0));
        assert_eq!(locate(65_535), (0, 0, 65_535));
        assert_eq!(locate(65_536), (0, 1, 0));
        assert_eq!(locate(1 << 24), (1, 0, 0));
        assert_eq!(locate(u32::MAX), (255, 255, 65_535));
        let rows: Segments<AtomicU32> = Segments::new(1);
        for id in [0, 65_535, 65_536, 1 << 24, u32::MAX] {
            rows.get_or_alloc(id)[0].store(id ^ 1, Ordering::Relaxed);
        }
        for id in [0, 65_535, 65_536, 1 << 24, u32::MAX] {
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
