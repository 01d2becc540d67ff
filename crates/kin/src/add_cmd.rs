//! `kin add`: files into a collection through kin's one ingestion pipeline (`kin_ingest`):
//! documents are extracted and cut into chunks with the model's tokenizer, record files give one
//! document per record, media become their items; unchanged files are skipped by hash, and a
//! summary says what was skipped or failed and why.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kin_embed::LoadOptions;
use kin_ingest::{ChunkConfig, Ingest, IngestOptions, Summary};
use kin_store::Backend;

use crate::cli::AddArgs;

pub fn run(store: &dyn Backend, args: AddArgs) -> Result<()> {
    let collection = store.collection(&args.collection)?;
    if collection.config().is_mixed() {
        return run_mixed(store, &args, collection.config());
    }
    let Some(model_name) = collection.config().model.clone() else {
        bail!("collection {:?} has no model (it holds bare vectors); use `kin import`", args.collection);
    };
    let files = listed(&args.paths)?;
    let model = kin_embed::load_with(&model_name, &LoadOptions::from_env())?;
    let mut options = IngestOptions { batch_chunks: args.batch_size.max(1), ..IngestOptions::default() };
    if args.chunk_tokens.is_some() || args.chunk_overlap.is_some() {
        let defaults = Ingest::default_chunking(model.as_ref())
            .ok_or_else(|| anyhow::anyhow!("{model_name} takes no text: --chunk-tokens does not apply"))?;
        options.chunking = Some(ChunkConfig {
            target: args.chunk_tokens.unwrap_or(defaults.target),
            overlap: args.chunk_overlap.unwrap_or(defaults.overlap),
        });
    }
    if let Some(mb) = args.max_file_mb {
        options.limits.max_bytes = mb << 20;
    }
    let ingest = Ingest::new(model.as_ref(), &*collection, options)?;
    let progress = ProgressBar::with_draw_target(Some(files.len() as u64), ProgressDrawTarget::stderr());
    progress.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} files ({per_sec}, eta {eta})")?);
    let summary = ingest.add_files(&files, &|| progress.inc(1))?;
    progress.finish_and_clear();
    report(&args.collection, &summary, collection.count()?, args.timing);
    Ok(())
}

/// A mixed collection: each space's model takes its share of the files, one after the other.
fn run_mixed(store: &dyn Backend, args: &AddArgs, config: &kin_store::CollectionConfig) -> Result<()> {
    if args.chunk_tokens.is_some() || args.chunk_overlap.is_some() {
        bail!("--chunk-tokens and --chunk-overlap apply to a collection of one model; a mixed collection's text space uses its model card's");
    }
    let files = listed(&args.paths)?;
    let routes = kin_ingest::ingest_routes(config);
    let progress =
        ProgressBar::with_draw_target(Some((files.len() * routes.len()) as u64), ProgressDrawTarget::stderr());
    progress.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} files × spaces ({per_sec}, eta {eta})")?);
    let mut runs = Vec::with_capacity(routes.len());
    for (space, only) in routes {
        let target = store.space(&args.collection, &space)?;
        let Some(model_name) = target.config().model.clone() else { bail!("space {space} names no model") };
        let model = kin_embed::load_with(&model_name, &LoadOptions::from_env())?;
        let mut options =
            IngestOptions { batch_chunks: args.batch_size.max(1), only: Some(only), ..IngestOptions::default() };
        if let Some(mb) = args.max_file_mb {
            options.limits.max_bytes = mb << 20;
        }
        let ingest = Ingest::new(model.as_ref(), &*target, options)?;
        runs.push((space, ingest.add_files(&files, &|| progress.inc(1))?));
    }
    progress.finish_and_clear();
    let total = store.collection(&args.collection)?.count()?;
    report(&args.collection, &kin_ingest::merge_summaries(runs), total, args.timing);
    Ok(())
}

/// The files under `paths`, directories walked, in order.
fn listed(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        walk(p, &mut files)?;
    }
    files.sort();
    Ok(files)
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

fn report(collection: &str, s: &Summary, total: usize, timing: bool) {
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
    if timing {
        let t = &s.timing;
        println!("  {} items written", s.items);
        println!(
            "  time: extract {:.2} s, chunk {:.2} s (summed over threads), embed {:.2} s, store {:.2} s",
            t.extract.as_secs_f64(),
            t.chunk.as_secs_f64(),
            t.embed.as_secs_f64(),
            t.store.as_secs_f64()
        );
    }
}
