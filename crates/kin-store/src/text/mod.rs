//! `TextIndex`: a collection's full-text index, BM25 over chosen payload fields. It is part of
//! the collection's state: built from the snapshot's items on open and kept in step by the same
//! records that change the vectors, so after a crash it holds exactly what the log holds.
//!
//! Each field is indexed on its own (its own lengths and document frequencies) and a query
//! scores a slot as Elasticsearch's `best_fields` multi-match does, which is how BEIR's BM25
//! baseline queries title and text: the best field's score plus `tie_breaker` times the others'.

mod analyzer;
mod lazy;
mod persist;
mod porter;
mod score;

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

pub use analyzer::{Analyzer, Language};
pub(crate) use lazy::LazyText;
use score::{bm25, decode_length, encode_length, idf, with_scores, Scores};

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
            for text in self.texts(payload, f, self.skip[s]) {
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
                    if !self.in_live_document(p.slot as usize) || (!whole && p.slot != first) {
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

    /// Whether `slot` counts in search by document: it is live, and so is its document's first
    /// slot.
    fn in_live_document(&self, slot: usize) -> bool {
        self.live[slot] && self.live[self.group[slot] as usize]
    }

    /// Each field's statistics over documents, worked out from the slots' on first use.
    fn document_stats(&self) -> &[DocumentStats] {
        self.documents.get_or_init(|| {
            let slots = self.live.len();
            self.fields
                .iter()
                .zip(&self.config.fields)
                .map(|(field, name)| {
                    let mut lens = vec![0u32; slots];
                    for s in (0..slots).filter(|&s| self.in_live_document(s)) {
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
        let documents: usize = self.documents.get().map_or(0, |stats| stats.iter().map(|d| d.lens.len() * 4).sum());
        dict + fields + documents + self.live.len() + (self.group.len() + self.skip.len()) * 4
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
mod tests;
