//! The text side of a run: documents cut into chunks, batched to the token budget, embedded, and
//! written so that each document's chunks replace its old ones in one change; record files
//! streamed one document per record.

use std::fs::File;
use std::io::BufReader;
use std::time::Instant;

use kin_core::Modality;
use kin_extract::{Document, Format};
use kin_store::{Item, ItemId};
use sha2::{Digest, Sha256};

use super::{hex, Ingest};
use crate::chunk::Chunk;
use crate::document::{chunk_id, document_items, stale_ids, DocumentChunks};
use crate::{IngestError, Result};

/// A document cut into chunks, waiting for its vectors.
pub(super) struct Prepared {
    pub(super) doc: String,
    pub(super) source: Option<String>,
    pub(super) hash: String,
    pub(super) document: Document,
    pub(super) chunks: Vec<Chunk>,
    /// Embedded before each chunk (a record's title).
    pub(super) prefix: Option<String>,
}

/// Documents cut and waiting for their vectors.
#[derive(Default)]
pub(super) struct Pending {
    documents: Vec<Prepared>,
    chunks: usize,
}

impl Ingest<'_> {
    pub(super) fn cut(
        &self,
        doc: String,
        source: Option<String>,
        hash: String,
        document: Document,
        prefix: Option<String>,
    ) -> Result<Prepared, String> {
        let Some(chunker) = &self.chunker else { return Err(self.refusal(Modality::Text)) };
        let started = Instant::now();
        let tokens = chunker.tokens();
        // A prefix (a record's title) goes before each chunk when it leaves room for text.
        let reserve = match &prefix {
            Some(p) => tokens.count(&format!("{p} ")).map_err(|e| e.to_string())?.saturating_sub(1),
            None => 0,
        };
        let (prefix, reserve) = if reserve * 2 <= tokens.limit() { (prefix, reserve) } else { (None, 0) };
        let chunks = chunker.chunks(&document, reserve).map_err(|e| e.to_string())?;
        self.summary().timing.chunk += started.elapsed();
        if chunks.is_empty() {
            let format = document.format.map_or("document", Format::as_str);
            return Err(format!("no text in this {format}"));
        }
        Ok(Prepared { doc, source, hash, document, chunks, prefix })
    }

    /// Embeds the chunks of `documents` and writes them: each document's chunks replace its old
    /// ones in one atomic change.
    pub(super) fn store_documents(&self, documents: Vec<Prepared>) -> Result<()> {
        let mut pending = Pending::default();
        for p in documents {
            self.queue(&mut pending, p)?;
        }
        self.flush(pending.documents)
    }

    /// Adds a document to the batch, and embeds and writes the batch once it holds
    /// `batch_chunks` chunks.
    pub(super) fn queue(&self, pending: &mut Pending, document: Prepared) -> Result<()> {
        pending.chunks += document.chunks.len();
        pending.documents.push(document);
        if pending.chunks >= self.options.batch_chunks {
            pending.chunks = 0;
            self.flush(std::mem::take(&mut pending.documents))?;
        }
        Ok(())
    }

    pub(super) fn flush(&self, batch: Vec<Prepared>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let texts: Vec<String> = batch
            .iter()
            .flat_map(|p| {
                p.chunks.iter().map(|c| {
                    let text = &p.document.text[c.start..c.end];
                    match &p.prefix {
                        Some(prefix) => format!("{prefix} {text}"),
                        None => text.to_string(),
                    }
                })
            })
            .collect();
        let started = Instant::now();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = self.model.embed_text(&refs)?;
        if vectors.len() != texts.len() {
            return Err(IngestError::VectorCount { expected: texts.len(), got: vectors.len() });
        }
        self.summary().timing.embed += started.elapsed();
        let started = Instant::now();
        let mut vectors = vectors.into_iter();
        let (mut items, mut stale): (Vec<Item>, Vec<ItemId>) = (Vec::new(), Vec::new());
        for p in &batch {
            let d = DocumentChunks {
                doc: &p.doc,
                document: &p.document,
                chunks: &p.chunks,
                hash: &p.hash,
                source: p.source.as_deref(),
            };
            stale.extend(stale_ids(self.collection, &p.doc, p.chunks.len())?);
            items.extend(document_items(&d, vectors.by_ref().take(p.chunks.len()).collect()));
        }
        let n = items.len();
        self.collection.replace(&stale, items)?;
        let mut summary = self.summary();
        summary.timing.store += started.elapsed();
        summary.added += batch.len();
        summary.items += n;
        Ok(())
    }

    /// A `.jsonl` or `.csv` file: one document per record, streamed.
    pub(super) fn add_records_file(&self, shown: &str, format: Format) -> Result<()> {
        if self.chunker.is_none() || !self.routed(Modality::Text) {
            self.summary().skipped.push((shown.to_string(), self.refusal(Modality::Text)));
            return Ok(());
        }
        let file = File::open(shown).map_err(|e| IngestError::io(shown, e))?;
        let mut pending = Pending::default();
        for (n, record) in kin_extract::records(BufReader::new(file), format).enumerate() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    self.summary().failed.push((shown.to_string(), e.to_string()));
                    continue;
                }
            };
            let Some(id) = record.id.clone() else {
                self.summary().failed.push((format!("{shown} record {}", n + 1), "no \"_id\" or \"id\"".into()));
                continue;
            };
            let hash = record_hash(&record);
            if self.unchanged(&chunk_id(&id, 0), &hash) {
                self.summary().unchanged += 1;
                continue;
            }
            let prefix = record.title.clone().filter(|t| !t.trim().is_empty());
            match self.cut(id.clone(), None, hash, record, prefix) {
                Ok(p) => self.queue(&mut pending, p)?,
                Err(reason) => self.summary().failed.push((format!("{shown} record {id:?}"), reason)),
            }
        }
        self.flush(pending.documents)
    }
}

/// A record's identity for skipping unchanged ones: its title, text and fields.
fn record_hash(record: &Document) -> String {
    let mut h = Sha256::new();
    h.update(record.title.as_deref().unwrap_or("").as_bytes());
    h.update([0]);
    h.update(record.text.as_bytes());
    h.update([0]);
    h.update(serde_json::Value::Object(record.fields.clone()).to_string().as_bytes());
    hex(&h.finalize())
}
