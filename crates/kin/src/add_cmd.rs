//! `kin add`: embed files (text and images) into a collection. Modality comes from content,
//! unchanged files are skipped by hash, images of the next batch are decoded while the current
//! batch is embedded, and a summary says what was skipped or failed and why.

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kin_core::Modality;
use kin_embed::{Embedder, LoadOptions};
use kin_image::Pixels;
use kin_store::{Backend, CollectionWrite, Item, ItemId};
use rayon::prelude::*;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cli::AddArgs;
use kin_media::{embed_stream, hash_file, modalities, pipelined, prepare_image, read_media, sniff, whole_vector};

/// Characters of a text file kept in the payload for display.
const SNIPPET_CHARS: usize = 300;

/// A file to embed, read and hashed; images are decoded and preprocessed before embedding.
struct Pending {
    path: String,
    content: Content,
    hash: String,
}

enum Content {
    Text(String),
    ImageBytes(Vec<u8>),
    Pixels(Pixels),
    /// A video or audio file, embedded window by window (frames, or the sound) as it streams,
    /// in the consuming step.
    Media(Modality),
    Failed(String),
}

#[derive(Default)]
struct Summary {
    added: usize,
    unchanged: usize,
    skipped: Vec<(String, String)>,
    failed: Vec<(String, String)>,
}

pub fn run(store: &dyn Backend, args: AddArgs) -> Result<()> {
    let collection = store.collection(&args.collection)?;
    let Some(model_name) = collection.config().model.clone() else {
        bail!("collection {:?} has no model (it holds bare vectors); use `kin import`", args.collection);
    };
    let mut files = Vec::new();
    for p in &args.paths {
        walk(p, &mut files)?;
    }
    files.sort();
    let model = kin_embed::load_with(&model_name, &LoadOptions::from_env())?;
    let progress = ProgressBar::with_draw_target(Some(files.len() as u64), ProgressDrawTarget::stderr());
    progress.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} files ({per_sec}, eta {eta})")?);

    let summary = Summary::default();
    let model: &dyn Embedder = model.as_ref();
    let takes_images = model.modalities().contains(&Modality::Image);
    let takes_text = model.modalities().contains(&Modality::Text);
    let takes_audio = model.modalities().contains(&Modality::Audio);
    let takes_video = model.modalities().contains(&Modality::Video);
    let summary = RefCell::new(summary);
    // Files are read, hashed and classified lazily, a batch at a time; unchanged ones never
    // reach the pipeline.
    let mut files = files.into_iter();
    let batch_size = args.batch_size.max(1);
    let batches = std::iter::from_fn(|| {
        let mut batch = Vec::new();
        for file in files.by_ref() {
            let shown = file.display().to_string();
            let mut summary = summary.borrow_mut();
            let streamed = match sniff(&file) {
                Ok(Modality::Video) if takes_images || takes_audio || takes_video => Some(Modality::Video),
                Ok(Modality::Audio) if takes_audio => Some(Modality::Audio),
                _ => None,
            };
            if let Some(modality) = streamed {
                match hash_file(&file) {
                    Err(reason) => summary.failed.push((shown, reason)),
                    Ok(hash) if collection.has_content(&ItemId::Str(shown.clone()), &hash).unwrap_or(false) => {
                        summary.unchanged += 1
                    }
                    Ok(hash) => {
                        batch.push(Pending { path: shown, content: Content::Media(modality), hash });
                        if batch.len() >= batch_size {
                            break;
                        }
                        continue;
                    }
                }
                progress.inc(1);
                continue;
            }
            let (modality, bytes) = match read_media(&file) {
                Err(reason) => {
                    summary.failed.push((shown, reason));
                    progress.inc(1);
                    continue;
                }
                Ok(read) => read,
            };
            let hash = hex(&Sha256::digest(&bytes));
            if collection.has_content(&ItemId::Str(shown.clone()), &hash).unwrap_or(false) {
                summary.unchanged += 1;
                progress.inc(1);
                continue;
            }
            let content = match modality {
                Modality::Text if takes_text => match String::from_utf8(bytes) {
                    Ok(text) => Content::Text(text),
                    Err(e) => Content::Failed(format!("not valid UTF-8 at byte {}", e.utf8_error().valid_up_to())),
                },
                Modality::Image if takes_images => Content::ImageBytes(bytes),
                _ => {
                    summary
                        .skipped
                        .push((shown, format!("{modality} content; {model_name} embeds {}", modalities(model))));
                    progress.inc(1);
                    continue;
                }
            };
            batch.push(Pending { path: shown, content, hash });
            if batch.len() >= batch_size {
                break;
            }
        }
        (!batch.is_empty()).then_some(batch)
    });
    // Images of the next batch decode on other threads while this batch is embedded.
    let prepare = |batch: Vec<Pending>| -> Vec<Pending> {
        batch
            .into_par_iter()
            .map(|mut p| {
                if let Content::ImageBytes(bytes) = &p.content {
                    p.content = match prepare_image(model, bytes) {
                        Ok(px) => Content::Pixels(px),
                        Err(reason) => Content::Failed(reason),
                    };
                }
                p
            })
            .collect()
    };
    pipelined(batches, prepare, |batch| -> Result<()> {
        let (mut texts, mut pixels, mut accepted, mut media) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for p in batch {
            progress.inc(1);
            match p.content {
                Content::Failed(reason) => summary.borrow_mut().failed.push((p.path, reason)),
                Content::Text(text) => {
                    texts.push(text.clone());
                    accepted.push((p.path, p.hash, Some(text)));
                }
                Content::Pixels(px) => {
                    pixels.push(px);
                    accepted.push((p.path, p.hash, None));
                }
                Content::Media(modality) => media.push((p.path, p.hash, modality)),
                Content::ImageBytes(_) => unreachable!("prepared above"),
            }
        }
        // Videos and audio files stream window by window; several files run side by side.
        let embedded: Vec<_> = media
            .into_par_iter()
            .map(|(path, hash, modality)| {
                let items = media_items(model, &*collection, &path, &hash, modality);
                (path, items)
            })
            .collect();
        for (path, items) in embedded {
            match items {
                Ok(items) => {
                    summary.borrow_mut().added += 1;
                    collection.upsert(items)?;
                }
                Err(reason) => summary.borrow_mut().failed.push((path, reason)),
            }
        }
        let text_refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let text_vectors = if texts.is_empty() { Vec::new() } else { model.embed_text(&text_refs)? };
        let image_vectors = if pixels.is_empty() { Vec::new() } else { model.embed_pixels(&pixels)? };
        let (mut text_vectors, mut image_vectors) = (text_vectors.into_iter(), image_vectors.into_iter());
        let mut items = Vec::with_capacity(accepted.len());
        for (path, hash, text) in accepted {
            let (vector, payload) = match text {
                Some(t) => (
                    text_vectors.next(),
                    json!({ "path": path, "kind": "text", "text": t.chars().take(SNIPPET_CHARS).collect::<String>() }),
                ),
                None => (image_vectors.next(), json!({ "path": path, "kind": "image" })),
            };
            let Some(vector) = vector else { bail!("the model returned fewer vectors than inputs") };
            items.push(Item {
                id: ItemId::Str(path.clone()),
                vector,
                payload,
                source: Some(path),
                content_hash: Some(hash),
            });
        }
        summary.borrow_mut().added += items.len();
        collection.upsert(items)?;
        Ok(())
    })?;
    progress.finish_and_clear();
    report(&args.collection, &summary.into_inner(), collection.count()?);
    Ok(())
}

/// A video's or audio file's items: one per segment (`PATH#N`, with its start and end in
/// seconds) and one for the whole file (`PATH`). An image model embeds a video's frames, an audio
/// model its sound. Segments left over from an earlier, longer version are deleted.
fn media_items(
    model: &dyn Embedder,
    collection: &dyn CollectionWrite,
    path: &str,
    hash: &str,
    modality: Modality,
) -> Result<Vec<Item>, String> {
    let (segments, duration) = embed_stream(model, Path::new(path), modality)?;
    let kind = modality.as_str();
    let whole = whole_vector(&segments, model.normalized());
    let id = ItemId::Str(path.to_string());
    let before =
        collection.get(&id).map_err(|e| e.to_string())?.and_then(|i| i.payload["segments"].as_u64()).unwrap_or(0)
            as usize;
    if before > segments.len() {
        let stale: Vec<ItemId> = (segments.len()..before).map(|n| ItemId::Str(format!("{path}#{n}"))).collect();
        collection.delete(&stale).map_err(|e| e.to_string())?;
    }
    let mut items: Vec<Item> = segments
        .iter()
        .enumerate()
        .map(|(n, s)| Item {
            id: ItemId::Str(format!("{path}#{n}")),
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
    Ok(items)
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = fs::symlink_metadata(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(path)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            walk(&e, out)?;
        }
    } else if meta.is_file() {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn report(collection: &str, s: &Summary, total: usize) {
    println!(
        "{collection}: {} added, {} unchanged, {} skipped, {} failed ({total} items)",
        s.added,
        s.unchanged,
        s.skipped.len(),
        s.failed.len()
    );
    for (kind, list) in [("skipped", &s.skipped), ("failed", &s.failed)] {
        for (path, reason) in list.iter().take(20) {
            println!("  {kind} {path}: {reason}");
        }
        if list.len() > 20 {
            println!("  … and {} more {kind}", list.len() - 20);
        }
    }
}
