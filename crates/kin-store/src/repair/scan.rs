//! Reading a log or a snapshot across damage: every intact frame, the damaged stretches
//! between them, and what those stretches still read as.

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::collection::SNAPSHOT_FILE;
use crate::item::Item;
use crate::record::{decode, resync, salvage, Frame, Record, MIN_FRAME};
use crate::snapshot::{self, HEADER_LEN};
use crate::wal::log_order;
use crate::{Error, Result};

/// The frames of a log or snapshot, read across damage.
pub(super) struct Scan {
    /// Intact frames: where each lies, its sequence number and its record.
    pub frames: Vec<(Range<usize>, u64, Record)>,
    /// Stretches that are not intact frames, each followed by an intact frame or the end.
    pub damaged: Vec<Range<usize>>,
    /// A last frame cut short: a write a crash interrupted (never acknowledged).
    pub torn: Option<Range<usize>>,
}

/// Reads frames from `start`; past a damaged one, from the next intact frame whose sequence
/// number `plausible` accepts after the last intact one (its number and where it ended).
fn scan(bytes: &[u8], start: usize, plausible: &dyn Fn(Option<(u64, usize)>, u64, usize) -> bool) -> Scan {
    let mut out = Scan { frames: Vec::new(), damaged: Vec::new(), torn: None };
    let mut pos = start.min(bytes.len());
    let mut last = None;
    while pos < bytes.len() {
        let frame = decode(&bytes[pos..]);
        if let Frame::Record { lsn, record, len } = frame {
            out.frames.push((pos..pos + len, lsn, record));
            pos += len;
            last = Some((lsn, pos));
            continue;
        }
        match resync(bytes, pos + 1, &|lsn, at| plausible(last, lsn, at)) {
            Some(next) => {
                out.damaged.push(pos..next);
                pos = next;
            }
            None if frame == Frame::Incomplete => {
                out.torn = Some(pos..bytes.len());
                break;
            }
            None => {
                out.damaged.push(pos..bytes.len());
                break;
            }
        }
    }
    out
}

/// The records damaged bytes still read as: frame after frame by their length fields, the last
/// one to the end of the stretch when its length field is what was damaged.
pub(super) fn read_damaged(bytes: &[u8]) -> Vec<(u64, Record)> {
    let mut out = Vec::new();
    let mut p = 0;
    while p + MIN_FRAME <= bytes.len() {
        let len = u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap_or_default()) as usize;
        let by_length = (p + 8 + len <= bytes.len()).then(|| salvage(&bytes[p + 8..p + 8 + len])).flatten();
        match by_length {
            Some(record) => {
                out.push(record);
                p += 8 + len;
            }
            None => {
                out.extend(salvage(&bytes[p + 8..]));
                break;
            }
        }
    }
    out
}

/// A log's frames, read across damage; `floor` is the first sequence number no snapshot holds.
pub(super) fn scan_log(bytes: &[u8], floor: u64) -> Scan {
    scan(bytes, 0, &|last, lsn, at| log_order(last, floor)(lsn, at))
}

/// A snapshot as read across damage: its header's sequence number and count (when the header
/// is intact) and its frames.
pub(super) struct SnapshotScan {
    header: Option<(u64, u64)>,
    pub scan: Scan,
}

impl SnapshotScan {
    fn read(bytes: &[u8]) -> Self {
        let header = snapshot::parse_header(bytes);
        // Every item of a snapshot carries its sequence number.
        let scan = scan(bytes, HEADER_LEN, &|last, lsn, _| match (last, header) {
            (Some((want, _)), _) | (None, Some((want, _))) => lsn == want,
            (None, None) => true,
        });
        SnapshotScan { header, scan }
    }

    /// The sequence number the snapshot holds the items as of.
    pub(super) fn lsn(&self) -> Option<u64> {
        self.scan.frames.first().map(|f| f.1).or(self.header.map(|(lsn, _)| lsn))
    }

    /// Its intact items.
    pub(super) fn into_items(self) -> Vec<Item> {
        let items = self.scan.frames.into_iter().map(|f| f.2);
        items.filter_map(|r| if let Record::Upsert(item) = r { Some(item) } else { None }).collect()
    }

    /// What is wrong with it, if anything.
    pub(super) fn problems(&self, len: usize) -> Vec<String> {
        let mut out = Vec::new();
        if self.header.is_none() {
            out.push("its header is damaged".to_string());
        }
        for r in &self.scan.damaged {
            out.push(format!("bytes {}..{} are damaged", r.start, r.end));
        }
        if let Some(t) = &self.scan.torn {
            out.push(format!("it is cut short at byte {} of {len}", t.start));
        }
        if let Some((_, count)) = self.header {
            let intact = self.scan.frames.len() as u64;
            if intact != count && self.scan.damaged.is_empty() && self.scan.torn.is_none() {
                out.push(format!("it announces {count} items and holds {intact}"));
            }
        }
        if let (Some((header, _)), Some(items)) = (self.header, self.lsn()) {
            if header != items {
                out.push(format!("its header says log position {header}, its items {items}"));
            }
        }
        if self.scan.frames.iter().any(|f| !matches!(f.2, Record::Upsert(_)) || Some(f.1) != self.lsn()) {
            out.push("it holds records other than items of one log position".to_string());
        }
        out
    }
}

/// Reads a file that may be absent (`None`).
pub(super) fn read_file(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// A space's snapshot as read across damage: its path, its bytes and what they hold; `None`
/// when the space has none yet.
pub(super) fn read_snapshot(space_dir: &Path) -> Result<Option<(PathBuf, Vec<u8>, SnapshotScan)>> {
    let path = space_dir.join(SNAPSHOT_FILE);
    Ok(read_file(&path)?.map(|bytes| {
        let snap = SnapshotScan::read(&bytes);
        (path, bytes, snap)
    }))
}
