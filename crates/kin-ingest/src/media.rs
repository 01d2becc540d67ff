//! Images, audio and video into items: an image is one item; a video or audio file is one item
//! per timed segment (`PATH#N`, with its start and end in seconds) and one for the whole file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use kin_core::Modality;
use kin_embed::Embedder;
use kin_image::Pixels;
use kin_media::{embed_stream, prepare_image, whole_vector};
use kin_store::{CollectionWrite, Item, ItemId};
use rayon::prelude::*;
use serde_json::json;

use crate::document::chunk_id;

/// A video's items for one space, held so that all its spaces are written as one change
/// (`CollectionWrite::replace_in_spaces`).
pub(crate) struct VideoPart {
    pub space: String,
    pub path: String,
    pub items: Vec<Item>,
    pub stale: Vec<ItemId>,
}

/// Where the runs of a mixed collection's spaces leave their video parts.
pub(crate) type VideoParts = std::sync::Mutex<Vec<VideoPart>>;

/// Writes the parts of each video in one change across its spaces, in the order the videos
/// were met.
pub(crate) fn write_videos(collection: &dyn CollectionWrite, parts: Vec<VideoPart>) -> kin_store::Result<()> {
    let mut videos: Vec<(String, Vec<VideoPart>)> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for part in parts {
        let i = *at.entry(part.path.clone()).or_insert_with(|| {
            videos.push((part.path.clone(), Vec::new()));
            videos.len() - 1
        });
        videos[i].1.push(part);
    }
    for (_, mine) in videos {
        let mut seen = HashSet::new();
        let stale: Vec<ItemId> = mine.iter().flat_map(|p| &p.stale).filter(|id| seen.insert(*id)).cloned().collect();
        collection.replace_in_spaces(&stale, mine.into_iter().map(|p| (p.space, p.items)).collect())?;
    }
    Ok(())
}

/// An image read and waiting for its vector.
pub(crate) struct PendingImage {
    pub path: String,
    pub hash: String,
    pub bytes: Vec<u8>,
}

/// Images that could not be used: each path with the reason.
pub(crate) type Refused = Vec<(String, String)>;

/// Images decoded and preprocessed in parallel, embedded in one batch. Returns the items, and the
/// images that could not be used with the reason.
pub(crate) fn image_items(model: &dyn Embedder, images: Vec<PendingImage>) -> kin_embed::Result<(Vec<Item>, Refused)> {
    let prepared: Vec<(PendingImage, Result<Pixels, String>)> = images
        .into_par_iter()
        .map(|p| {
            let px = prepare_image(model, &p.bytes);
            (PendingImage { bytes: Vec::new(), ..p }, px)
        })
        .collect();
    let mut failed = Vec::new();
    let mut accepted = Vec::new();
    let mut pixels = Vec::new();
    for (p, px) in prepared {
        match px {
            Ok(px) => {
                pixels.push(px);
                accepted.push(p);
            }
            Err(reason) => failed.push((p.path, reason)),
        }
    }
    if pixels.is_empty() {
        return Ok((Vec::new(), failed));
    }
    let vectors = model.embed_pixels(&pixels)?;
    let items = accepted
        .into_iter()
        .zip(vectors)
        .map(|(p, vector)| Item {
            id: ItemId::Str(p.path.clone()),
            vector,
            payload: json!({ "path": p.path, "kind": "image" }),
            source: Some(p.path),
            content_hash: Some(p.hash),
        })
        .collect();
    Ok((items, failed))
}

/// A video's or audio file's items: one per segment and one for the whole file. An image model
/// embeds a video's frames, an audio model its sound. Segments left over from an earlier, longer
/// version are deleted with the same write.
pub(crate) fn stream_items(
    model: &dyn Embedder,
    collection: &dyn CollectionWrite,
    path: &str,
    hash: &str,
    modality: Modality,
) -> Result<(Vec<Item>, Vec<ItemId>), String> {
    let (segments, duration) = embed_stream(model, Path::new(path), modality)?;
    let kind = modality.as_str();
    let whole = whole_vector(&segments, model.normalized());
    let id = ItemId::Str(path.to_string());
    let before =
        collection.get(&id).map_err(|e| e.to_string())?.and_then(|i| i.payload["segments"].as_u64()).unwrap_or(0)
            as usize;
    let stale: Vec<ItemId> = (segments.len()..before).map(|n| chunk_id(path, n)).collect();
    let mut items: Vec<Item> = segments
        .iter()
        .enumerate()
        .map(|(n, s)| Item {
            id: chunk_id(path, n),
            vector: s.vector.clone(),
            payload: json!({ "path": path, "kind": kind, "start": s.start, "end": s.end, "segment": n }),
            source: Some(path.to_string()),
            content_hash: None,
        })
        .collect();
    items.push(Item {
        id,
        vector: whole,
        payload: json!({ "path": path, "kind": kind, "start": 0.0, "end": duration, "segments": segments.len() }),
        source: Some(path.to_string()),
        content_hash: Some(hash.to_string()),
    });
    Ok((items, stale))
}
