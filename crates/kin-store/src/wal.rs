//! The write-ahead log: every accepted write is framed, checksummed and (by default) fsynced
//! before it is acknowledged.
//!
//! Durability policy: with [`SyncPolicy::Always`] (the default) `append` returns only after
//! `fdatasync`, so an acknowledged write survives `kill -9` and power loss. A batch of writes is
//! one append and one fsync (group commit). [`SyncPolicy::Never`] leaves flushing to the OS:
//! writes survive a process crash but not a power cut.
//!
//! Recovery reads frames from the start. A cut-short last frame (a torn tail: the crash came
//! mid-write, so the write was never acknowledged) is dropped and the file truncated to the last
//! whole frame. A damaged frame with intact data after it is corruption, and opening fails
//! rather than silently dropping acknowledged writes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use kin_core::fault;

use crate::record::{decode, encode, resync, Frame, Record, MIN_FRAME};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncPolicy {
    /// fsync before acknowledging every append (safe; the default).
    #[default]
    Always,
    /// Let the OS flush (survives a process crash, not a power cut).
    Never,
}

pub struct Wal {
    file: File,
    path: PathBuf,
    sync: SyncPolicy,
    len: u64,
    buf: Vec<u8>,
    /// The open file's device and inode, to notice the path no longer leading to it.
    identity: Option<(u64, u64)>,
}

/// Device and inode of a file (unix); `None` elsewhere, where the check is not made.
fn identity(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

impl Wal {
    /// Opens (or creates) the log and returns the records it holds, oldest first. `floor` is the
    /// first sequence number the snapshots do not hold (it bounds what the first record can be
    /// when damage has to be crossed).
    pub fn open(path: &Path, sync: SyncPolicy, floor: u64) -> Result<(Wal, Vec<(u64, Record)>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
        let mut records = Vec::new();
        let mut pos = 0usize;
        let mut last = None;
        while pos < bytes.len() {
            let message = match decode(&bytes[pos..]) {
                Frame::Record { lsn, record, len } => {
                    records.push((lsn, record));
                    pos += len;
                    last = Some((lsn, pos));
                    continue;
                }
                Frame::Incomplete => "a frame longer than the rest of the file".to_string(),
                Frame::Corrupt(message) => message,
            };
            // A torn tail has nothing intact after it; anything else is damage, and dropping
            // the records after it would lose acknowledged writes.
            if let Some(next) = resync(&bytes, pos + 1, &log_order(last, floor)) {
                return Err(Error::Corrupt {
                    path: path.to_path_buf(),
                    message: format!(
                        "{message} in the frame at byte {pos}, with more records after it (the next at byte {next})"
                    ),
                });
            }
            break;
        }
        if pos < bytes.len() {
            tracing::warn!(
                "{}: dropping a torn tail of {} bytes (an unacknowledged write cut short by a crash)",
                path.display(),
                bytes.len() - pos
            );
            file.set_len(pos as u64).map_err(|e| Error::io(path, e))?;
            file.sync_all().map_err(|e| Error::io(path, e))?;
        }
        file.seek(SeekFrom::Start(pos as u64)).map_err(|e| Error::io(path, e))?;
        let identity = file.metadata().ok().as_ref().and_then(identity);
        let wal = Wal { file, path: path.to_path_buf(), sync, len: pos as u64, buf: Vec::new(), identity };
        Ok((wal, records))
    }

    /// Appends records with consecutive sequence numbers from `first_lsn`; durable on return
    /// under [`SyncPolicy::Always`].
    ///
    /// Refused when the log's path no longer leads to the file opened (the data directory
    /// deleted or moved, the file replaced): appending to the orphan would succeed, and the write
    /// would be gone on the next open.
    pub fn append(&mut self, first_lsn: u64, records: &[Record]) -> Result<()> {
        self.check_still_there()?;
        self.buf.clear();
        for (i, r) in records.iter().enumerate() {
            encode(first_lsn + i as u64, r, &mut self.buf);
        }
        fault::crash_point("wal.write");
        let result =
            fault::io_point("wal.write").and_then(|()| self.file.write_all(&self.buf)).and_then(|()| match self.sync {
                SyncPolicy::Always => fault::io_point("wal.sync").and_then(|()| self.file.sync_data()),
                SyncPolicy::Never => Ok(()),
            });
        if let Err(e) = result {
            // Leave no partial frame behind for the next append to follow.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(Error::io(&self.path, e));
        }
        self.len += self.buf.len() as u64;
        fault::crash_point("wal.synced");
        Ok(())
    }

    fn check_still_there(&self) -> Result<()> {
        let Some(opened) = self.identity else {
            return Ok(());
        };
        let now = std::fs::metadata(&self.path).ok().as_ref().and_then(identity);
        if now == Some(opened) {
            return Ok(());
        }
        let why = concat!(
            "the log file was deleted, moved or replaced since the collection was opened ",
            "(is the data directory still there?); the write is refused, as it would not survive a restart"
        );
        Err(Error::io(&self.path, std::io::Error::new(std::io::ErrorKind::NotFound, why)))
    }

    /// Bytes in the log.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Empties the log once a snapshot holds everything in it.
    pub fn clear(&mut self) -> Result<()> {
        fault::io_point("wal.clear").map_err(|e| Error::io(&self.path, e))?;
        self.file.set_len(0).map_err(|e| Error::io(&self.path, e))?;
        self.file.seek(SeekFrom::Start(0)).map_err(|e| Error::io(&self.path, e))?;
        self.file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        self.len = 0;
        Ok(())
    }
}

/// Whether an intact frame found at byte `at` of a log can be a record of it: after the last
/// intact record (its sequence number and where it ended), a higher number, by at most one per
/// frame that fits between them; before any, one the log can start with (at most `floor`, the
/// first number the snapshots do not hold, plus one per frame that fits before it).
pub(crate) fn log_order(last: Option<(u64, usize)>, floor: u64) -> impl Fn(u64, usize) -> bool {
    move |lsn, at| match last {
        Some((prev, end)) => lsn > prev && lsn <= prev + 1 + (at.saturating_sub(end) / MIN_FRAME) as u64,
        None => lsn >= 1 && lsn <= floor.max(1) + (at / MIN_FRAME) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Item;

    fn upsert(i: i64) -> Record {
        Record::Upsert(Item::new(i, vec![i as f32; 4]))
    }

    #[test]
    fn appends_are_refused_once_the_log_is_gone_or_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let (mut wal, _) = Wal::open(&path, SyncPolicy::Never, 1).unwrap();
        wal.append(1, &[upsert(1)]).unwrap();
        std::fs::rename(&path, dir.path().join("moved.log")).unwrap();
        let err = wal.append(2, &[upsert(2)]).unwrap_err().to_string();
        assert!(err.contains("wal.log") && err.contains("deleted, moved or replaced"), "{err}");
        std::fs::write(&path, b"").unwrap();
        assert!(wal.append(2, &[upsert(2)]).is_err(), "a new file at the path is not the log");
        std::fs::remove_file(&path).unwrap();
        std::fs::rename(dir.path().join("moved.log"), &path).unwrap();
        wal.append(2, &[upsert(2)]).unwrap();
        drop(wal);
        let (_, records) = Wal::open(&path, SyncPolicy::Never, 1).unwrap();
        assert_eq!(records.len(), 2, "nothing refused was written, nothing accepted was lost");
    }

    #[test]
    fn appends_survive_reopen_and_torn_tails_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let (mut wal, records) = Wal::open(&path, SyncPolicy::Always, 1).unwrap();
        assert!(records.is_empty());
        wal.append(1, &[upsert(1), upsert(2)]).unwrap();
        wal.append(3, &[Record::Delete(1.into())]).unwrap();
        let good = wal.len();
        drop(wal);

        // A crash mid-append: half a frame at the end.
        let mut half = Vec::new();
        encode(4, &upsert(4), &mut half);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&half[..half.len() / 2]).unwrap();
        drop(f);

        let (wal, records) = Wal::open(&path, SyncPolicy::Always, 1).unwrap();
        assert_eq!(records.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(wal.len(), good);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    }

    #[test]
    fn damage_before_good_records_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let (mut wal, _) = Wal::open(&path, SyncPolicy::Always, 1).unwrap();
        wal.append(1, &[upsert(1), upsert(2)]).unwrap();
        drop(wal);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[12] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = Wal::open(&path, SyncPolicy::Always, 1).err().unwrap().to_string();
        assert!(err.contains("wal.log") && err.contains("checksum"), "{err}");
    }

    #[test]
    fn a_length_past_the_end_with_records_after_it_is_damage_not_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let (mut wal, _) = Wal::open(&path, SyncPolicy::Always, 1).unwrap();
        wal.append(1, &[upsert(1), upsert(2), upsert(3)]).unwrap();
        drop(wal);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[3] = 0x10; // the first frame now announces more bytes than the file holds
        std::fs::write(&path, &bytes).unwrap();
        let err = Wal::open(&path, SyncPolicy::Always, 1).err().unwrap().to_string();
        assert!(err.contains("more records after it"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing is truncated");
    }
}
