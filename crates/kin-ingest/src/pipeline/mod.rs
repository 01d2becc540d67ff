//! `Ingest`: files, uploads and records into a collection. Each file is judged by its content:
//! documents (text, Markdown, HTML, PDF, DOCX) are extracted in isolation and cut into chunks,
//! record files (`.jsonl`, `.csv`) give one document per record, images, audio and video become
//! their items. The next batch of files is prepared while the current one is embedded.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kin_core::{detect_modality, Modality};
use kin_embed::Embedder;
use kin_extract::{Format, Limits};
use kin_store::{CollectionWrite, ItemId};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::chunk::{ChunkConfig, Chunker, Tokens};
use crate::document::chunk_id;
use crate::media::{image_items, stream_items, PendingImage, VideoPart, VideoParts};
use crate::Result;

mod text;
use text::Prepared;

/// How much of a file is read to judge what it is.
const HEAD_BYTES: usize = 64 << 10;

#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Chunk size and overlap; `None`: the model card's.
    pub chunking: Option<ChunkConfig>,
    /// Bounds on every document parser (size, unpacked size, time, nesting).
    pub limits: Limits,
    /// Files prepared (read, extracted, cut, decoded) ahead of the model at a time.
    pub batch_files: usize,
    /// Chunks embedded, and then written in one atomic change, at a time.
    pub batch_chunks: usize,
    /// The kinds of content this run embeds (a mixed collection's space takes its share);
    /// `None`: all the model reads. `Video` here lets an image or audio model take a video's
    /// frames or sound track.
    pub only: Option<Vec<Modality>>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions { chunking: None, limits: Limits::default(), batch_files: 32, batch_chunks: 512, only: None }
    }
}

/// Where the time of a run went (wall clock; extraction and chunking summed over threads).
#[derive(Debug, Clone, Default)]
pub struct Timing {
    pub extract: Duration,
    pub chunk: Duration,
    pub embed: Duration,
    pub store: Duration,
}

/// What a run did. Files (or records) that were skipped or failed are listed with the reason.
#[derive(Debug, Default)]
pub struct Summary {
    /// Documents, records and media files added or replaced.
    pub added: usize,
    /// Items written (chunks, segments, images).
    pub items: usize,
    pub unchanged: usize,
    pub skipped: Vec<(String, String)>,
    pub failed: Vec<(String, String)>,
    pub timing: Timing,
}

/// What became of one upload.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Added { ids: Vec<ItemId> },
    Unchanged,
    Skipped(String),
    Failed(String),
}

/// What one file turned out to be, once read.
enum Judged {
    Document(Box<Prepared>),
    Records(Format),
    Image(PendingImage),
    Stream(Modality, String),
    Unchanged,
    Skipped(String),
    Failed(String),
}

pub struct Ingest<'a> {
    model: &'a dyn Embedder,
    collection: &'a dyn CollectionWrite,
    chunker: Option<Chunker<'a>>,
    options: IngestOptions,
    summary: Mutex<Summary>,
    /// A space of a mixed collection: its name, and where its videos' items wait for the other
    /// spaces' (see [`Ingest::hold_videos`]).
    held: Option<(&'a str, &'a VideoParts)>,
}

impl<'a> Ingest<'a> {
    pub fn new(model: &'a dyn Embedder, collection: &'a dyn CollectionWrite, options: IngestOptions) -> Result<Self> {
        collection.check_model(model.name())?;
        let chunker = match Ingest::tokens(model) {
            Some(tokens) => {
                let defaults = || ChunkConfig::for_model(Ingest::card_chunking(model), tokens.limit());
                let config = options.chunking.unwrap_or_else(defaults);
                Some(Chunker::new(tokens, config)?)
            }
            None => None,
        };
        Ok(Ingest { model, collection, chunker, options, summary: Mutex::new(Summary::default()), held: None })
    }

    /// Keeps this space's items of each video in `parts` instead of writing them, so that the
    /// caller writes a video's frames and sound track as one change.
    pub(crate) fn hold_videos(mut self, space: &'a str, parts: &'a VideoParts) -> Self {
        self.held = Some((space, parts));
        self
    }

    /// The chunk size and overlap used for `model` unless the options say otherwise: its card's,
    /// or a fraction of its input limit. `None` when the model takes no text.
    pub fn default_chunking(model: &dyn Embedder) -> Option<ChunkConfig> {
        let tokens = Ingest::tokens(model)?;
        Some(ChunkConfig::for_model(Ingest::card_chunking(model), tokens.limit()))
    }

    fn card_chunking(model: &dyn Embedder) -> Option<kin_models::Chunking> {
        kin_models::Registry::builtin().find(model.name()).and_then(|c| c.chunking)
    }

    /// How `model` counts text tokens: its own tokenizer, or words for a remote model.
    fn tokens(model: &'a dyn Embedder) -> Option<Tokens<'a>> {
        if !model.modalities().contains(&Modality::Text) {
            return None;
        }
        Some(match model.text_tokenizer() {
            Some(t) => Tokens::Model(t),
            None => Tokens::Words { limit: Ingest::card_chunking(model).map_or(512, |c| c.target as usize) },
        })
    }

    /// The chunk size and overlap in effect (`None` when the model takes no text).
    pub fn chunking(&self) -> Option<ChunkConfig> {
        self.chunker.as_ref().map(Chunker::config)
    }

    /// Adds files (already listed; directories expanded by the caller). `progress` is called
    /// once per file handled.
    pub fn add_files(&self, files: &[PathBuf], progress: &(dyn Fn() + Sync)) -> Result<Summary> {
        let batches = files.chunks(self.options.batch_files.max(1));
        let prepare = |batch: &[PathBuf]| -> Vec<(String, Judged)> {
            batch.par_iter().map(|p| (p.display().to_string(), self.judge_file(p))).collect()
        };
        kin_media::pipelined(batches, prepare, |judged| -> Result<()> {
            let mut documents = Vec::new();
            let mut images = Vec::new();
            for (shown, j) in judged {
                match j {
                    Judged::Document(p) => documents.push(*p),
                    Judged::Image(img) => images.push(img),
                    Judged::Records(format) => self.add_records_file(&shown, format)?,
                    Judged::Stream(modality, hash) => self.add_stream(&shown, &hash, modality)?,
                    Judged::Unchanged => self.summary().unchanged += 1,
                    Judged::Skipped(reason) => self.summary().skipped.push((shown, reason)),
                    Judged::Failed(reason) => self.summary().failed.push((shown, reason)),
                }
                progress();
            }
            self.store_documents(documents)?;
            self.add_images(images)
        })?;
        self.collection.checkpoint()?;
        Ok(std::mem::take(&mut *self.summary()))
    }

    /// Adds one uploaded file, judged by its content like a file on disk; `name` is its id and
    /// `payload` goes into each of its items' payloads.
    pub fn add_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
        payload: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Outcome> {
        let judged = self.judge_bytes(name, bytes, None);
        let outcome = match judged {
            Judged::Document(mut p) => {
                p.document.fields.extend(payload.clone());
                let ids = (0..p.chunks.len()).map(|n| chunk_id(&p.doc, n)).collect();
                self.store_documents(vec![*p])?;
                Outcome::Added { ids }
            }
            Judged::Image(img) => {
                let (mut items, failed) = image_items(self.model, vec![img])?;
                if let Some((_, reason)) = failed.into_iter().next() {
                    return Ok(Outcome::Failed(reason));
                }
                for item in &mut items {
                    if let Some(p) = item.payload.as_object_mut() {
                        p.extend(payload.clone());
                    }
                }
                let ids = items.iter().map(|i| i.id.clone()).collect();
                self.collection.upsert(items)?;
                Outcome::Added { ids }
            }
            Judged::Records(_) | Judged::Stream(..) => {
                Outcome::Skipped("record files, audio and video are added from disk (`kin add`)".into())
            }
            Judged::Unchanged => Outcome::Unchanged,
            Judged::Skipped(reason) => Outcome::Skipped(reason),
            Judged::Failed(reason) => Outcome::Failed(reason),
        };
        Ok(outcome)
    }

    fn summary(&self) -> std::sync::MutexGuard<'_, Summary> {
        self.summary.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn judge_file(&self, path: &Path) -> Judged {
        let shown = path.display().to_string();
        let mut head = Vec::with_capacity(HEAD_BYTES);
        if let Err(e) = File::open(path).and_then(|f| f.take(HEAD_BYTES as u64).read_to_end(&mut head)) {
            return Judged::Failed(e.to_string());
        }
        if head.is_empty() {
            return Judged::Failed("empty file".into());
        }
        let name = path.file_name().and_then(|n| n.to_str());
        let document = kin_extract::sniff(&head, name);
        match detect_modality(&head) {
            Some(m @ (Modality::Audio | Modality::Video)) if document.is_none() => {
                // A video reaches an image model as frames and an audio model as its sound track.
                let usable = self.takes(m)
                    || (m == Modality::Video
                        && self.routed(Modality::Video)
                        && (self.takes(Modality::Image) || self.takes(Modality::Audio)));
                if !usable {
                    return Judged::Skipped(self.refusal(m));
                }
                return match kin_media::hash_file(path) {
                    Err(reason) => Judged::Failed(reason),
                    Ok(hash) if self.unchanged(&ItemId::Str(shown.clone()), &hash) => Judged::Unchanged,
                    Ok(hash) => Judged::Stream(m, hash),
                };
            }
            _ => {}
        }
        if let Some(format @ (Format::Jsonl | Format::Csv)) = document {
            return Judged::Records(format);
        }
        let started = Instant::now();
        let bytes = match kin_extract::read_file(path, &self.options.limits) {
            Ok(bytes) => bytes,
            Err(e) => return Judged::Failed(e.to_string()),
        };
        self.summary().timing.extract += started.elapsed();
        self.judge_bytes(&shown, bytes, Some(&shown))
    }

    /// Judges content held in memory: a document is extracted and cut, an image kept for its
    /// batch.
    fn judge_bytes(&self, doc: &str, bytes: Vec<u8>, source: Option<&str>) -> Judged {
        if bytes.is_empty() {
            return Judged::Failed("empty file".into());
        }
        let hash = hex(&Sha256::digest(&bytes));
        let name = Path::new(doc).file_name().and_then(|n| n.to_str());
        let format = kin_extract::sniff(&bytes, name);
        let media = detect_modality(&bytes[..bytes.len().min(HEAD_BYTES)]);
        if let (None, Some(m @ (Modality::Image | Modality::Audio | Modality::Video))) = (format, media) {
            if m != Modality::Image {
                return Judged::Stream(m, hash);
            }
            if !self.takes(m) {
                return Judged::Skipped(self.refusal(m));
            }
            if self.unchanged(&ItemId::Str(doc.to_string()), &hash) {
                return Judged::Unchanged;
            }
            return Judged::Image(PendingImage { path: doc.to_string(), hash, bytes });
        }
        let Some(format) = format else {
            return Judged::Failed("unrecognised content (not a document, image, audio or video)".into());
        };
        if matches!(format, Format::Jsonl | Format::Csv) {
            return Judged::Records(format);
        }
        if self.chunker.is_none() || !self.routed(Modality::Text) {
            return Judged::Skipped(self.refusal(Modality::Text));
        }
        if self.unchanged(&chunk_id(doc, 0), &hash) {
            return Judged::Unchanged;
        }
        let started = Instant::now();
        let extracted = kin_extract::extract(bytes, name, &self.options.limits);
        self.summary().timing.extract += started.elapsed();
        match extracted {
            Ok(document) => match self.cut(doc.to_string(), source.map(str::to_string), hash, document, None) {
                Ok(p) => Judged::Document(Box::new(p)),
                Err(reason) => Judged::Failed(reason),
            },
            Err(e) => Judged::Failed(e.to_string()),
        }
    }

    fn add_images(&self, images: Vec<PendingImage>) -> Result<()> {
        if images.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let (items, failed) = image_items(self.model, images)?;
        let n = items.len();
        self.collection.upsert(items)?;
        let mut summary = self.summary();
        summary.timing.embed += started.elapsed();
        summary.failed.extend(failed);
        summary.added += n;
        summary.items += n;
        Ok(())
    }

    fn add_stream(&self, path: &str, hash: &str, modality: Modality) -> Result<()> {
        let started = Instant::now();
        match stream_items(self.model, self.collection, path, hash, modality) {
            Ok((items, stale)) => {
                let n = items.len();
                match self.held.filter(|_| modality == Modality::Video) {
                    Some((space, parts)) => {
                        let (space, path) = (space.to_string(), path.to_string());
                        parts.lock().unwrap_or_else(|e| e.into_inner()).push(VideoPart { space, path, items, stale });
                    }
                    None => self.collection.replace(&stale, items)?,
                }
                let mut summary = self.summary();
                summary.timing.embed += started.elapsed();
                summary.added += 1;
                summary.items += n;
            }
            Err(reason) => self.summary().failed.push((path.to_string(), reason)),
        }
        Ok(())
    }

    fn takes(&self, m: Modality) -> bool {
        self.model.modalities().contains(&m) && self.routed(m)
    }

    /// Whether content of `m` is this run's to embed (see [`IngestOptions::only`]).
    fn routed(&self, m: Modality) -> bool {
        self.options.only.as_ref().is_none_or(|only| only.contains(&m))
    }

    fn refusal(&self, m: Modality) -> String {
        if self.model.modalities().contains(&m) {
            return format!("{m} content goes to another space");
        }
        format!("{m} content; {} embeds {}", self.model.name(), kin_media::modalities(self.model))
    }

    fn unchanged(&self, id: &ItemId, hash: &str) -> bool {
        self.collection.has_content(id, hash).unwrap_or(false)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
