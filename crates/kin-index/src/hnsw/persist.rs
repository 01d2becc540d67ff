//! One file per index: header, optional quantizer, then every node (state, vector, code, lists),
//! then the CRC32 of all of it.
//!
//! ```text
//! magic "KIN-HNSW" | version u32 | dim u32 | metric u8 | flags u8 | reserved u16
//! m u32 | ef_construction u32 | seed u64 | train_size u64 | tag u64
//! nodes u32 | entry id u32 | entry level u32
//! [quantizer: min f32 × dim, max f32 × dim]
//! per node: state u8 | [vector f32 × dim] | [code i8 × dim, l2 term f32] | per layer 0..=level: count u32, ids u32 × count
//! crc32 u32
//! ```
//!
//! All numbers are little-endian. [`HnswIndex::save`] keeps the vectors in the file;
//! [`HnswIndex::save_graph`] leaves them out for an owner that stores them elsewhere (a
//! collection's snapshot) and gives them back to [`HnswIndex::load_graph`], with a tag of its
//! choosing (the snapshot's log position) that tells the two files belong together. Both write
//! `<path>.partial`, sync it, rename it over `path` and sync the directory, so a crash leaves the
//! old file or the new one, never half.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use kin_core::{fault, Metric};

use super::codes::CodeStore;
use super::graph::{level_of, state, MAX_LEVEL};
use super::{HnswIndex, HnswParams, Quantization};
use crate::checksum::{Decoder, Encoder};
use crate::quantize::Int8Quantizer;
use crate::validate::check_dim;
use crate::{Error, Result};

const MAGIC: &[u8; 8] = b"KIN-HNSW";
const VERSION: u32 = 2;
const HAS_CODES: u8 = 0b001;
const HAS_QUANTIZER: u8 = 0b010;
const HAS_VECTORS: u8 = 0b100;
const NO_ENTRY: u32 = u32::MAX;
/// State bits that are saved; `CLAIMED` is restored from `CODED`.
const SAVED_STATE: u8 = state::LEVEL | state::READY | state::CODED | state::DELETED;

fn metric_code(metric: Metric) -> u8 {
    match metric {
        Metric::Cosine => 0,
        Metric::Dot => 1,
        Metric::L2 => 2,
    }
}

fn metric_from(code: u8) -> Option<Metric> {
    [Metric::Cosine, Metric::Dot, Metric::L2].get(usize::from(code)).copied()
}

/// `<path>.partial`, beside `path`.
fn partial_path(path: &Path) -> Result<PathBuf> {
    let Some(name) = path.file_name() else {
        let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "an index file needs a file name");
        return Err(Error::io(path, source));
    };
    let mut partial = name.to_os_string();
    partial.push(".partial");
    Ok(path.with_file_name(partial))
}

impl HnswIndex {
    /// Writes the index to `path` atomically. Inserts and deletes wait while it runs; searches
    /// do not.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.save_to(path.as_ref(), true, 0)
    }

    /// Writes the graph, levels, quantizer and codes to `path` atomically, without the vectors;
    /// [`HnswIndex::load_graph`] reads it back given the same vectors and returns `tag`.
    pub fn save_graph(&self, path: impl AsRef<Path>, tag: u64) -> Result<()> {
        self.save_to(path.as_ref(), false, tag)
    }

    fn save_to(&self, path: &Path, with_vectors: bool, tag: u64) -> Result<()> {
        let partial = partial_path(path)?;
        let _exclusive = self.writers.write();
        let written = Encoder::create(&partial).and_then(|mut out| {
            self.encode(&mut out, with_vectors, tag)?;
            fault::io_point("index.write").map_err(|e| Error::io(&partial, e))?;
            out.finish()
        });
        if let Err(error) = written {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
        fault::crash_point("index.partial");
        std::fs::rename(&partial, path).map_err(|e| Error::io(path, e))?;
        fault::crash_point("index.renamed");
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))?;
        tracing::debug!(path = %path.display(), nodes = self.id_bound(), "hnsw index saved");
        Ok(())
    }

    fn encode(&self, out: &mut Encoder, with_vectors: bool, tag: u64) -> Result<()> {
        let nodes = self.id_bound();
        let quantizer = self.quantizer();
        let flags = if self.codes.is_some() { HAS_CODES } else { 0 }
            | if quantizer.is_some() { HAS_QUANTIZER } else { 0 }
            | if with_vectors { HAS_VECTORS } else { 0 };
        let train_size = self.codes.as_ref().map_or(0, CodeStore::train_size);
        let (entry, entry_level) = self.graph.entry().map_or((NO_ENTRY, NO_ENTRY), |(id, level)| (id, level as u32));

        out.bytes(MAGIC)?;
        out.u32(VERSION)?;
        out.u32(self.dim as u32)?;
        out.u8(metric_code(self.metric))?;
        out.u8(flags)?;
        out.bytes(&[0, 0])?;
        out.u32(self.params.m as u32)?;
        out.u32(self.params.ef_construction as u32)?;
        out.u64(self.params.seed)?;
        out.u64(train_size as u64)?;
        out.u64(tag)?;
        out.u32(nodes)?;
        out.u32(entry)?;
        out.u32(entry_level)?;
        if let Some(q) = quantizer {
            q.min().iter().chain(q.max()).try_for_each(|&x| out.f32(x))?;
        }

        let mut bytes = Vec::with_capacity(self.dim * 4);
        let mut list = Vec::new();
        for id in 0..nodes {
            let s = self.graph.state(id) & SAVED_STATE;
            out.u8(s)?;
            if with_vectors {
                bytes.clear();
                for x in self.vectors.to_vec(id).unwrap_or_else(|| vec![0.0; self.dim]) {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
                out.bytes(&bytes)?;
            }
            if s & state::CODED != 0 {
                let (code, term) = self.codes.as_ref().and_then(|c| c.get(id)).unwrap_or((&[], 0.0));
                bytes.clear();
                bytes.extend(code.iter().map(|c| c.load(Ordering::Relaxed) as u8));
                bytes.resize(self.dim, 0);
                out.bytes(&bytes)?;
                out.f32(term)?;
            }
            for layer in 0..=level_of(s) {
                self.graph.neighbors(id, layer, &mut list);
                list.retain(|&n| n < nodes);
                out.u32(list.len() as u32)?;
                list.iter().try_for_each(|&n| out.u32(n))?;
            }
        }
        Ok(())
    }

    /// Reads an index written by [`HnswIndex::save`]. A truncated, corrupt or foreign file is an
    /// error naming the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        HnswIndex::load_from(path.as_ref(), None).map(|(index, _)| index)
    }

    /// Reads a file written by [`HnswIndex::save_graph`], with `vectors` (one row of the index's
    /// dimension per node, in id order, as the index stored them) in place of the ones it left
    /// out; returns the index and the file's tag. A file that does not fit the vectors is
    /// refused, as a truncated, corrupt or foreign one is.
    pub fn load_graph(path: impl AsRef<Path>, vectors: &[f32]) -> Result<(Self, u64)> {
        HnswIndex::load_from(path.as_ref(), Some(&mut Rows::Given(vectors)))
    }

    /// As [`HnswIndex::load_graph`], the `rows` vectors asked for one at a time, in id order:
    /// `next` fills the row and says whether it could (when it could not, the load stops with
    /// [`Error::Source`], and the caller knows why). Nothing holds all the vectors but the index.
    pub fn load_graph_each(
        path: impl AsRef<Path>,
        rows: usize,
        next: &mut dyn FnMut(&mut [f32]) -> bool,
    ) -> Result<(Self, u64)> {
        HnswIndex::load_from(path.as_ref(), Some(&mut Rows::Each { rows, next }))
    }

    fn load_from(path: &Path, vectors: Option<&mut Rows<'_>>) -> Result<(Self, u64)> {
        let mut input = Decoder::open(path)?;
        let loaded = HnswIndex::decode(&mut input, vectors)?;
        input.finish()?;
        let index = &loaded.0;
        tracing::debug!(path = %path.display(), nodes = index.id_bound(), live = index.len(), "hnsw index loaded");
        Ok(loaded)
    }

    fn decode(input: &mut Decoder, vectors: Option<&mut Rows<'_>>) -> Result<(Self, u64)> {
        let mut magic = [0u8; 8];
        input.fill(&mut magic).map_err(|_| input.corrupt("too short for a kin HNSW index"))?;
        if &magic != MAGIC {
            return Err(input.corrupt("not a kin HNSW index (bad magic)"));
        }
        let version = input.u32()?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                path: input.path().to_path_buf(),
                found: version,
                supported: VERSION,
            });
        }
        let dim = input.u32()? as usize;
        check_dim(dim).map_err(|e| input.corrupt(e.to_string()))?;
        let metric = input.u8()?;
        let metric = metric_from(metric).ok_or_else(|| input.corrupt(format!("unknown metric code {metric}")))?;
        let flags = input.u8()?;
        input.fill(&mut [0u8; 2])?;
        let m = input.u32()? as usize;
        let ef_construction = input.u32()? as usize;
        let seed = input.u64()?;
        let train_size = input.u64()? as usize;
        let tag = input.u64()?;
        let nodes = input.u32()?;
        let entry = (input.u32()?, input.u32()?);
        let inline = flags & HAS_VECTORS != 0;
        match vectors.as_deref().map(|rows| rows.values(dim)) {
            None if !inline => return Err(input.corrupt("holds no vectors (it is loaded with its owner's)")),
            Some(_) if inline => return Err(input.corrupt("holds its own vectors (it is loaded alone)")),
            Some(values) if values != nodes as usize * dim => {
                return Err(input.corrupt(format!(
                    "holds {nodes} nodes of dimension {dim}, but {values} values were given for them"
                )))
            }
            _ => {}
        }

        let quantization = if flags & HAS_CODES != 0 && train_size > 0 {
            Quantization::Int8 { train_size }
        } else {
            Quantization::None
        };
        let params = HnswParams { m, ef_construction, seed, quantization };
        params.validate().map_err(|e| input.corrupt(e.to_string()))?;
        let smallest_node = 1 + if inline { 4 * dim as u64 } else { 0 } + 4;
        if u64::from(nodes) * smallest_node > input.body_len() {
            return Err(
                input.corrupt(format!("declares {nodes} nodes, more than its {} bytes can hold", input.body_len()))
            );
        }
        let quantizer = if flags & HAS_QUANTIZER != 0 {
            let mut bounds = vec![0.0f32; 2 * dim];
            for x in &mut bounds {
                *x = input.f32()?;
            }
            let max = bounds.split_off(dim);
            Some(Int8Quantizer::new(bounds, max).map_err(|e| input.corrupt(format!("quantizer: {e}")))?)
        } else {
            None
        };
        let codes = (flags & HAS_CODES != 0).then(|| CodeStore::new(dim, train_size, None));
        let mut index = HnswIndex::assemble(dim, metric, params, codes)?;
        if let (Some(codes), Some(q)) = (&index.codes, quantizer) {
            codes.restore_quantizer(q);
        }
        index.decode_nodes(input, nodes, vectors)?;
        if let Some(codes) = index.codes.as_ref().filter(|c| c.quantizer().is_some()) {
            // Nodes saved without a code (none, normally) get one now.
            for id in 0..nodes {
                if index.graph.state(id) & (state::READY | state::CODED) == state::READY {
                    index.code_node(codes, id);
                }
            }
        }

        match entry {
            (NO_ENTRY, NO_ENTRY) => {}
            (id, level) if id < nodes && level as usize == level_of(index.graph.state(id)) => {
                index.graph.set_entry(id, level as usize);
            }
            (id, level) => return Err(input.corrupt(format!("entry point {id} at level {level} does not exist"))),
        }
        Ok((index, tag))
    }

    /// Reads every node into an index no one else holds yet (so its vectors are written as plain
    /// memory, not value by value as a shared index must).
    fn decode_nodes(&mut self, input: &mut Decoder, nodes: u32, mut given: Option<&mut Rows<'_>>) -> Result<()> {
        let mut bytes = vec![0u8; self.dim * 4];
        let mut vector = vec![0.0f32; self.dim];
        let mut code = vec![0i8; self.dim];
        let (mut list, mut links) = (Vec::new(), Vec::new());
        let (mut stored, mut deleted) = (0usize, 0usize);
        for id in 0..nodes {
            let s = input.u8()?;
            if s & !SAVED_STATE != 0 || level_of(s) > MAX_LEVEL {
                return Err(input.corrupt(format!("node {id}: invalid state byte {s:#04x}")));
            }
            self.graph.init_node(id, level_of(s)).map_err(|e| input.corrupt(format!("node {id}: {e}")))?;
            match given.as_deref_mut() {
                Some(Rows::Given(rows)) => {
                    let start = id as usize * self.dim;
                    self.vectors.write_unshared(id, &rows[start..start + self.dim]);
                }
                Some(Rows::Each { next, .. }) => {
                    if !next(&mut vector) {
                        return Err(Error::Source { node: id });
                    }
                    self.vectors.write_unshared(id, &vector);
                }
                None => {
                    input.fill(&mut bytes)?;
                    for (x, &chunk) in vector.iter_mut().zip(bytes.as_chunks::<4>().0) {
                        *x = f32::from_le_bytes(chunk);
                    }
                    self.vectors.write_unshared(id, &vector);
                }
            }
            if s & state::CODED != 0 {
                let Some(codes) = &self.codes else {
                    return Err(input.corrupt(format!("node {id} has a code but the index keeps none")));
                };
                input.fill(&mut bytes[..self.dim])?;
                for (c, &b) in code.iter_mut().zip(&bytes[..self.dim]) {
                    *c = b as i8;
                }
                codes.write(id, &code, input.f32()?);
            }
            for layer in 0..=level_of(s) {
                let count = input.u32()? as usize;
                if count > self.graph.capacity(layer) {
                    return Err(input.corrupt(format!("node {id} has {count} links on layer {layer}")));
                }
                links.resize(4 * count, 0);
                input.fill(&mut links)?;
                list.clear();
                for &link in links.as_chunks::<4>().0 {
                    let n = u32::from_le_bytes(link);
                    if n >= nodes {
                        return Err(input.corrupt(format!("node {id} links to node {n} of {nodes}")));
                    }
                    list.push(n);
                }
                self.graph.set_neighbors(id, layer, &list);
            }
            let claimed = if s & state::CODED != 0 { state::CLAIMED } else { 0 };
            self.graph.set_flags(id, s | claimed);
            stored += usize::from(s & state::READY != 0);
            deleted += usize::from(s & state::READY != 0 && s & state::DELETED != 0);
        }
        self.next_id.store(nodes, Ordering::Release);
        self.stored.store(stored, Ordering::Release);
        self.deleted.store(deleted, Ordering::Release);
        Ok(())
    }
}

/// The vectors a graph saved without them is loaded with.
enum Rows<'a> {
    /// Every row, end to end.
    Given(&'a [f32]),
    /// `rows` rows, each filled by `next` in turn.
    Each { rows: usize, next: &'a mut dyn FnMut(&mut [f32]) -> bool },
}

impl Rows<'_> {
    /// How many values there are, for rows of `dim`.
    fn values(&self, dim: usize) -> usize {
        match self {
            Rows::Given(rows) => rows.len(),
            Rows::Each { rows, .. } => rows * dim,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_paths() {
        for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
            assert_eq!(metric_from(metric_code(metric)), Some(metric));
        }
        assert_eq!(metric_from(3), None);
        assert!(partial_path(Path::new("/tmp/a.idx")).is_ok_and(|p| p == Path::new("/tmp/a.idx.partial")));
        assert!(matches!(partial_path(Path::new("/")), Err(Error::Io { .. })));
    }

    #[test]
    fn round_trip_keeps_everything() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("small.hnsw");
        let params = HnswParams { m: 4, quantization: Quantization::Int8 { train_size: 50 }, ..HnswParams::default() };
        let flat: Vec<f32> = (0..400).flat_map(|i| [(i % 20) as f32, (i / 20) as f32, 1.0]).collect();
        let index = HnswIndex::build(3, Metric::L2, params, &flat)?;
        index.delete(7)?;
        index.save(&path)?;
        assert!(!dir.path().join("small.hnsw.partial").exists());
        let back = HnswIndex::load(&path)?;
        assert_eq!((back.len(), back.id_bound(), back.params()), (index.len(), index.id_bound(), index.params()));
        assert_eq!(back.quantizer(), index.quantizer());
        assert_eq!(back.graph.entry(), index.graph.entry());
        for id in 0..400 {
            assert_eq!(back.graph.state(id), index.graph.state(id), "node {id}");
            assert_eq!(back.vector(id), index.vector(id));
        }
        for q in [[3.0, 4.0, 1.0], [19.0, 0.0, 0.5]] {
            assert_eq!(back.search(&q, 5, 32, None)?, index.search(&q, 5, 32, None)?);
        }
        back.insert(&[1.0, 1.0, 1.0])?;
        assert_eq!(back.len(), index.len() + 1);
        Ok(())
    }

    #[test]
    fn graph_files_take_their_vectors_from_the_owner() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("graph.hnsw");
        let flat: Vec<f32> = (0..300).flat_map(|i| [(i % 17) as f32, (i / 17) as f32, 1.0, 0.5]).collect();
        let index = HnswIndex::build(4, Metric::Cosine, HnswParams { m: 6, ..HnswParams::default() }, &flat)?;
        index.delete(11)?;
        index.save_graph(&path, 77)?;
        let whole = dir.path().join("whole.hnsw");
        index.save(&whole)?;
        let saved_len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        assert!(saved_len(&path) + 300 * 16 <= saved_len(&whole), "the graph file leaves the vectors out");

        let stored: Vec<f32> = (0..300).flat_map(|id| index.vector(id).unwrap_or_default()).collect();
        let (back, tag) = HnswIndex::load_graph(&path, &stored)?;
        assert_eq!((tag, back.len(), back.id_bound()), (77, index.len(), index.id_bound()));
        for id in 0..300 {
            assert_eq!((back.graph.state(id), back.vector(id)), (index.graph.state(id), index.vector(id)));
        }
        let q = [3.0, 4.0, 1.0, 0.5];
        assert_eq!(back.search(&q, 5, 32, None)?, index.search(&q, 5, 32, None)?);

        let refused = |r: Result<(HnswIndex, u64)>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused(HnswIndex::load_graph(&path, &stored[..stored.len() - 4])).contains("values were given"));
        assert!(refused(HnswIndex::load_graph(&whole, &stored)).contains("holds its own vectors"));
        assert!(HnswIndex::load(&path).is_err_and(|e| e.to_string().contains("holds no vectors")));
        Ok(())
    }

    #[test]
    fn an_older_version_is_named() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("old.hnsw");
        HnswIndex::new(2, Metric::L2, HnswParams::default())?.save(&path)?;
        let mut bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        std::fs::write(&path, &bytes).map_err(|e| Error::io(&path, e))?;
        assert!(matches!(HnswIndex::load(&path), Err(Error::UnsupportedVersion { found: 1, supported: 2, .. })));
        Ok(())
    }

    #[test]
    fn empty_index_round_trips() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("empty.hnsw");
        HnswIndex::new(8, Metric::Dot, HnswParams::default())?.save(&path)?;
        let back = HnswIndex::load(&path)?;
        assert!(back.is_empty() && back.dim() == 8 && back.metric() == Metric::Dot);
        Ok(())
    }
}
