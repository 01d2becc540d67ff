//! The text index saved beside the snapshot (`text.idx`), so that opening a collection reads its
//! postings instead of analysing every item again. Written aside, synced and renamed; tagged
//! with the snapshot's log position and its settings, and read back only when both match.
//!
//! ```text
//! file   = magic "KINTEXT2" | body | crc32(body): u32          (little endian)
//! body   = lsn: u64 | settings: u32-len JSON | slots: u32 | live: slots × u8
//!          | slots × (first slot of its document: u32 | characters of overlap: u32)
//!          | terms: u32 | terms × (u32-len utf-8)
//!          | fields: u32 | fields × field
//! field  = docs: u32 | total_len: u64 | lens: slots × u32 | df: terms × u32
//!          | terms × (count: u32 | count × (slot: u32 | tf: u32))
//! ```

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

use kin_core::fault;

use super::{Analyzer, Field, Posting, TextIndex};
use crate::config::TextConfig;
use crate::{Error, Result};

/// Version 2: English terms are Porter's stems (version 1 held Snowball's, so its postings are
/// read again from the items).
const MAGIC: &[u8; 8] = b"KINTEXT2";
const OLDER: &[u8; 8] = b"KINTEXT1";

impl TextIndex {
    /// Writes the index to `path` (via `path.partial`), tagged with `lsn`.
    pub(crate) fn save(&self, path: &Path, lsn: u64) -> Result<()> {
        let mut body = Vec::new();
        let u32s = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
        body.extend_from_slice(&lsn.to_le_bytes());
        let settings = serde_json::to_vec(&self.config).unwrap_or_default();
        u32s(&mut body, settings.len() as u32);
        body.extend_from_slice(&settings);
        u32s(&mut body, self.live.len() as u32);
        body.extend(self.live.iter().map(|&l| u8::from(l)));
        for s in 0..self.live.len() {
            u32s(&mut body, self.group[s]);
            u32s(&mut body, self.skip[s]);
        }
        let mut terms: Vec<&str> = vec![""; self.terms.len()];
        for (t, &id) in &self.terms {
            terms[id as usize] = t;
        }
        u32s(&mut body, terms.len() as u32);
        for t in &terms {
            u32s(&mut body, t.len() as u32);
            body.extend_from_slice(t.as_bytes());
        }
        u32s(&mut body, self.fields.len() as u32);
        for f in &self.fields {
            u32s(&mut body, f.docs);
            body.extend_from_slice(&f.total_len.to_le_bytes());
            for s in 0..self.live.len() {
                u32s(&mut body, f.lens.get(s).copied().unwrap_or(0));
            }
            for id in 0..terms.len() {
                u32s(&mut body, f.df.get(id).copied().unwrap_or(0));
            }
            for id in 0..terms.len() {
                let list = f.postings.get(id).map_or(&[][..], Vec::as_slice);
                u32s(&mut body, list.len() as u32);
                for p in list {
                    u32s(&mut body, p.slot);
                    u32s(&mut body, p.tf);
                }
            }
        }
        let partial = path.with_extension("idx.partial");
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&partial)?;
            file.write_all(MAGIC)?;
            file.write_all(&body)?;
            fault::io_point("text.write")?;
            file.write_all(&crc32fast::hash(&body).to_le_bytes())?;
            fault::io_point("text.sync")?;
            file.sync_all()
        };
        if let Err(e) = write() {
            // A full disk: leave no half file taking the space that is left.
            let _ = fs::remove_file(&partial);
            return Err(Error::io(&partial, e));
        }
        fault::crash_point("text.partial");
        fs::rename(&partial, path).map_err(|e| Error::io(path, e))?;
        fault::crash_point("text.renamed");
        crate::snapshot::sync_dir(path.parent().unwrap_or(Path::new(".")))
    }

    /// The index saved at `path` when it was saved at `lsn` with `config` for `slots` slots;
    /// `Ok(None)` when there is no file or it is of another snapshot or settings, an error when
    /// it is damaged.
    pub(crate) fn load(path: &Path, lsn: u64, config: &TextConfig, slots: usize) -> Result<Option<TextIndex>> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        let corrupt = |message: &str| Error::Corrupt { path: path.to_path_buf(), message: message.to_string() };
        if bytes.starts_with(OLDER) {
            tracing::info!(path = %path.display(), "the text index was saved by an older kin: it is built again");
            return Ok(None);
        }
        if bytes.len() < MAGIC.len() + 12 || &bytes[..8] != MAGIC {
            return Err(corrupt("not a kin text index file (or an older format)"));
        }
        let (body, crc) = bytes[8..].split_at(bytes.len() - 12);
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err(corrupt("checksum mismatch"));
        }
        let mut r = Reader { buf: body, pos: 0 };
        let truncated = || corrupt("truncated");
        if r.u64().ok_or_else(truncated)? != lsn {
            return Ok(None);
        }
        let settings = r.bytes().ok_or_else(truncated)?;
        if serde_json::from_slice::<TextConfig>(settings).ok().as_ref() != Some(config) {
            return Ok(None);
        }
        let n = r.u32().ok_or_else(truncated)? as usize;
        if n != slots {
            return Ok(None);
        }
        let live: Vec<bool> = r.take(n).ok_or_else(truncated)?.iter().map(|&b| b != 0).collect();
        let places = r.u32s(n.checked_mul(2).ok_or_else(truncated)?).ok_or_else(truncated)?;
        let (group, skip): (Vec<u32>, Vec<u32>) = places.chunks_exact(2).map(|p| (p[0], p[1])).unzip();
        if group.iter().enumerate().any(|(s, &first)| first as usize > s) {
            return Err(corrupt("a document starts after one of its slots"));
        }
        let n_terms = r.u32().ok_or_else(truncated)? as usize;
        let mut terms = HashMap::with_capacity(n_terms.min(1 << 24));
        for id in 0..n_terms {
            let t =
                std::str::from_utf8(r.bytes().ok_or_else(truncated)?).map_err(|_| corrupt("a term is not UTF-8"))?;
            terms.insert(t.into(), id as u32);
        }
        let n_fields = r.u32().ok_or_else(truncated)? as usize;
        if n_fields != config.fields.len() {
            return Err(corrupt("field count differs from the settings"));
        }
        let mut fields = Vec::with_capacity(n_fields);
        for _ in 0..n_fields {
            let docs = r.u32().ok_or_else(truncated)?;
            let total_len = r.u64().ok_or_else(truncated)?;
            let lens = r.u32s(n).ok_or_else(truncated)?;
            let df = r.u32s(n_terms).ok_or_else(truncated)?;
            let mut postings = Vec::with_capacity(n_terms);
            for _ in 0..n_terms {
                let count = r.u32().ok_or_else(truncated)? as usize;
                let pairs = r.u32s(count.checked_mul(2).ok_or_else(truncated)?).ok_or_else(truncated)?;
                let list: Vec<Posting> = pairs.chunks_exact(2).map(|p| Posting { slot: p[0], tf: p[1] }).collect();
                if list.iter().any(|p| p.slot as usize >= n) {
                    return Err(corrupt("a posting names a slot past the end"));
                }
                postings.push(list);
            }
            fields.push(Field { postings, df, lens, docs, total_len });
        }
        if r.pos != body.len() {
            return Err(corrupt("unexpected bytes after the last field"));
        }
        Ok(Some(TextIndex {
            analyzer: Analyzer::new(config.language, config.stem, config.stop_words),
            config: config.clone(),
            terms,
            fields,
            live,
            group,
            skip,
            last: None,
            documents: OnceLock::new(),
        }))
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn u32s(&mut self, n: usize) -> Option<Vec<u32>> {
        let raw = self.take(n.checked_mul(4)?)?;
        Some(raw.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn saved_indexes_read_back_equal_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("text.idx");
        let config = TextConfig::default();
        let mut t = TextIndex::new(&config);
        for (slot, text) in ["alpha beta", "beta gamma gamma", "délta"].iter().enumerate() {
            t.add(slot as u32, &json!({ "title": "t", "text": text }));
        }
        t.save(&path, 9).unwrap();
        let back = TextIndex::load(&path, 9, &config, 3).unwrap().unwrap();
        for q in ["beta", "gamma alpha", "délta t"] {
            assert_eq!(back.search(q, 5, None).unwrap(), t.search(q, 5, None).unwrap(), "{q}");
        }
        assert!(TextIndex::load(&path, 10, &config, 3).unwrap().is_none(), "another snapshot");
        assert!(TextIndex::load(&path, 9, &TextConfig { k1: 0.9, ..config.clone() }, 3).unwrap().is_none());
        assert!(TextIndex::load(&dir.path().join("none.idx"), 9, &config, 3).unwrap().is_none());
        let bytes = fs::read(&path).unwrap();
        for at in [3, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            fs::write(&path, &bad).unwrap();
            assert!(TextIndex::load(&path, 9, &config, 3).is_err(), "a flip at {at}");
        }
        fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
        assert!(TextIndex::load(&path, 9, &config, 3).is_err());
    }
}
