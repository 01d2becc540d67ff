//! Snapshots: every live item of a collection at one log sequence number, so the log can be
//! emptied and recovery reads a bounded amount of log.
//!
//! ```text
//! "KINSNAP1" | lsn: u64 | count: u64 | count × upsert frame (see record.rs)
//! ```
//! Written to `snapshot.bin.partial`, fsynced, renamed over `snapshot.bin`, directory fsynced.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use kin_core::fault;
use memmap2::Mmap;

use crate::item::Item;
use crate::record::{decode, encode, Frame, Record, MAX_BODY};
use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"KINSNAP1";
/// Bytes of mapped snapshot a reader goes through before it hands the pages it has read back
/// (they stay in the page cache), so that opening a large collection does not hold the whole
/// file in its resident memory beside the index it builds.
const RELEASE_STEP: usize = 8 << 20;
/// Bytes before the first item: the magic, the sequence number and the count.
pub(crate) const HEADER_LEN: usize = 24;

/// The sequence number and item count of a snapshot's header; `None` when it is not one.
pub(crate) fn parse_header(bytes: &[u8]) -> Option<(u64, u64)> {
    let header = bytes.get(..HEADER_LEN).filter(|h| &h[..8] == MAGIC)?;
    let lsn = u64::from_le_bytes(header[8..16].try_into().ok()?);
    let count = u64::from_le_bytes(header[16..24].try_into().ok()?);
    Some((lsn, count))
}

/// A snapshot read whole (the tests'; opening reads item by item with [`Reader`]).
#[cfg(test)]
#[derive(Debug)]
pub struct Snapshot {
    pub lsn: u64,
    pub items: Vec<Item>,
}

/// Writes `count` items, made one at a time by `items` (memory holds one item and a buffer).
/// On failure (a full disk) no partial file is left behind.
pub fn write(path: &Path, lsn: u64, count: usize, items: impl Iterator<Item = Item>) -> Result<()> {
    let partial = path.with_extension("bin.partial");
    let written = write_partial(&partial, lsn, count, items);
    if written.is_err() {
        let _ = fs::remove_file(&partial);
    }
    written?;
    fault::crash_point("snapshot.partial");
    fs::rename(&partial, path).map_err(|e| Error::io(path, e))?;
    fault::crash_point("snapshot.renamed");
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn write_partial(partial: &Path, lsn: u64, count: usize, items: impl Iterator<Item = Item>) -> Result<()> {
    let file = File::create(partial).map_err(|e| Error::io(partial, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&lsn.to_le_bytes());
    header.extend_from_slice(&(count as u64).to_le_bytes());
    out.write_all(&header).map_err(|e| Error::io(partial, e))?;
    let mut frame = Vec::new();
    let mut written = 0;
    for item in items {
        frame.clear();
        encode(lsn, &Record::Upsert(item), &mut frame);
        out.write_all(&frame).map_err(|e| Error::io(partial, e))?;
        written += 1;
    }
    fault::io_point("snapshot.write").map_err(|e| Error::io(partial, e))?;
    if written != count {
        let source = std::io::Error::other(format!("{written} items written where {count} were announced"));
        return Err(Error::io(partial, source));
    }
    let file = out.into_inner().map_err(|e| Error::io(partial, e.into_error()))?;
    fault::io_point("snapshot.sync").and_then(|()| file.sync_all()).map_err(|e| Error::io(partial, e))
}

/// Reads a snapshot whole; `None` when there is none yet.
#[cfg(test)]
pub fn read(path: &Path) -> Result<Option<Snapshot>> {
    let Some(mut reader) = Reader::open(path)? else { return Ok(None) };
    let mut items = Vec::with_capacity(reader.count().min(1 << 24));
    while let Some(item) = reader.next_item()? {
        items.push(item);
    }
    Ok(Some(Snapshot { lsn: reader.lsn(), items }))
}

/// A snapshot read item by item, so that a caller keeps what it needs of each (opening copies
/// the vectors into the index and keeps the rest) and memory never holds every item whole.
///
/// The file is mapped, not read: each frame is checked and decoded where the page cache holds
/// it, so opening a collection copies its bytes once (into the items) instead of three times
/// (into a read buffer, a frame buffer, then the items).
pub struct Reader {
    path: std::path::PathBuf,
    bytes: Mmap,
    lsn: u64,
    count: usize,
    read: usize,
    pos: usize,
    /// Where the pages not yet handed back start.
    released: usize,
}

impl Reader {
    /// The snapshot at `path`, its header read; `None` when there is none yet.
    pub fn open(path: &Path) -> Result<Option<Reader>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        // SAFETY: the map is read-only and lives as long as the reader. kin never changes a
        // snapshot in place: a new one is written beside it and renamed over it, which leaves
        // this mapping on the old file. Every access below is bounds-checked against the length
        // the file had when it was mapped.
        let bytes = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        #[cfg(unix)]
        // Advice only: read-ahead suits a front-to-back read; refused advice changes nothing.
        let _ = bytes.advise(memmap2::Advice::Sequential);
        let Some((lsn, count)) = parse_header(&bytes) else {
            return Err(Error::Corrupt { path: path.to_path_buf(), message: "not a kin snapshot (bad header)".into() });
        };
        let count = count as usize;
        Ok(Some(Reader { path: path.to_path_buf(), bytes, lsn, count, read: 0, pos: HEADER_LEN, released: 0 }))
    }

    /// The log position the snapshot was taken at.
    pub fn lsn(&self) -> u64 {
        self.lsn
    }

    /// The items its header announces.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Damage in this snapshot, said of its file.
    pub(crate) fn corrupt(&self, message: String) -> Error {
        Error::Corrupt { path: self.path.clone(), message }
    }

    /// The next item; `None` after the last, once the file is known to end there.
    pub fn next_item(&mut self) -> Result<Option<Item>> {
        let (count, pos) = (self.count, self.pos);
        let rest = &self.bytes[pos..];
        if self.read == count {
            if !rest.is_empty() {
                return Err(self.corrupt(format!("unexpected bytes after the last item (byte {pos})")));
            }
            return Ok(None);
        }
        let truncated = |r: &Self| r.corrupt(format!("truncated: {} of {count} items", r.read));
        let Some(len) = rest.get(..4).map(|l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize) else {
            return Err(truncated(self));
        };
        if len > MAX_BODY {
            return Err(self.corrupt(format!("a frame of {len} bytes at byte {pos}")));
        }
        let Some(frame) = rest.get(..8 + len) else {
            return Err(truncated(self));
        };
        let item = match decode(frame) {
            Frame::Record { lsn: at, record: Record::Upsert(item), .. } if at == self.lsn => item,
            Frame::Record { lsn: at, .. } if at != self.lsn => {
                let lsn = self.lsn;
                return Err(self.corrupt(format!("an item of log position {at} at byte {pos}, in a snapshot of {lsn}")));
            }
            Frame::Record { .. } => return Err(self.corrupt(format!("unexpected record at byte {pos}"))),
            Frame::Incomplete => return Err(truncated(self)),
            Frame::Corrupt(m) => return Err(self.corrupt(format!("{m} at byte {pos}"))),
        };
        self.pos += 8 + len;
        self.read += 1;
        if self.pos - self.released >= RELEASE_STEP {
            self.release();
        }
        Ok(Some(item))
    }

    /// Hands back the pages before the current frame: they are dropped from this process's
    /// memory and stay in the page cache.
    fn release(&mut self) {
        let end = self.pos / RELEASE_STEP * RELEASE_STEP;
        #[cfg(unix)]
        // SAFETY: the map is shared and read-only, so `MADV_DONTNEED` only unmaps its pages (a
        // later read would fault them in from the file again, with the same bytes); nothing
        // borrows from the range any longer, every item before `pos` having been decoded into
        // values of its own. `released` and `end` are multiples of `RELEASE_STEP`, itself a
        // multiple of any page size, inside the map.
        let _ = unsafe {
            self.bytes.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, self.released, end - self.released)
        };
        self.released = end;
    }
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.bin");
        assert!(read(&path).unwrap().is_none());
        let items = vec![Item::new(1, vec![1.0, 2.0]), Item::new("b", vec![3.0, 4.0])];
        write(&path, 42, items.len(), items.iter().cloned()).unwrap();
        assert!(write(&path, 43, 3, items.iter().cloned()).is_err(), "a short count is refused");
        let snap = read(&path).unwrap().unwrap();
        assert_eq!((snap.lsn, snap.items), (42, items));

        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("truncated"));
        let mut flipped = bytes.clone();
        flipped[40] ^= 1;
        fs::write(&path, &flipped).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("snapshot.bin"));
    }
}
