//! `TextIndex`: a collection's full-text index, BM25 over chosen payload fields. It is part of
//! the collection's state: built from the snapshot's items on open and kept in step by the same
//! records that change the vectors, so after a crash it holds exactly what the log holds.
//!
//! Each field is indexed on its own (its own lengths and document frequencies) and a query
//! scores a slot as Elasticsearch's `best_fields` multi-match does, which is how BEIR's BM25
//! baseline queries title and text: the best field's score plus `tie_breaker` times the others'.

mod analyzer;
mod persist;
mod porter;

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

pub use analyzer::{Analyzer, Language};

use crate::config::TextConfig;
use crate::{Error, Result};

/// Most terms (after analysis) one text query may hold.
pub const MAX_QUERY_TERMS: usize = 4096;

#[derive(Clone, Copy)]
struct Posting {
    slot: u32,
    tf: u32,
}

#[derive(Clone, Default)]
struct Field {
    /// By term id: the slots holding the term, in slot order, deleted ones until compaction.
    postings: Vec<Vec<Posting>>,
    /// By term id: live slots holding the term.
    df: Vec<u32>,
    /// By slot: the field's length in terms (0: the slot has no such field).
    lens: Vec<u32>,
    /// Live slots with the field, and their summed lengths.
    docs: u32,
    total_len: u64,
}

/// The payload field a chunk's own text is in; `char_start` and `char_end` place it in its
/// document's text.
const CHUNK_TEXT: &str = "text";

pub struct TextIndex {
    config: TextConfig,
    analyzer: Analyzer,
    terms: HashMap<Box<str>, u32>,
    fields: Vec<Field>,
    /// By slot: whether the slot is indexed and not deleted.
    live: Vec<bool>,
    /// By slot: the first slot of its document (the slot itself unless it is a later chunk of
    /// the document the slot before it holds).
    group: Vec<u32>,
    /// By slot: the characters at the start of its `text` that the chunk before it already
    /// holds (their overlap), left out so that a document's chunks hold its text once.
    skip: Vec<u32>,
    /// The last slot added, its document and where its text ends in the document's (characters).
    last: Option<(u32, String, u64)>,
    /// Per field, each document's statistics, worked out from the slots' when first asked for
    /// after a change.
    documents: OnceLock<Vec<DocumentStats>>,
}

/// A field's statistics over documents (a document: a slot and the later chunks of its
/// document), as a whole-document index would have them.
struct DocumentStats {
    /// By first slot: the document's length in the field (the chunks' summed for `text`, the
    /// first chunk's for the others); 0 elsewhere.
    lens: Vec<u32>,
    docs: u32,
    total_len: u64,
}

impl TextIndex {
    pub fn new(config: &TextConfig) -> Self {
        TextIndex {
            analyzer: Analyzer::new(config.language, config.stem, config.stop_words),
            config: config.clone(),
            terms: HashMap::new(),
            fields: vec![Field::default(); config.fields.len()],
            live: Vec::new(),
            group: Vec::new(),
            skip: Vec::new(),
            last: None,
            documents: OnceLock::new(),
        }
    }

    /// The first slot of `slot`'s document (`slot` itself when it is not a later chunk).
    pub fn document_of(&self, slot: u32) -> u32 {
        self.group.get(slot as usize).copied().unwrap_or(slot)
    }

    /// Where `slot`'s document starts and how much of its text an earlier chunk holds.
    fn place(&mut self, slot: u32, payload: &Value) -> (u32, u32) {
        let doc = payload.get("doc").and_then(Value::as_str);
        let chunk = payload.get("chunk").and_then(Value::as_u64).unwrap_or(0);
        let start = payload.get("char_start").and_then(Value::as_u64).unwrap_or(0);
        let end = payload.get("char_end").and_then(Value::as_u64);
        let place = match (&self.last, doc) {
            (Some((prev, key, prev_end)), Some(doc)) if chunk > 0 && prev + 1 == slot && key == doc => {
                (self.group[*prev as usize], u32::try_from(prev_end.saturating_sub(start)).unwrap_or(u32::MAX))
            }
            _ => (slot, 0),
        };
        self.last = doc.zip(end).map(|(doc, end)| (slot, doc.to_string(), end));
        place
    }

    /// The texts of field `f` of a payload, the chunk's overlap with the one before left out.
    fn texts<'a>(&self, payload: &'a Value, f: usize, skip: u32) -> impl Iterator<Item = &'a str> {
        let name = &self.config.fields[f];
        let skip = if name == CHUNK_TEXT { skip as usize } else { 0 };
        field_texts(payload, name).map(move |text| match text.char_indices().nth(skip) {
            _ if skip == 0 => text,
            Some((at, _)) => &text[at..],
            None => "",
        })
    }

    /// Indexes the payload of `slot`, a slot after every slot indexed before.
    pub fn add(&mut self, slot: u32, payload: &Value) {
        let s = slot as usize;
        if self.live.len() <= s {
            self.live.resize(s + 1, false);
            self.group.resize(s + 1, 0);
            self.skip.resize(s + 1, 0);
        }
        self.live[s] = true;
        (self.group[s], self.skip[s]) = self.place(slot, payload);
        self.documents = OnceLock::new();
        let mut counts: HashMap<u32, u32> = HashMap::new();
        for f in 0..self.fields.len() {
            counts.clear();
            let mut len = 0u32;
            let texts: Vec<&str> = self.texts(payload, f, self.skip[s]).collect();
            for text in texts {
                let terms = &mut self.terms;
                self.analyzer.terms(text, |t| {
                    let next = terms.len() as u32;
                    let id = *terms.entry(t.into()).or_insert(next);
                    *counts.entry(id).or_insert(0) += 1;
                    len += 1;
                });
            }
            let field = &mut self.fields[f];
            if field.lens.len() <= s {
                field.lens.resize(s + 1, 0);
            }
            if len == 0 {
                continue;
            }
            field.lens[s] = len;
            field.docs += 1;
            field.total_len += u64::from(len);
            let terms = self.terms.len();
            if field.postings.len() < terms {
                field.postings.resize_with(terms, Vec::new);
                field.df.resize(terms, 0);
            }
            for (&id, &tf) in &counts {
                field.postings[id as usize].push(Posting { slot, tf });
                field.df[id as usize] += 1;
            }
        }
    }

    /// Takes `slot` (whose payload was `payload`) out of the statistics; its postings go at the
    /// next compaction.
    pub fn remove(&mut self, slot: u32, payload: &Value) {
        let s = slot as usize;
        if !self.live.get(s).copied().unwrap_or(false) {
            return;
        }
        self.live[s] = false;
        self.documents = OnceLock::new();
        let mut seen: Vec<u32> = Vec::new();
        for f in 0..self.fields.len() {
            if self.fields[f].lens[s] == 0 {
                continue;
            }
            seen.clear();
            for text in self.texts(payload, f, self.skip[s]) {
                self.analyzer.terms(text, |t| {
                    if let Some(&id) = self.terms.get(t) {
                        seen.push(id);
                    }
                });
            }
            seen.sort_unstable();
            seen.dedup();
            let field = &mut self.fields[f];
            for &id in &seen {
                field.df[id as usize] -= 1;
            }
            field.docs -= 1;
            field.total_len -= u64::from(field.lens[s]);
            field.lens[s] = 0;
        }
    }

    /// The best `k` live slots for `query` that pass `matches` (every live slot without one),
    /// best first, with BM25 scores.
    ///
    /// The scores are Lucene's, computed as Lucene 8 computes them (so as Elasticsearch, whose
    /// BM25 BEIR's published baseline is): per field `idf · (1 − 1 / (1 + tf · 1/norm))` in
    /// `f32`, with the field's length read back from its one-byte norm ([`encode_length`]); a
    /// field's terms summed in `f64`; the fields combined as a dis-max (best field plus
    /// `tie_breaker` times the others). `scripts/eval/bm25_reference.py` compares the two.
    pub fn search(&self, query: &str, k: usize, matches: Option<&dyn Fn(u32) -> bool>) -> Result<Vec<(u32, f32)>> {
        let wanted = self.wanted(query)?;
        with_scores(self.live.len(), self.fields.len(), |scores| {
            self.accumulate(&wanted, scores);
            Ok(self.best(k, scores, matches))
        })
    }

    /// As [`TextIndex::search`], each document scored as one text, as a whole-document index
    /// (Elasticsearch's, BEIR's) scores it: its chunks' `text` joined (each overlap once), its
    /// other fields once; the statistics (documents, lengths, document frequencies) are the
    /// documents'. Returns each document's first slot.
    pub fn search_documents(
        &self,
        query: &str,
        k: usize,
        matches: Option<&dyn Fn(u32) -> bool>,
    ) -> Result<Vec<(u32, f32)>> {
        let wanted = self.wanted(query)?;
        with_scores(self.live.len(), self.fields.len(), |scores| {
            self.accumulate_documents(&wanted, scores);
            Ok(self.best(k, scores, matches))
        })
    }

    /// The query's known terms with their counts (a term given twice weighs twice).
    fn wanted(&self, query: &str) -> Result<Vec<(u32, f32)>> {
        if query.trim().is_empty() {
            return Err(Error::EmptyTextQuery);
        }
        let mut wanted: Vec<(u32, f32)> = Vec::new();
        let mut count = 0usize;
        self.analyzer.terms(query, |t| {
            count += 1;
            if let Some(&id) = self.terms.get(t) {
                match wanted.iter_mut().find(|(w, _)| *w == id) {
                    Some((_, boost)) => *boost += 1.0,
                    None => wanted.push((id, 1.0)),
                }
            }
        });
        if count > MAX_QUERY_TERMS {
            return Err(Error::TextQueryTooLong { terms: count, max: MAX_QUERY_TERMS });
        }
        Ok(wanted)
    }

    /// Adds each wanted term's BM25 score, field by field, into `scores`.
    fn accumulate(&self, wanted: &[(u32, f32)], scores: &mut Scores) {
        for (f, field) in self.fields.iter().enumerate() {
            if field.docs == 0 {
                continue;
            }
            let inverse = self.norm_inverses(field.total_len, field.docs);
            for &(id, boost) in wanted {
                let Some(list) = field.postings.get(id as usize) else { continue };
                let df = field.df[id as usize];
                if df == 0 {
                    continue;
                }
                let weight = boost * idf(field.docs, df);
                for p in list.iter().filter(|p| self.live[p.slot as usize]) {
                    let norm = inverse[usize::from(encode_length(field.lens[p.slot as usize]))];
                    scores.add(p.slot, f, bm25(weight, p.tf, norm));
                }
            }
        }
    }

    /// As [`TextIndex::accumulate`], over documents: a term's postings in one document's chunks
    /// (consecutive slots, so side by side in every list) are summed into one, kept at the
    /// document's first slot.
    fn accumulate_documents(&self, wanted: &[(u32, f32)], scores: &mut Scores) {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for (f, (field, docs)) in self.fields.iter().zip(self.document_stats()).enumerate() {
            if docs.docs == 0 {
                continue;
            }
            let whole = self.config.fields[f] == CHUNK_TEXT;
            let inverse = self.norm_inverses(docs.total_len, docs.docs);
            for &(id, boost) in wanted {
                let Some(list) = field.postings.get(id as usize) else { continue };
                runs.clear();
                for p in list {
                    let first = self.group[p.slot as usize];
                    if !self.live[p.slot as usize] || !self.live[first as usize] || (!whole && p.slot != first) {
                        continue;
                    }
                    match runs.last_mut() {
                        Some((doc, tf)) if *doc == first => *tf += p.tf,
                        _ => runs.push((first, p.tf)),
                    }
                }
                if runs.is_empty() {
                    continue;
                }
                let weight = boost * idf(docs.docs, runs.len() as u32);
                for &(doc, tf) in &runs {
                    let norm = inverse[usize::from(encode_length(docs.lens[doc as usize]))];
                    scores.add(doc, f, bm25(weight, tf, norm));
                }
            }
        }
    }

    /// Each field's statistics over documents, worked out from the slots' on first use.
    fn document_stats(&self) -> &[DocumentStats] {
        self.documents.get_or_init(|| {
            let slots = self.live.len();
            let live = |s: usize| self.live[s] && self.live[self.group[s] as usize];
            self.fields
                .iter()
                .zip(&self.config.fields)
                .map(|(field, name)| {
                    let mut lens = vec![0u32; slots];
                    for s in (0..slots).filter(|&s| live(s)) {
                        let first = self.group[s] as usize;
                        if name == CHUNK_TEXT || s == first {
                            lens[first] = lens[first].saturating_add(field.lens.get(s).copied().unwrap_or(0));
                        }
                    }
                    let docs = lens.iter().filter(|&&l| l > 0).count() as u32;
                    let total_len = lens.iter().map(|&l| u64::from(l)).sum();
                    DocumentStats { lens, docs, total_len }
                })
                .collect()
        })
    }

    /// Lucene's cache for a field: `1 / norm` for each of the 256 encoded lengths.
    fn norm_inverses(&self, total_len: u64, docs: u32) -> Vec<f32> {
        let (k1, b) = (self.config.k1, self.config.b);
        let avgdl = (total_len as f64 / f64::from(docs)) as f32;
        (0..=255u8).map(|n| 1.0 / (k1 * ((1.0 - b) + b * decode_length(n) as f32 / avgdl))).collect()
    }

    /// The `k` best of the touched slots that pass `matches`, best first (ties by slot), as a
    /// dis-max of their fields' scores; clears the cells it read.
    fn best(&self, k: usize, scores: &mut Scores, matches: Option<&dyn Fn(u32) -> bool>) -> Vec<(u32, f32)> {
        let (nf, tie) = (self.fields.len(), f64::from(self.config.tie_breaker));
        let mut scored: Vec<(u32, f32)> = Vec::with_capacity(scores.touched.len());
        for i in 0..scores.touched.len() {
            let slot = scores.touched[i];
            if matches.is_none_or(|m| m(slot)) {
                let mut best = 0f32;
                let mut others = 0f64;
                for field in (0..nf).map(|f| scores.take(slot, f)) {
                    let field = field as f32;
                    if field >= best {
                        others += f64::from(best);
                        best = field;
                    } else {
                        others += f64::from(field);
                    }
                }
                scored.push((slot, (f64::from(best) + others * tie) as f32));
            } else {
                (0..nf).for_each(|f| _ = scores.take(slot, f));
            }
        }
        let k = k.min(scored.len());
        if k == 0 {
            return Vec::new();
        }
        let by_score = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        scored.select_nth_unstable_by(k - 1, by_score);
        scored.truncate(k);
        scored.sort_unstable_by(by_score);
        scored
    }

    /// The index after compaction: slot `s` becomes `remap[s]` (`kin_index::REMOVED`: gone).
    pub(crate) fn compacted(&self, remap: &[u32]) -> TextIndex {
        let kept = |s: u32| {
            let new = remap.get(s as usize).copied().unwrap_or(kin_index::REMOVED);
            (new != kin_index::REMOVED && self.live.get(s as usize).copied().unwrap_or(false)).then_some(new)
        };
        let slots = remap.iter().filter(|&&n| n != kin_index::REMOVED).count();
        let fields = self
            .fields
            .iter()
            .map(|field| {
                let postings: Vec<Vec<Posting>> = field
                    .postings
                    .iter()
                    .map(|list| list.iter().filter_map(|p| Some(Posting { slot: kept(p.slot)?, tf: p.tf })).collect())
                    .collect();
                let df = postings.iter().map(|l: &Vec<Posting>| l.len() as u32).collect();
                let mut lens = vec![0u32; slots];
                for (s, &len) in field.lens.iter().enumerate() {
                    if let Some(new) = kept(s as u32) {
                        lens[new as usize] = len;
                    }
                }
                Field { postings, df, lens, docs: field.docs, total_len: field.total_len }
            })
            .collect();
        let mut live = vec![false; slots];
        let (mut group, mut skip) = (vec![0u32; slots], vec![0u32; slots]);
        // A document whose first slot went starts at its first slot that stayed.
        let mut first_kept: HashMap<u32, u32> = HashMap::new();
        for s in 0..self.live.len() {
            if let Some(new) = kept(s as u32) {
                live[new as usize] = true;
                group[new as usize] = *first_kept.entry(self.group[s]).or_insert(new);
                skip[new as usize] = self.skip[s];
            }
        }
        TextIndex {
            config: self.config.clone(),
            analyzer: Analyzer::new(self.config.language, self.config.stem, self.config.stop_words),
            terms: self.terms.clone(),
            fields,
            live,
            group,
            skip,
            last: None,
            documents: OnceLock::new(),
        }
    }

    /// Bytes held: postings, lengths, documents and the term dictionary.
    pub fn usage(&self) -> usize {
        let dict: usize = self.terms.keys().map(|t| t.len() + 32).sum();
        let fields: usize = self
            .fields
            .iter()
            .map(|f| {
                f.postings.iter().map(|l| l.capacity() * 8 + 24).sum::<usize>() + f.df.len() * 4 + f.lens.len() * 4
            })
            .sum();
        let documents: usize =
            self.documents.get().map_or(0, |stats| stats.iter().map(|d| d.lens.len() * 4).sum());
        dict + fields + documents + self.live.len() + (self.group.len() + self.skip.len()) * 4
    }
}

/// Field lengths up to this are kept exactly by Lucene's one-byte norms; longer ones keep four
/// significant bits (`SmallFloat.intToByte4`).
const EXACT_LENGTHS: u32 = 24;

/// The one-byte norm Lucene stores for a field of `len` terms (Java's lengths stop at `i32::MAX`).
fn encode_length(len: u32) -> u8 {
    let len = len.min(i32::MAX as u32);
    if len < EXACT_LENGTHS {
        return len as u8;
    }
    let rest = len - EXACT_LENGTHS;
    let bits = u32::BITS - rest.leading_zeros();
    if bits < 4 {
        return (EXACT_LENGTHS + rest) as u8;
    }
    let shift = bits - 4;
    // Three bits below the implicit leading one, then the shift (plus one: 0 is subnormal).
    (EXACT_LENGTHS + (((rest >> shift) & 0x07) | ((shift + 1) << 3))) as u8
}

/// The length BM25 reads back from a norm (`SmallFloat.byte4ToInt`).
fn decode_length(norm: u8) -> u32 {
    let n = u32::from(norm);
    if n < EXACT_LENGTHS {
        return n;
    }
    let code = n - EXACT_LENGTHS;
    let (bits, shift) = (code & 0x07, (code >> 3) as i32 - 1);
    EXACT_LENGTHS + if shift < 0 { bits } else { (bits | 0x08) << shift }
}

/// Lucene's BM25 idf, computed in `f64` and kept in `f32` as Lucene keeps it.
fn idf(docs: u32, df: u32) -> f32 {
    let (n, df) = (f64::from(docs), f64::from(df));
    (1.0 + (n - df + 0.5) / (df + 0.5)).ln() as f32
}

/// Lucene's BM25 term score, `weight · tf / (tf + norm)` written as Lucene 8 writes it (with
/// `1 / norm` given), so that the `f32` rounding is the same.
fn bm25(weight: f32, tf: u32, norm_inverse: f32) -> f32 {
    weight - weight / (1.0 + tf as f32 * norm_inverse)
}

/// One query's scores: per field a score by slot (field by field, so that a term's pass over
/// one field's postings touches one array), every cell zero between queries, and the slots
/// scored so far, each listed once.
#[derive(Default)]
struct Scores {
    slots: usize,
    cells: Vec<f64>,
    /// By slot: the query that last scored it (counted modulo 2^16, the marks cleared when
    /// the count wraps).
    marks: Vec<u16>,
    query: u16,
    touched: Vec<u32>,
}

impl Scores {
    /// Ready for a query over `slots` slots of `fields` fields.
    fn begin(&mut self, slots: usize, fields: usize) {
        self.slots = slots;
        if self.cells.len() < slots * fields {
            self.cells.resize(slots * fields, 0.0);
        }
        if self.marks.len() < slots {
            self.marks.resize(slots, 0);
        }
        self.query = self.query.wrapping_add(1);
        if self.query == 0 {
            self.marks.fill(0);
            self.query = 1;
        }
        self.touched.clear();
    }

    /// Adds a term's score in field `f` to `slot`, listing the slot the first time.
    #[inline]
    fn add(&mut self, slot: u32, f: usize, score: f32) {
        let s = slot as usize;
        if self.marks[s] != self.query {
            self.marks[s] = self.query;
            self.touched.push(slot);
        }
        self.cells[f * self.slots + s] += f64::from(score);
    }

    /// `slot`'s score in field `f`, its cell zeroed for the next query.
    fn take(&mut self, slot: u32, f: usize) -> f64 {
        std::mem::take(&mut self.cells[f * self.slots + slot as usize])
    }
}

thread_local! {
    /// Each thread's [`Scores`], kept so that a query does not clear memory for every slot.
    static SCORES: std::cell::Cell<Option<Box<Scores>>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with this thread's scores, begun for `slots` slots of `fields` fields; `f` leaves
/// every cell zero (by taking each touched slot's). A nested call gets fresh scores.
fn with_scores<R>(slots: usize, fields: usize, f: impl FnOnce(&mut Scores) -> R) -> R {
    let mut scores = SCORES.with(std::cell::Cell::take).unwrap_or_default();
    scores.begin(slots, fields);
    let out = f(&mut scores);
    SCORES.with(|cell| cell.set(Some(scores)));
    out
}

/// A collection's text index, built from its items the first time a search needs it, so that
/// opening a collection and searching it by vector never pay for analysing its text. Once
/// built, it is changed by every write; before, writes leave it alone (the build reads them).
pub(crate) struct LazyText {
    config: TextConfig,
    index: OnceLock<TextIndex>,
}

impl LazyText {
    /// Not built yet: the first search builds it from the items.
    pub(crate) fn new(config: &TextConfig) -> Self {
        LazyText { config: config.clone(), index: OnceLock::new() }
    }

    /// Built: an empty collection's, or one read from its file.
    pub(crate) fn built(config: &TextConfig, index: TextIndex) -> Self {
        let lazy = LazyText::new(config);
        let _ = lazy.index.set(index);
        lazy
    }

    /// The index of a snapshot of `slots` items saved at `path`, when it was saved with that
    /// snapshot; not built (with a warning when the file is damaged) otherwise.
    pub(crate) fn restore(config: &TextConfig, path: &Path, lsn: u64, slots: usize) -> Self {
        match TextIndex::load(path, lsn, config, slots) {
            Ok(Some(index)) => LazyText::built(config, index),
            Ok(None) => LazyText::new(config),
            Err(error) => {
                tracing::warn!(%error, "the text index will be built again from the items");
                LazyText::new(config)
            }
        }
    }

    /// The index, built from `payloads` (each live slot's, in slot order) on first use.
    pub(crate) fn get_or_build<'a>(&self, payloads: impl FnOnce() -> Vec<(u32, &'a Value)>) -> &TextIndex {
        self.index.get_or_init(|| {
            let started = std::time::Instant::now();
            let mut index = TextIndex::new(&self.config);
            let payloads = payloads();
            for &(slot, payload) in &payloads {
                index.add(slot, payload);
            }
            tracing::debug!(items = payloads.len(), seconds = started.elapsed().as_secs_f64(), "text index built");
            index
        })
    }

    /// The index, when it has been built.
    pub(crate) fn built_mut(&mut self) -> Option<&mut TextIndex> {
        self.index.get_mut()
    }

    pub(crate) fn compacted(&self, remap: &[u32]) -> LazyText {
        let index = OnceLock::new();
        if let Some(built) = self.index.get() {
            let _ = index.set(built.compacted(remap));
        }
        LazyText { config: self.config.clone(), index }
    }

    /// Bytes held (0 until built).
    pub(crate) fn usage(&self) -> usize {
        self.index.get().map_or(0, TextIndex::usage)
    }
}

/// The texts of a payload field: a string, or the strings of an array.
fn field_texts<'a>(payload: &'a Value, field: &str) -> impl Iterator<Item = &'a str> {
    let value = payload.get(field);
    let one = value.and_then(Value::as_str);
    let many = value.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
    one.into_iter().chain(many)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn index(docs: &[Value]) -> TextIndex {
        let mut t = TextIndex::new(&TextConfig::default());
        for (slot, d) in docs.iter().enumerate() {
            t.add(slot as u32, d);
        }
        t
    }

    fn slots(t: &TextIndex, q: &str) -> Vec<u32> {
        t.search(q, 10, None).unwrap().into_iter().map(|(s, _)| s).collect()
    }

    #[test]
    fn bm25_scores_as_lucene_does() {
        let docs =
            [json!({"text": "apple banana"}), json!({"text": "apple apple cherry date"}), json!({"text": "fig"})];
        let t = index(&docs);
        let hits = t.search("apple", 10, None).unwrap();
        // N = 3, df = 2: idf = ln(1 + 1.5 / 2.5); avgdl = 7 / 3 (lengths under 24 are exact).
        let idf = (1.0f32 + 1.5 / 2.5).ln();
        let bm25 = |tf: f32, dl: f32| idf * tf / (tf + 1.2 * (0.25 + 0.75 * dl / (7.0 / 3.0)));
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 0]);
        assert!((hits[0].1 - bm25(2.0, 4.0)).abs() < 1e-6, "{hits:?}");
        assert!((hits[1].1 - bm25(1.0, 2.0)).abs() < 1e-6);
    }

    /// A fixture written by `scripts/eval/bm25_reference.py --fixtures` from Lucene 8.
    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lucene").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn english_terms_are_lucenes() {
        let a = Analyzer::new(Language::English, true, true);
        let mut checked = 0;
        for line in fixture("english.tsv").lines() {
            let (word, lucene) = line.split_once('\t').expect("word<TAB>terms");
            assert_eq!(a.analyze(word).join(" "), lucene, "{word}");
            checked += 1;
        }
        assert!(checked >= 2000, "{checked} words");
    }

    #[test]
    fn lengths_read_back_from_norms_as_lucene_reads_them() {
        for line in fixture("norms.tsv").lines() {
            let (len, back) = line.split_once('\t').expect("length<TAB>decoded");
            let (len, back): (u32, u32) = (len.parse().unwrap(), back.parse().unwrap());
            assert_eq!(decode_length(encode_length(len)), back, "{len}");
        }
        // Lucene's SmallFloat.byte4ToInt(intToByte4(n)) for larger lengths.
        for (len, back) in [(5_000, 4_632), (65_535, 61_464), (1_000_000, 983_064), (i32::MAX as u32, 2_013_265_944)] {
            assert_eq!(decode_length(encode_length(len)), back, "{len}");
        }
        assert_eq!(encode_length(u32::MAX), 255);
    }

    #[test]
    fn top_ten_and_scores_are_lucenes() {
        let docs: Vec<Value> = fixture("corpus.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let t = index(&docs);
        let mut lucene: HashMap<String, Vec<(String, f32)>> = HashMap::new();
        for line in fixture("bm25.run").lines() {
            let parts: Vec<&str> = line.split_whitespace().collect();
            lucene.entry(parts[0].to_string()).or_default().push((parts[2].to_string(), parts[4].parse().unwrap()));
        }
        let mut compared = 0;
        for line in fixture("queries.jsonl").lines() {
            let q: Value = serde_json::from_str(line).unwrap();
            let (id, text) = (q["_id"].as_str().unwrap(), q["text"].as_str().unwrap());
            let want = lucene.remove(id).unwrap_or_default();
            let got: Vec<(String, f32)> = t
                .search(text, 10, None)
                .unwrap()
                .into_iter()
                .map(|(slot, score)| (docs[slot as usize]["_id"].as_str().unwrap().to_string(), score))
                .collect();
            assert_eq!(got.len(), want.len(), "{id}: {got:?}\nLucene: {want:?}");
            for ((doc, score), (lucene_doc, lucene_score)) in got.iter().zip(&want) {
                assert_eq!(doc, lucene_doc, "{id}: {got:?}\nLucene: {want:?}");
                assert_eq!(score, lucene_score, "{id} {doc}");
                compared += 1;
            }
        }
        assert!(compared >= 100, "{compared} hits compared");
    }

    /// The fixture's documents cut into chunks of `size` words, each sharing `overlap` words
    /// with the one before, with the payload kin's chunker gives a chunk.
    fn chunked(docs: &[Value], size: usize, overlap: usize) -> Vec<Value> {
        let mut items = Vec::new();
        for d in docs {
            let chars: Vec<char> = d["text"].as_str().unwrap().chars().collect();
            let mut words: Vec<(usize, usize)> = Vec::new();
            for (i, c) in chars.iter().enumerate() {
                match (c.is_whitespace(), words.last_mut()) {
                    (false, Some(w)) if w.1 == i => w.1 = i + 1,
                    (false, _) => words.push((i, i + 1)),
                    (true, _) => {}
                }
            }
            let starts: Vec<usize> = (0..words.len().max(1)).step_by(size - overlap).collect();
            let chunks = starts.iter().take_while(|&&a| a == 0 || a + overlap < words.len()).count();
            for (n, &a) in starts.iter().take(chunks).enumerate() {
                let b = (a + size).min(words.len());
                let (start, end) = if words.is_empty() { (0, 0) } else { (words[a].0, words[b - 1].1) };
                items.push(json!({
                    "doc": d["_id"], "chunk": n, "chunks": chunks, "char_start": start, "char_end": end,
                    "title": d["title"], "text": chars[start..end].iter().collect::<String>(),
                }));
            }
        }
        items
    }

    #[test]
    fn documents_cut_into_chunks_score_as_whole_documents() {
        let docs: Vec<Value> = fixture("corpus.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let whole = index(&docs);
        let items = chunked(&docs, 12, 3);
        assert!(items.len() > docs.len() * 2, "{} chunks", items.len());
        let mut cut = index(&items);
        let doc_of = |items: &[Value], slot: u32| items[slot as usize]["doc"].as_str().unwrap().to_string();
        let queries: Vec<String> = fixture("queries.jsonl")
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["text"].as_str().unwrap().to_string())
            .collect();
        let answers = |t: &TextIndex, items: &[Value], q: &str| -> Vec<(String, f32)> {
            t.search_documents(q, 10, None).unwrap().into_iter().map(|(s, score)| (doc_of(items, s), score)).collect()
        };
        let by_whole = |t: &TextIndex, docs: &[Value], q: &str| -> Vec<(String, f32)> {
            t.search(q, 10, None).unwrap().into_iter().map(|(s, score)| (doc_of_whole(docs, s), score)).collect()
        };
        for q in &queries {
            assert_eq!(answers(&cut, &items, q), by_whole(&whole, &docs, q), "{q}");
        }
        // Documents deleted (every chunk), then compacted and saved: still the whole-document answers.
        let gone: Vec<String> = docs.iter().step_by(3).map(|d| d["_id"].as_str().unwrap().to_string()).collect();
        for (slot, item) in items.iter().enumerate() {
            if gone.iter().any(|g| *g == item["doc"]) {
                cut.remove(slot as u32, item);
            }
        }
        let kept_docs: Vec<Value> = docs.iter().filter(|d| !gone.iter().any(|g| *g == d["_id"])).cloned().collect();
        let whole = index(&kept_docs);
        for q in &queries {
            assert_eq!(answers(&cut, &items, q), by_whole(&whole, &kept_docs, q), "{q}, after deletes");
        }
        let remap: Vec<u32> = {
            let mut next = 0;
            items
                .iter()
                .map(|item| {
                    if gone.iter().any(|g| *g == item["doc"]) {
                        return kin_index::REMOVED;
                    }
                    next += 1;
                    next - 1
                })
                .collect()
        };
        let kept_items: Vec<Value> = items.iter().filter(|i| !gone.iter().any(|g| *g == i["doc"])).cloned().collect();
        let compacted = cut.compacted(&remap);
        let dir = tempfile::tempdir().unwrap();
        compacted.save(&dir.path().join("text.idx"), 1).unwrap();
        let config = TextConfig::default();
        let loaded = TextIndex::load(&dir.path().join("text.idx"), 1, &config, kept_items.len()).unwrap().unwrap();
        for q in &queries {
            let want = by_whole(&whole, &kept_docs, q);
            assert_eq!(answers(&compacted, &kept_items, q), want, "{q}, compacted");
            assert_eq!(answers(&loaded, &kept_items, q), want, "{q}, saved and loaded");
        }
    }

    fn doc_of_whole(docs: &[Value], slot: u32) -> String {
        docs[slot as usize]["_id"].as_str().unwrap().to_string()
    }

    #[test]
    fn best_field_plus_tie_breaker_times_the_rest() {
        let docs = [json!({"title": "rust", "text": "rust is a language"}), json!({"text": "rust never sleeps"})];
        let t = index(&docs);
        let hits = t.search("rust", 10, None).unwrap();
        assert_eq!(hits[0].0, 0, "the slot with the term in both fields wins: {hits:?}");
    }

    #[test]
    fn deletes_leave_results_and_statistics_then_compaction_drops_them() {
        let docs = [json!({"text": "alpha beta"}), json!({"text": "alpha"}), json!({"text": "gamma"})];
        let mut t = index(&docs);
        t.remove(1, &docs[1]);
        assert_eq!(slots(&t, "alpha"), [0]);
        assert_eq!(t.fields[1].df[0], 1, "the text field's df of alpha");
        let remap = [0, kin_index::REMOVED, 1];
        let c = t.compacted(&remap);
        assert_eq!(slots(&c, "alpha"), [0]);
        assert_eq!(slots(&c, "gamma"), [1]);
        let fresh = index(&[docs[0].clone(), docs[2].clone()]);
        assert_eq!(c.search("alpha beta", 5, None).unwrap(), fresh.search("alpha beta", 5, None).unwrap());
    }

    #[test]
    fn filters_apply_before_the_top_k() {
        let docs: Vec<Value> = (0..50).map(|i| json!({"text": format!("common word {i}"), "n": i})).collect();
        let t = index(&docs);
        let hits = t.search("common", 3, Some(&|s| s >= 47)).unwrap();
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [47, 48, 49]);
    }

    #[test]
    fn bad_queries_are_refused_clearly() {
        let t = index(&[json!({"text": "x"})]);
        assert!(matches!(t.search("   ", 10, None), Err(Error::EmptyTextQuery)));
        let long = "word ".repeat(10_000);
        assert!(matches!(t.search(&long, 10, None), Err(Error::TextQueryTooLong { terms: 10_000, .. })));
        assert!(t.search("the of", 10, None).unwrap().is_empty(), "stop words only: nothing matches");
        assert!(t.search("AND OR \"( title:", 10, None).is_ok(), "every string is a query");
    }
}
