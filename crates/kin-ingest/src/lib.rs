//! kin's one way in: files or records → extracted text → token-exact chunks → embeddings →
//! items, and media (images, audio, video) → timed segments → items. The command line, the HTTP
//! server and the Python package all add data through [`Ingest`], and read documents back
//! through [`search_documents`].
//!
//! A document is stored as its chunks, items `DOC#N` whose payload says which document they
//! belong to, where they stand in its extracted text (byte and character spans, pages, heading
//! path) and what they say. A changed document replaces all of its chunks in one atomic write.

mod chunk;
mod document;
mod error;
mod media;
mod pipeline;
mod route;
mod search;
mod setup;

pub use chunk::{Chunk, ChunkConfig, Chunker, Tokens};
pub use document::{chunk_id, delete_document, document_items, stale_ids, DocumentChunks};
pub use error::{IngestError, Result};
pub use pipeline::{Ingest, IngestOptions, Outcome, Summary, Timing};
pub use route::{
    across_spaces, fuse_spaces, ingest_routes, merge_summaries, plan_spaces, preset, query_spaces, SpaceFusion, PRESETS,
};
pub use search::{group_by_document, search_documents, search_many, DocumentHit};
pub use setup::{list_files, model_choice, AddOptions, AddProgress, Adder, ModelChoice, Quiet};
