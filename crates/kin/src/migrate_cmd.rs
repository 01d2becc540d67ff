//! `kin migrate`: a collection from one backend to another (the embedded store to Milvus and
//! back), streamed page by page, resumable, and verified by counts and sampled vectors.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kin_store::{Backend, CollectionRead, CollectionWrite, ItemId};
use serde_json::{json, Value};

use crate::backend::open_url;
use crate::cli::MigrateArgs;

/// Items compared between source and destination at the end.
const SAMPLES: usize = 64;

pub fn run(default_source: impl FnOnce() -> Result<Arc<dyn Backend>>, data: &Path, args: MigrateArgs) -> Result<()> {
    let source = match &args.from {
        Some(url) => open_url(url)?,
        None => default_source()?,
    };
    let destination = open_url(&args.to)?;
    let (from, to) = (source.describe(), destination.describe());
    if from == to {
        bail!("the source and the destination are the same ({from})");
    }
    let src = source.collection(&args.collection)?;
    let dst = match destination.collection(&args.collection) {
        Ok(c) => {
            let (a, b) = (src.config(), c.config());
            if shape(a) != shape(b) {
                bail!(
                    "{to} already has a collection {:?} with other settings ({}; the source has {})",
                    args.collection,
                    shape(b),
                    shape(a)
                );
            }
            c
        }
        Err(kin_store::Error::UnknownCollection { .. }) => {
            let mut config = src.config().clone();
            if !destination.text_search() {
                let mut dropped = config.text.take().is_some();
                for space in &mut config.spaces {
                    dropped |= space.settings.text.take().is_some();
                }
                if dropped {
                    eprintln!("note: {to} keeps no text index; {:?} is copied for dense search only", args.collection);
                }
            }
            destination.create(config)?
        }
        Err(e) => return Err(e.into()),
    };

    // A mixed collection moves space by space, each with its own checkpoint.
    let mut parts: Vec<(Option<String>, Arc<dyn CollectionWrite>, Arc<dyn CollectionWrite>)> = Vec::new();
    if src.config().is_mixed() {
        for space in &src.config().spaces {
            let name = &space.settings.name;
            parts.push((
                Some(name.clone()),
                source.space(&args.collection, name)?,
                destination.space(&args.collection, name)?,
            ));
        }
    } else {
        parts.push((None, src.clone(), dst.clone()));
    }
    let total = src.count()?;
    let mut batches = 0usize;
    let mut copied_all = 0usize;
    let mut counted = 0usize;
    for (space, src, dst) in &parts {
        let label = match space {
            Some(s) => format!("{}:{s}", args.collection),
            None => args.collection.clone(),
        };
        let checkpoint = checkpoint_path(data, &label.replace(':', "+"), &from, &to);
        let (copied, samples) = match copy(&**src, &**dst, &checkpoint, &args, (&from, &to), &mut batches)? {
            Copied::All(copied, samples) => (copied, samples),
            Copied::Stopped(copied) => {
                println!(
                    "copied {} of {total} items of {label} to {to}; stopped after {batches} batches: run again to go on",
                    copied_all + copied
                );
                return Ok(());
            }
        };
        counted = verify(&**src, &**dst, &samples)?;
        copied_all += copied;
        if space.is_some() {
            println!("space {label}: {copied} items copied; counts equal, {} sampled items equal", samples.len());
        }
    }
    // A mixed collection's spaces were verified one by one; the whole counts each item once.
    if src.config().is_mixed() {
        counted = equal_counts(&*src, &*dst)?;
    }
    println!(
        "migrated {} from {from} to {to}: {copied_all} items copied of {total}; verified: counts equal ({counted}), sampled items equal",
        args.collection,
    );
    Ok(())
}

/// What must agree for items to move into an existing collection: dimension, metric and model
/// (of each space).
fn shape(config: &kin_store::CollectionConfig) -> String {
    let one = |c: &kin_store::CollectionConfig| {
        format!("{} dimensions, {}, model {}", c.dim, c.metric, c.model.as_deref().unwrap_or("none"))
    };
    if config.is_mixed() {
        let spaces: Vec<String> =
            config.spaces.iter().map(|s| format!("space {}: {}", s.settings.name, one(&s.settings))).collect();
        spaces.join("; ")
    } else {
        one(config)
    }
}

/// How a copy ended.
enum Copied {
    /// Every item: how many (those of earlier runs included), and the ids sampled.
    All(usize, Vec<ItemId>),
    /// `--max-batches` stopped it after this many items.
    Stopped(usize),
}

/// Copies one collection (or space) page by page from its checkpoint.
fn copy(
    src: &dyn CollectionWrite,
    dst: &dyn CollectionWrite,
    checkpoint: &Path,
    args: &MigrateArgs,
    (from, to): (&str, &str),
    batches: &mut usize,
) -> Result<Copied> {
    let mut cursor: Option<String> = None;
    let mut copied = 0usize;
    if !args.fresh {
        if let Ok(text) = std::fs::read_to_string(checkpoint) {
            let saved: Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: unreadable checkpoint", checkpoint.display()))?;
            cursor = saved["cursor"].as_str().map(str::to_string);
            copied = saved["copied"].as_u64().unwrap_or(0) as usize;
            eprintln!("resuming after {copied} items (checkpoint {}; --fresh starts over)", checkpoint.display());
        }
    }
    let total = src.count()?;
    let progress = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    progress.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} items ({per_sec}, eta {eta})")?);
    progress.set_position(copied as u64);
    let mut samples: Vec<ItemId> = Vec::new();
    loop {
        let (page, next) = src.scan(cursor.as_deref(), args.batch.max(1))?;
        let n = page.len();
        // Evenly spread samples: one per page while there is room, then replace in turn.
        if let Some(item) = page.get(*batches % n.max(1)) {
            if samples.len() < SAMPLES {
                samples.push(item.id.clone());
            } else {
                samples[*batches % SAMPLES] = item.id.clone();
            }
        }
        if n > 0 {
            dst.upsert(page)?;
        }
        copied += n;
        *batches += 1;
        progress.inc(n as u64);
        cursor = next;
        match &cursor {
            None => break,
            Some(c) => save_checkpoint(checkpoint, &json!({ "from": from, "to": to, "cursor": c, "copied": copied }))?,
        }
        if args.max_batches.is_some_and(|m| *batches >= m) {
            dst.checkpoint()?;
            progress.finish_and_clear();
            return Ok(Copied::Stopped(copied));
        }
    }
    dst.checkpoint()?;
    progress.finish_and_clear();
    let _ = std::fs::remove_file(checkpoint);
    Ok(Copied::All(copied, samples))
}

/// The items both hold, when they hold as many.
fn equal_counts(src: &dyn CollectionRead, dst: &dyn CollectionRead) -> Result<usize> {
    let (a, b) = (src.count()?, dst.count()?);
    if a != b {
        bail!("verification failed: the source holds {a} items, the destination {b} (did either change during the copy? run with --fresh)");
    }
    Ok(b)
}

/// Counts equal and the sampled items equal; returns the count.
fn verify(src: &dyn CollectionRead, dst: &dyn CollectionWrite, samples: &[ItemId]) -> Result<usize> {
    let count = equal_counts(src, dst)?;
    for id in samples {
        let (Some(x), y) = (src.get(id)?, dst.get(id)?) else { continue };
        let Some(y) = y else { bail!("verification failed: item {id} is missing from the destination") };
        let close = x.vector.len() == y.vector.len()
            && x.vector.iter().zip(&y.vector).all(|(p, q)| (p - q).abs() <= 1e-6 * p.abs().max(1.0));
        if !close || x.payload != y.payload {
            bail!("verification failed: item {id} differs between source and destination");
        }
    }
    Ok(count)
}

fn checkpoint_path(data: &Path, name: &str, from: &str, to: &str) -> PathBuf {
    use sha2::{Digest, Sha256};
    let key: String =
        Sha256::digest(format!("{from}\n{to}").as_bytes()).iter().take(6).map(|b| format!("{b:02x}")).collect();
    data.join("migrations").join(format!("{name}-{key}.json"))
}

/// Written whole, synced and renamed, so a crash leaves the previous checkpoint or the new one.
fn save_checkpoint(path: &Path, value: &Value) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().expect("a checkpoint lives in a folder");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let partial = path.with_extension("partial");
    let mut file = std::fs::File::create(&partial).with_context(|| format!("writing {}", partial.display()))?;
    file.write_all(&serde_json::to_vec(value)?)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
