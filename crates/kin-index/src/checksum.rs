//! Little-endian files that end with the CRC32 of everything before it.
//!
//! [`Encoder`] writes through a buffer into a hashing writer and appends the checksum, then
//! syncs the file. [`Decoder`] reads through a buffer from a hashing reader that knows where the
//! body ends, so read-ahead never hashes the trailer; every short read or bad checksum becomes an
//! [`Error::Corrupt`] naming the file.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use kin_core::fault;

use crate::{Error, Result};

const BUFFER: usize = 1 << 20;
const TRAILER: u64 = 4;

struct HashingWriter {
    file: File,
    hasher: crc32fast::Hasher,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

pub(crate) struct Encoder {
    out: BufWriter<HashingWriter>,
    path: PathBuf,
}

impl Encoder {
    /// Creates (or truncates) `path`.
    pub(crate) fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        let out = BufWriter::with_capacity(BUFFER, HashingWriter { file, hasher: crc32fast::Hasher::new() });
        Ok(Encoder { out, path: path.to_path_buf() })
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> Result<()> {
        self.out.write_all(bytes).map_err(|e| Error::io(&self.path, e))
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<()> {
        self.bytes(&[v])
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn u64(&mut self, v: u64) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    pub(crate) fn f32(&mut self, v: f32) -> Result<()> {
        self.bytes(&v.to_le_bytes())
    }

    /// Appends the checksum and syncs the file to disk.
    pub(crate) fn finish(self) -> Result<()> {
        let path = self.path;
        let HashingWriter { mut file, hasher } = self.out.into_inner().map_err(|e| Error::io(&path, e.into_error()))?;
        file.write_all(&hasher.finalize().to_le_bytes()).map_err(|e| Error::io(&path, e))?;
        fault::io_point("index.sync").and_then(|()| file.sync_all()).map_err(|e| Error::io(&path, e))
    }
}

struct HashingReader {
    file: File,
    hasher: crc32fast::Hasher,
    position: u64,
    body_len: u64,
}

impl Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        let hashed = self.body_len.saturating_sub(self.position).min(n as u64) as usize;
        self.hasher.update(&buf[..hashed]);
        self.position += n as u64;
        Ok(n)
    }
}

pub(crate) struct Decoder {
    input: BufReader<HashingReader>,
    path: PathBuf,
    offset: u64,
    body_len: u64,
}

impl Decoder {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len < TRAILER {
            return Err(Error::corrupt(path, format!("{len} bytes is too short for an index file")));
        }
        let body_len = len - TRAILER;
        let reader = HashingReader { file, hasher: crc32fast::Hasher::new(), position: 0, body_len };
        Ok(Decoder { input: BufReader::with_capacity(BUFFER, reader), path: path.to_path_buf(), offset: 0, body_len })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes before the checksum.
    pub(crate) fn body_len(&self) -> u64 {
        self.body_len
    }

    pub(crate) fn corrupt(&self, message: impl Into<String>) -> Error {
        Error::corrupt(&self.path, message)
    }

    pub(crate) fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        if self.offset + buf.len() as u64 > self.body_len {
            return Err(
                self.corrupt(format!("truncated: needs more than the {} bytes before the checksum", self.body_len))
            );
        }
        self.input.read_exact(buf).map_err(|e| Error::io(&self.path, e))?;
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.fill(&mut buf)?;
        Ok(buf)
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32> {
        self.array().map(u32::from_le_bytes)
    }

    pub(crate) fn u64(&mut self) -> Result<u64> {
        self.array().map(u64::from_le_bytes)
    }

    pub(crate) fn f32(&mut self) -> Result<f32> {
        self.array().map(f32::from_le_bytes)
    }

    /// Checks that the body was read to its end and matches the checksum after it.
    pub(crate) fn finish(mut self) -> Result<()> {
        if self.offset != self.body_len {
            return Err(self.corrupt(format!("{} unexpected bytes before the checksum", self.body_len - self.offset)));
        }
        let mut trailer = [0u8; TRAILER as usize];
        self.input.read_exact(&mut trailer).map_err(|e| Error::io(&self.path, e))?;
        let stored = u32::from_le_bytes(trailer);
        let computed = self.input.get_ref().hasher.clone().finalize();
        if stored != computed {
            return Err(self.corrupt(format!("checksum mismatch (stored {stored:08x}, computed {computed:08x})")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_sample(path: &Path) -> Result<()> {
        let mut enc = Encoder::create(path)?;
        enc.u8(7)?;
        enc.u32(0xDEAD_BEEF)?;
        enc.u64(u64::MAX - 1)?;
        enc.f32(-1.5)?;
        enc.bytes(&[1, 2, 3])?;
        enc.finish()
    }

    fn read_sample(path: &Path) -> Result<()> {
        let mut dec = Decoder::open(path)?;
        assert_eq!(dec.u8()?, 7);
        assert_eq!(dec.u32()?, 0xDEAD_BEEF);
        assert_eq!(dec.u64()?, u64::MAX - 1);
        assert_eq!(dec.f32()?, -1.5);
        let mut rest = [0u8; 3];
        dec.fill(&mut rest)?;
        assert_eq!(rest, [1, 2, 3]);
        dec.finish()
    }

    #[test]
    fn round_trip_and_every_flipped_byte_is_caught() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("sample.bin");
        write_sample(&path)?;
        read_sample(&path)?;
        assert_eq!(Decoder::open(&path)?.body_len(), 1 + 4 + 8 + 4 + 3);
        let good = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            std::fs::write(&path, &bad).map_err(|e| Error::io(&path, e))?;
            // Read the body as raw bytes, so that only the checksum can notice the flip.
            let mut dec = Decoder::open(&path)?;
            let mut body = vec![0u8; dec.body_len() as usize];
            dec.fill(&mut body)?;
            assert!(matches!(dec.finish(), Err(Error::Corrupt { .. })), "byte {i}");
        }
        Ok(())
    }

    #[test]
    fn truncation_and_trailing_bytes_are_corrupt() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("sample.bin");
        write_sample(&path)?;
        let good = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        for len in [0, 3, 10, good.len() - 1] {
            std::fs::write(&path, &good[..len]).map_err(|e| Error::io(&path, e))?;
            let err = Decoder::open(&path).and_then(|_| read_sample(&path));
            assert!(matches!(err, Err(Error::Corrupt { .. })), "len {len}: {err:?}");
        }
        let mut longer = good.clone();
        longer.push(0);
        std::fs::write(&path, &longer).map_err(|e| Error::io(&path, e))?;
        assert!(matches!(read_sample(&path), Err(Error::Corrupt { .. })));
        let missing = dir.path().join("missing.bin");
        assert!(matches!(Decoder::open(&missing), Err(Error::Io { .. })));
        Ok(())
    }
}
