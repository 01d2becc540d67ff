//! Where `kin embed` writes vectors: JSON lines (stdout or `.jsonl`) or a float32 `.npy` matrix.
//! Files are written beside their destination and renamed into place when complete.

use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Room reserved for the `.npy` header, rewritten with the final row count at the end.
const NPY_HEADER: usize = 128;

pub enum Sink {
    Jsonl { out: BufWriter<Box<dyn Write>>, file: Option<(PathBuf, PathBuf)> },
    Npy { out: BufWriter<File>, partial: PathBuf, path: PathBuf, rows: usize, dim: Option<usize> },
}

impl Sink {
    pub fn open(path: Option<&Path>) -> Result<Sink> {
        let Some(path) = path else {
            return Ok(Sink::Jsonl { out: BufWriter::new(Box::new(io::stdout().lock())), file: None });
        };
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        let partial = partial_path(path);
        let create = || File::create(&partial).with_context(|| format!("cannot write {}", partial.display()));
        match ext {
            "npy" => {
                let mut out = BufWriter::with_capacity(1 << 20, create()?);
                out.write_all(&[b' '; NPY_HEADER])?;
                Ok(Sink::Npy { out, partial, path: path.to_path_buf(), rows: 0, dim: None })
            }
            "jsonl" | "ndjson" => Ok(Sink::Jsonl {
                out: BufWriter::with_capacity(1 << 20, Box::new(create()?)),
                file: Some((partial, path.to_path_buf())),
            }),
            _ => bail!("{}: unknown output format; use a .jsonl or .npy extension", path.display()),
        }
    }

    pub fn write(&mut self, id: &Value, vector: &[f32]) -> Result<()> {
        match self {
            Sink::Jsonl { out, .. } => {
                // f32 `Display` is the shortest text that reads back to the same float.
                write!(out, "{{\"id\":{id},\"vector\":[")?;
                for (i, v) in vector.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    write!(out, "{v}")?;
                }
                out.write_all(b"]}\n")?;
            }
            Sink::Npy { out, rows, dim, path, .. } => {
                match *dim {
                    None => *dim = Some(vector.len()),
                    Some(d) if d != vector.len() => {
                        bail!("{}: vector of length {} after rows of {d}", path.display(), vector.len())
                    }
                    _ => {}
                }
                for v in vector {
                    out.write_all(&v.to_le_bytes())?;
                }
                *rows += 1;
            }
        }
        Ok(())
    }

    /// Completes the output; `dim` sizes an empty `.npy` matrix.
    pub fn finish(self, dim: usize) -> Result<()> {
        match self {
            Sink::Jsonl { mut out, file } => {
                out.flush()?;
                if let Some((partial, path)) = file {
                    let inner = out.into_inner().map_err(|e| e.into_error())?;
                    drop(inner);
                    rename(&partial, &path)?;
                }
            }
            Sink::Npy { out, partial, path, rows, dim: seen } => {
                let mut file = out.into_inner().map_err(|e| e.into_error())?;
                file.seek(SeekFrom::Start(0))?;
                file.write_all(&npy_header(rows, seen.unwrap_or(dim)))?;
                file.sync_all()?;
                drop(file);
                rename(&partial, &path)?;
            }
        }
        Ok(())
    }
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).with_context(|| format!("cannot move {} to {}", from.display(), to.display()))
}

/// A version 1.0 `.npy` header for a C-order float32 matrix, padded to `NPY_HEADER` bytes.
fn npy_header(rows: usize, dim: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let mut header = b"\x93NUMPY\x01\x00".to_vec();
    let len = NPY_HEADER - 10;
    header.extend_from_slice(&(len as u16).to_le_bytes());
    header.extend_from_slice(dict.as_bytes());
    header.resize(NPY_HEADER - 1, b' ');
    header.push(b'\n');
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trip_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.npy");
        let mut sink = Sink::open(Some(&path)).unwrap();
        sink.write(&0.into(), &[1.0, 2.0]).unwrap();
        sink.write(&1.into(), &[3.0, 4.0]).unwrap();
        sink.finish(2).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes.len(), NPY_HEADER + 16);
        let header = std::str::from_utf8(&bytes[10..NPY_HEADER]).unwrap();
        assert!(header.contains("'shape': (2, 2)") && header.ends_with('\n'));
        assert_eq!(f32::from_le_bytes(bytes[NPY_HEADER + 12..].try_into().unwrap()), 4.0);
        assert!(!partial_path(&path).exists());
    }

    #[test]
    fn unknown_extension_is_refused() {
        assert!(Sink::open(Some(Path::new("out.csv"))).is_err());
    }
}
