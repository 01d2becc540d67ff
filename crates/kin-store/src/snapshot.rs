//! Snapshots: every live item of a collection at one log sequence number, so the log can be
//! emptied and recovery reads a bounded amount of log.
//!
//! ```text
//! "KINSNAP1" | lsn: u64 | count: u64 | count × upsert frame (see record.rs)
//! ```
//! Written to `snapshot.bin.partial`, fsynced, renamed over `snapshot.bin`, directory fsynced.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use kin_core::fault;

use crate::item::Item;
use crate::record::{decode, encode, Frame, Record, MAX_BODY};
use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"KINSNAP1";
/// Bytes before the first item: the magic, the sequence number and the count.
pub(crate) const HEADER_LEN: usize = 24;

/// The sequence number and item count of a snapshot's header; `None` when it is not one.
pub(crate) fn parse_header(bytes: &[u8]) -> Option<(u64, u64)> {
    let header = bytes.get(..HEADER_LEN).filter(|h| &h[..8] == MAGIC)?;
    let lsn = u64::from_le_bytes(header[8..16].try_into().ok()?);
    let count = u64::from_le_bytes(header[16..24].try_into().ok()?);
    Some((lsn, count))
}

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

/// Reads a snapshot, one frame in memory at a time; `None` when there is none yet.
pub fn read(path: &Path) -> Result<Option<Snapshot>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let corrupt = |message: String| Error::Corrupt { path: path.to_path_buf(), message };
    let mut input = BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; HEADER_LEN];
    let parsed = input.read_exact(&mut header).ok().and_then(|()| parse_header(&header));
    let Some((lsn, count)) = parsed else {
        return Err(corrupt("not a kin snapshot (bad header)".into()));
    };
    let count = count as usize;
    let mut items = Vec::with_capacity(count.min(1 << 24));
    let mut frame = Vec::new();
    let mut pos = 24u64;
    while items.len() < count {
        let truncated = || corrupt(format!("truncated: {} of {count} items", items.len()));
        frame.resize(8, 0);
        input.read_exact(&mut frame).map_err(|_| truncated())?;
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        if len > MAX_BODY {
            return Err(corrupt(format!("a frame of {len} bytes at byte {pos}")));
        }
        frame.resize(8 + len, 0);
        input.read_exact(&mut frame[8..]).map_err(|_| truncated())?;
        match decode(&frame) {
            Frame::Record { lsn: at, record: Record::Upsert(item), .. } if at == lsn => items.push(item),
            Frame::Record { lsn: at, .. } if at != lsn => {
                return Err(corrupt(format!("an item of log position {at} at byte {pos}, in a snapshot of {lsn}")))
            }
            Frame::Record { .. } => return Err(corrupt(format!("unexpected record at byte {pos}"))),
            Frame::Incomplete => return Err(truncated()),
            Frame::Corrupt(m) => return Err(corrupt(format!("{m} at byte {pos}"))),
        }
        pos += frame.len() as u64;
    }
    let mut rest = [0u8; 1];
    if input.read(&mut rest).map_err(|e| Error::io(path, e))? > 0 {
        return Err(corrupt(format!("unexpected bytes after the last item (byte {pos})")));
    }
    Ok(Some(Snapshot { lsn, items }))
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
