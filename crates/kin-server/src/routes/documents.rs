//! Uploaded documents (text, Markdown, HTML, PDF, DOCX) go through kin's ingestion pipeline, on
//! the model's own thread: extracted, cut into chunks, embedded, and written as one change per
//! document, exactly as `kin add` does.

use std::sync::Arc;

use kin_ingest::{Ingest, IngestOptions, Outcome};
use kin_store::{CollectionWrite, ItemId};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// An uploaded file: its name, bytes and the payload sent with it.
pub struct Upload {
    pub name: String,
    pub data: Vec<u8>,
    pub payload: Map<String, Value>,
}

/// Whether an uploaded file is a document for the pipeline (not media, not a record file).
pub fn is_document(data: &[u8], name: &str) -> bool {
    kin_extract::sniff(data, Some(name)).is_some_and(|f| !kin_extract::is_records(f))
}

/// Adds uploaded documents to `collection`; returns the ids of the chunks written. A document
/// that yields no text is refused with the reason, naming the file.
pub async fn add(
    state: &Arc<AppState>,
    collection: Arc<dyn CollectionWrite>,
    uploads: Vec<Upload>,
) -> Result<Vec<ItemId>, ApiError> {
    let Some(model) = collection.config().model.clone() else {
        return Err(ApiError::bad_request(
            "no_model",
            format!(
                "collection {:?} holds bare vectors (it has no model): give each item a \"vector\"",
                collection.name()
            ),
        ));
    };
    let batcher = state.models.get(&model).await?;
    let rx = batcher
        .run(uploads.len(), move |model| -> Result<Vec<ItemId>, ApiError> {
            let ingest = Ingest::new(model, &*collection, IngestOptions::default())?;
            let mut ids = Vec::new();
            for u in uploads {
                match ingest.add_bytes(&u.name, u.data, &u.payload)? {
                    Outcome::Added { ids: added } => ids.extend(added),
                    Outcome::Unchanged => {}
                    Outcome::Skipped(reason) | Outcome::Failed(reason) => {
                        return Err(ApiError::bad_request("invalid_document", format!("{}: {reason}", u.name)))
                    }
                }
            }
            Ok(ids)
        })
        .map_err(|_| ApiError::queue_full(1))?;
    rx.await.map_err(|_| ApiError::internal("the model's thread stopped"))?
}
