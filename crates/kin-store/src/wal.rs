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

use crate::record::{decode, encode, Frame, Record};
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
}

impl Wal {
    /// Opens (or creates) the log and returns the records it holds, oldest first.
    pub fn open(path: &Path, sync: SyncPolicy) -> Result<(Wal, Vec<(u64, Record)>)> {
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
        while pos < bytes.len() {
            match decode(&bytes[pos..]) {
                Frame::Record { lsn, record, len } => {
                    records.push((lsn, record));
                    pos += len;
                }
                Frame::Incomplete => break,
                Frame::Corrupt(message) => {
                    let frame_end = frame_end(&bytes[pos..]).map(|e| pos + e);
                    if frame_end.is_some_and(|end| end < bytes.len()) {
                        return Err(Error::Corrupt {
                            path: path.to_path_buf(),
                            message: format!("{message} in the frame at byte {pos}, with more records after it"),
                        });
                    }
                    break;
                }
            }
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
        let wal = Wal { file, path: path.to_path_buf(), sync, len: pos as u64, buf: Vec::new() };
        Ok((wal, records))
    }

    /// Appends records with consecutive sequence numbers from `first_lsn`; durable on return
    /// under [`SyncPolicy::Always`].
    pub fn append(&mut self, first_lsn: u64, records: &[Record]) -> Result<()> {
        self.buf.clear();
        for (i, r) in records.iter().enumerate() {
            encode(first_lsn + i as u64, r, &mut self.buf);
        }
        let result = self.file.write_all(&self.buf).and_then(|_| match self.sync {
            SyncPolicy::Always => self.file.sync_data(),
            SyncPolicy::Never => Ok(()),
        });
        if let Err(e) = result {
            // Leave no partial frame behind for the next append to follow.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::Start(self.len));
            return Err(Error::io(&self.path, e));
        }
        self.len += self.buf.len() as u64;
        Ok(())
    }

    /// Bytes in the log.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Empties the log once a snapshot holds everything in it.
    pub fn clear(&mut self) -> Result<()> {
        self.file.set_len(0).map_err(|e| Error::io(&self.path, e))?;
        self.file.seek(SeekFrom::Start(0)).map_err(|e| Error::io(&self.path, e))?;
        self.file.sync_all().map_err(|e| Error::io(&self.path, e))?;
        self.len = 0;
        Ok(())
    }
}

/// Where the frame at the start of `buf` ends, by its length field.
fn frame_end(buf: &[u8]) -> Option<usize> {
    let len = u32::from_le_bytes(buf.get(0..4)?.try_into().ok()?) as usize;
    Some(8 + len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Item;

    fn upsert(i: i64) -> Record {
        Record::Upsert(Item::new(i, vec![i as f32; 4]))
    }

    #[test]
    fn appends_survive_reopen_and_torn_tails_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let (mut wal, records) = Wal::open(&path, SyncPolicy::Always).unwrap();
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

        let (wal, records) = Wal::open(&path, SyncPolicy::Always).unwrap();
        assert_eq!(records.iter().map(|(l, _)| *l).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(wal.len(), good);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    }

    #[test]
    fn damage_before_good_records_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.log");
        let (mut wal, _) = Wal::open(&path, SyncPolicy::Always).unwrap();
        wal.append(1, &[upsert(1), upsert(2)]).unwrap();
        drop(wal);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[12] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = Wal::open(&path, SyncPolicy::Always).err().unwrap().to_string();
        assert!(err.contains("wal.log") && err.contains("checksum"), "{err}");
    }
}
