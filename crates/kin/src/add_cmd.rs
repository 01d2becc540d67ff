//! `kin add`: embed files into a collection. Modality comes from content, unchanged files are
//! skipped by hash, and a summary says what was skipped or failed and why.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kin_core::{detect_modality, Modality};
use kin_embed::LoadOptions;
use kin_store::{Item, ItemId, Store};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::cli::AddArgs;

/// Characters of a text file kept in the payload for display.
const SNIPPET_CHARS: usize = 300;

struct Pending {
    path: String,
    text: String,
    hash: String,
}

#[derive(Default)]
struct Summary {
    added: usize,
    unchanged: usize,
    skipped: Vec<(String, String)>,
    failed: Vec<(String, String)>,
}

pub fn run(data: &Path, args: AddArgs) -> Result<()> {
    let store = Store::open(data)?;
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

    let mut summary = Summary::default();
    let mut batch: Vec<Pending> = Vec::new();
    let flush = |batch: &mut Vec<Pending>, summary: &mut Summary| -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let texts: Vec<&str> = batch.iter().map(|p| p.text.as_str()).collect();
        let vectors = model.embed_text(&texts)?;
        let items = batch
            .drain(..)
            .zip(vectors)
            .map(|(p, v)| Item {
                id: ItemId::Str(p.path.clone()),
                vector: v,
                payload: json!({ "path": p.path, "text": p.text.chars().take(SNIPPET_CHARS).collect::<String>() }),
                source: Some(p.path),
                content_hash: Some(p.hash),
            })
            .collect::<Vec<_>>();
        summary.added += items.len();
        collection.upsert(items)?;
        Ok(())
    };
    for file in files {
        progress.inc(1);
        let shown = file.display().to_string();
        match read_file(&file) {
            Err(reason) => summary.failed.push((shown, reason)),
            Ok((Modality::Text, bytes)) => match String::from_utf8(bytes) {
                Err(e) => {
                    summary.failed.push((shown, format!("not valid UTF-8 at byte {}", e.utf8_error().valid_up_to())))
                }
                Ok(text) => {
                    let hash = hex(&Sha256::digest(text.as_bytes()));
                    if collection.has_content(&ItemId::Str(shown.clone()), &hash) {
                        summary.unchanged += 1;
                    } else {
                        batch.push(Pending { path: shown, text, hash });
                    }
                }
            },
            Ok((modality, _)) => {
                summary.skipped.push((shown, format!("{modality} content; {model_name} embeds text only")));
            }
        }
        if batch.len() >= args.batch_size.max(1) {
            flush(&mut batch, &mut summary)?;
        }
    }
    flush(&mut batch, &mut summary)?;
    progress.finish_and_clear();
    report(&args.collection, &summary, collection.count());
    Ok(())
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

/// The file's content and its modality, judged from the first bytes.
fn read_file(path: &Path) -> Result<(Modality, Vec<u8>), String> {
    let mut bytes = Vec::new();
    fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(|e| e.to_string())?;
    if bytes.is_empty() {
        return Err("empty file".into());
    }
    let head = &bytes[..bytes.len().min(8192)];
    match detect_modality(head) {
        Some(m) => Ok((m, bytes)),
        None => Err("unrecognised content (not text, image, audio or video)".into()),
    }
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
