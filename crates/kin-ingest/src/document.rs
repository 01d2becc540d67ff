//! A document as items: one per chunk, `DOC#N`, each carrying where it stands in the document.

use kin_extract::Document;
use kin_store::{CollectionRead, CollectionWrite, Item, ItemId};
use serde_json::{json, Map, Value};

use crate::chunk::Chunk;
use crate::Result;

/// The id of chunk `n` of document `doc`.
pub fn chunk_id(doc: &str, n: usize) -> ItemId {
    ItemId::Str(format!("{doc}#{n}"))
}

/// One document, cut and embedded, ready to become items.
pub struct DocumentChunks<'a> {
    /// The document's id: its path, or a record's id.
    pub doc: &'a str,
    pub document: &'a Document,
    pub chunks: &'a [Chunk],
    /// sha256 of the document's content, on every chunk (unchanged documents are skipped).
    pub hash: &'a str,
    /// The file the document came from (`None` for records).
    pub source: Option<&'a str>,
}

/// The items of a document, one per chunk and vector, in order.
pub fn document_items(d: &DocumentChunks, vectors: Vec<Vec<f32>>) -> Vec<Item> {
    let total = d.chunks.len();
    d.chunks
        .iter()
        .zip(vectors)
        .enumerate()
        .map(|(n, (chunk, vector))| {
            let mut payload = Map::new();
            // A record's own fields first, so that kin's names win a clash.
            for (key, value) in &d.document.fields {
                payload.insert(key.clone(), value.clone());
            }
            let mut put = |key: &str, value: Value| {
                payload.insert(key.to_string(), value);
            };
            put("doc", json!(d.doc));
            put("kind", json!("document"));
            if let Some(format) = d.document.format {
                put("format", json!(format.as_str()));
            }
            put("chunk", json!(n));
            put("chunks", json!(total));
            put("start", json!(chunk.start));
            put("end", json!(chunk.end));
            put("char_start", json!(chunk.char_start));
            put("char_end", json!(chunk.char_end));
            put("tokens", json!(chunk.tokens));
            if let Some((first, last)) = d.document.pages_of(chunk.start, chunk.end) {
                put("page", json!(first));
                put("pages", json!([first, last]));
            }
            let headings = d.document.heading_path(chunk.start);
            if !headings.is_empty() {
                put("headings", json!(headings));
            }
            if let Some(title) = &d.document.title {
                put("title", json!(title));
            }
            if let Some(path) = d.source {
                put("path", json!(path));
            }
            put("text", json!(&d.document.text[chunk.start..chunk.end]));
            Item {
                id: chunk_id(d.doc, n),
                vector,
                payload: Value::Object(payload),
                source: d.source.map(str::to_string),
                content_hash: Some(d.hash.to_string()),
            }
        })
        .collect()
}

/// The ids that a document of `chunks` chunks no longer has: the chunks past its end that an
/// earlier, longer version stored, and the one whole-file item that kin kept for a text file
/// before it cut documents into chunks.
pub fn stale_ids(collection: &dyn CollectionRead, doc: &str, chunks: usize) -> Result<Vec<ItemId>> {
    let before = stored_chunks(collection, doc)?;
    let mut stale: Vec<ItemId> = (chunks..before).map(|n| chunk_id(doc, n)).collect();
    let whole = ItemId::Str(doc.to_string());
    if collection.get(&whole)?.is_some() {
        stale.push(whole);
    }
    Ok(stale)
}

fn stored_chunks(collection: &dyn CollectionRead, doc: &str) -> Result<usize> {
    Ok(collection.get(&chunk_id(doc, 0))?.and_then(|i| i.payload["chunks"].as_u64()).unwrap_or(0) as usize)
}

/// Deletes a document: all of its chunks (or, for a video or audio file, its segments and the
/// whole-file item). Returns how many items were deleted.
pub fn delete_document(collection: &dyn CollectionWrite, doc: &str) -> Result<usize> {
    let chunks = stored_chunks(collection, doc)?;
    let whole = ItemId::Str(doc.to_string());
    let segments = collection.get(&whole)?.and_then(|i| i.payload["segments"].as_u64()).unwrap_or(0) as usize;
    let mut ids: Vec<ItemId> = (0..chunks.max(segments)).map(|n| chunk_id(doc, n)).collect();
    ids.push(whole);
    Ok(collection.delete(&ids)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kin_extract::{Format, Heading};

    #[test]
    fn items_carry_their_place_in_the_document() {
        let document = Document {
            text: "# Top\n\nalpha beta\n\ngamma".into(),
            format: Some(Format::Markdown),
            title: Some("Top".into()),
            headings: vec![Heading { start: 0, end: 5, level: 1, title: "Top".into() }],
            fields: [("year".to_string(), json!(2020)), ("doc".to_string(), json!("clash"))].into_iter().collect(),
            ..Default::default()
        };
        let chunks = [
            Chunk { start: 0, end: 17, char_start: 0, char_end: 17, tokens: 6 },
            Chunk { start: 19, end: 24, char_start: 19, char_end: 24, tokens: 3 },
        ];
        let d = DocumentChunks { doc: "a.md", document: &document, chunks: &chunks, hash: "h", source: Some("a.md") };
        let items = document_items(&d, vec![vec![1.0], vec![2.0]]);
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].id, ItemId::Str("a.md#1".into()));
        let p = &items[1].payload;
        assert_eq!(p["doc"], "a.md");
        assert_eq!(p["text"], "gamma");
        assert_eq!(p["chunk"], 1);
        assert_eq!(p["chunks"], 2);
        assert_eq!(p["headings"], json!(["Top"]));
        assert_eq!(p["year"], 2020);
        assert_eq!(p["format"], "markdown");
        assert!(p.get("pages").is_none());
        assert_eq!(items[0].content_hash.as_deref(), Some("h"));
    }
}
