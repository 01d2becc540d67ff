//! Reading `.npy` matrices (float32/float64 vectors, int64 ids) and writing int64 id matrices.

use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};

/// A row-major matrix read from `.npy`.
#[derive(Debug)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// Reads a 1-D (one row) or 2-D float32/float64 C-order `.npy` file.
///
/// The values are decoded as the file is read, a block at a time: the file's bytes are never held
/// whole beside the matrix (fresh memory costs more than the copy into it).
pub fn read_f32(path: &Path) -> Result<Matrix> {
    let cannot_read = || format!("cannot read {}", path.display());
    let file = File::open(path).with_context(cannot_read)?;
    let meta = file.metadata().with_context(cannot_read)?;
    let mut reader = BufReader::with_capacity(BLOCK, file);
    let (header, header_len) =
        read_header(&mut reader).with_context(|| format!("{}: not a .npy file", path.display()))?;
    let descr = field(&header, "descr").unwrap_or_default();
    if header.contains("'fortran_order': True") {
        bail!("{}: Fortran-order arrays are not supported; save with np.ascontiguousarray", path.display());
    }
    let shape = shape(&header).with_context(|| format!("{}: unreadable shape in header", path.display()))?;
    let (rows, cols) = match shape.as_slice() {
        [n] => (1, *n),
        [r, c] => (*r, *c),
        other => bail!("{}: expected a 1-D or 2-D array, found shape {other:?}", path.display()),
    };
    let Some(n) = rows.checked_mul(cols).filter(|n| n.checked_mul(8).is_some()) else {
        bail!("{}: shape {shape:?} holds more values than any file can", path.display());
    };
    let width = match descr.as_str() {
        "<f4" => 4,
        "<f8" => 8,
        other => bail!("{}: dtype {other:?} is not supported (use float32 or float64)", path.display()),
    };
    let truncated = |data_len: String| {
        anyhow::anyhow!("{}: {data_len} data bytes for shape {shape:?}: the file is truncated", path.display())
    };
    // A file's length is checked before anything is allocated; a pipe's as it is read.
    if meta.is_file() && meta.len().saturating_sub(header_len) != (n * width) as u64 {
        return Err(truncated(meta.len().saturating_sub(header_len).to_string()));
    }
    let mut values: Vec<f32> = Vec::with_capacity(if meta.is_file() { n } else { n.min(BLOCK) });
    let mut block = vec![0u8; BLOCK];
    while values.len() < n {
        let bytes = &mut block[..((n - values.len()) * width).min(BLOCK)];
        match reader.read_exact(bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(truncated("fewer".into())),
            read => read.with_context(cannot_read)?,
        }
        if width == 4 {
            values.extend(bytes.as_chunks::<4>().0.iter().map(|&b| f32::from_le_bytes(b)));
        } else {
            values.extend(bytes.as_chunks::<8>().0.iter().map(|&b| f64::from_le_bytes(b) as f32));
        }
    }
    if reader.read(&mut block[..1]).with_context(cannot_read)? > 0 {
        return Err(truncated("more".into()));
    }
    Ok(Matrix { rows, cols, data: values })
}

/// Bytes read and decoded at a time (a multiple of both value widths).
const BLOCK: usize = 1 << 16;

/// The header text of a `.npy` file and the number of bytes up to its data, read from its start.
fn read_header(reader: &mut impl Read) -> Option<(String, u64)> {
    let mut lead = [0u8; 8];
    reader.read_exact(&mut lead).ok()?;
    if &lead[..6] != b"\x93NUMPY" {
        return None;
    }
    let (len, start) = match lead[6] {
        1 => {
            let mut len = [0u8; 2];
            reader.read_exact(&mut len).ok()?;
            (u16::from_le_bytes(len) as usize, 10)
        }
        2 | 3 => {
            let mut len = [0u8; 4];
            reader.read_exact(&mut len).ok()?;
            (u32::from_le_bytes(len) as usize, 12)
        }
        _ => return None,
    };
    let mut header = Vec::new();
    reader.take(len as u64).read_to_end(&mut header).ok()?;
    let header = String::from_utf8(header).ok().filter(|h| h.len() == len)?;
    Some((header, (start + len) as u64))
}

/// Writes an int64 matrix (`rows × cols`), row-major.
pub fn write_i64(path: &Path, rows: usize, cols: usize, data: &[i64]) -> Result<()> {
    let dict = format!("{{'descr': '<i8', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    let mut header = dict.into_bytes();
    let total = (10 + header.len() + 1).div_ceil(64) * 64;
    header.resize(total - 10 - 1, b' ');
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let partial = path.with_extension("npy.partial");
    let mut f = fs::File::create(&partial).with_context(|| format!("cannot write {}", partial.display()))?;
    f.write_all(&out)?;
    f.sync_all()?;
    fs::rename(&partial, path).with_context(|| format!("cannot write {}", path.display()))
}

fn field(header: &str, key: &str) -> Option<String> {
    let rest = header.get(header.find(&format!("'{key}'"))? + key.len() + 2..)?;
    let rest = rest[rest.find('\'')? + 1..].to_string();
    Some(rest[..rest.find('\'')?].to_string())
}

fn shape(header: &str) -> Option<Vec<usize>> {
    let rest = &header[header.find("'shape'")?..];
    let open = rest.find('(')? + 1;
    let inner = rest.get(open..open + rest[open..].find(')')?)?;
    inner.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 2 × 3 float32 file as numpy writes it, with `shape` in its header.
    fn npy(shape: &str) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}").into_bytes();
        header.resize(117, b' ');
        header.push(b'\n');
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&header);
        for v in [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes
    }

    /// Found by `mutated_files_never_panic`: a `)` before the shape's `(` panicked.
    #[test]
    fn a_parenthesis_closed_before_the_shape_opens_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.npy");
        let mut bytes = npy("(2, 3)");
        let header = String::from_utf8_lossy(&bytes[10..]).into_owned();
        let at = 10 + header.find("'shape'").unwrap() + "'shape'".len();
        bytes[at] = b')';
        fs::write(&path, &bytes).unwrap();
        // The first parenthesised list after the key is the shape.
        assert_eq!(read_f32(&path).unwrap().rows, 2);
    }

    /// Found by `mutated_files_never_panic`: a shape whose size overflows panicked.
    #[test]
    fn a_shape_whose_size_overflows_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.npy");
        fs::write(&path, npy("(4294967296, 4294967296)")).unwrap();
        assert!(read_f32(&path).unwrap_err().to_string().contains("more values"));
    }

    #[test]
    fn mutated_files_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.npy");
        let good = npy("(2, 3)");
        let mut state = 0x1234_5678u64;
        let mut next = move |n: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % n.max(1)
        };
        const DIGITS: &[u8] = b"0123456789(), '<f8i4";
        for _ in 0..5000 {
            let mut bytes = good.clone();
            for _ in 0..1 + next(4) {
                let at = next(bytes.len());
                match next(4) {
                    0 => bytes[at] ^= 1 << next(8),
                    1 => bytes[at] = DIGITS[next(DIGITS.len())],
                    2 => bytes.truncate(at),
                    _ => bytes.insert(at, DIGITS[next(DIGITS.len())]),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            fs::write(&path, &bytes).unwrap();
            let _ = read_f32(&path);
        }
    }

    #[test]
    fn reads_what_numpy_writes_and_names_problems() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.npy");
        let bytes = npy("(2, 3)");
        fs::write(&path, &bytes).unwrap();
        let m = read_f32(&path).unwrap();
        assert_eq!((m.rows, m.cols, m.row(1)), (2, 3, &[4.0, 5.0, 6.0][..]));
        fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        assert!(read_f32(&path).unwrap_err().to_string().contains("truncated"));
        fs::write(&path, [&bytes[..], &[0; 4]].concat()).unwrap();
        assert!(read_f32(&path).unwrap_err().to_string().contains("28 data bytes"));
        // Larger than one block of reading, as float64.
        let rows = 3000;
        let header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, 7), }}");
        let mut big = b"\x93NUMPY\x01\x00".to_vec();
        big.extend_from_slice(&(header.len() as u16).to_le_bytes());
        big.extend_from_slice(header.as_bytes());
        big.extend((0..rows * 7).flat_map(|i| (i as f64 * 0.5).to_le_bytes()));
        fs::write(&path, &big).unwrap();
        let m = read_f32(&path).unwrap();
        assert_eq!((m.rows, m.cols, m.row(rows - 1)[6]), (rows, 7, (rows * 7 - 1) as f32 * 0.5));

        let ids = dir.path().join("ids.npy");
        write_i64(&ids, 1, 2, &[7, -1]).unwrap();
        let raw = fs::read(&ids).unwrap();
        assert_eq!(raw.len() % 64, 16);
        assert!(std::str::from_utf8(&raw[10..raw.len() - 16]).unwrap().contains("'<i8'"));
    }
}
