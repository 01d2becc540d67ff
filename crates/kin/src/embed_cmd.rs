//! `kin embed`: stream inputs (texts and image files) through a model, in windows, and write
//! vectors in input order. Files of the next window are decoded and preprocessed while the model
//! embeds the current one.

use std::time::Instant;

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kin_core::Modality;
use kin_embed::{Embedder, LoadOptions};
use kin_image::Pixels;
use rayon::prelude::*;
use serde_json::Value;

use crate::cli::EmbedArgs;
use crate::input::{Input, InputError, Record, Records};
use crate::output::Sink;
use kin_media::{embed_file, pipelined, prepare_image_file, sniff};

/// Inputs read ahead and sorted by length together; memory stays flat whatever the input size.
const WINDOW: usize = 4096;
/// Files per window: small, so that decoding the next window overlaps embedding this one from the
/// start (16 images are two CLIP batches, one per thread); preprocessed images are held until their
/// window is embedded.
const FILE_WINDOW: usize = 16;

/// An input ready for the model, or why it cannot be embedded.
enum Prepared {
    Text(String),
    Pixels(Pixels),
    /// An audio or video file, embedded as it streams in the consuming step.
    Stream(std::path::PathBuf),
    /// A vector already computed (a streamed file).
    Embedded(Vec<f32>),
    Failed {
        input: String,
        reason: String,
    },
}

pub fn run(args: EmbedArgs) -> Result<()> {
    let records = Records::open(args.texts, args.input.as_deref())?;
    let mut opts = LoadOptions::from_env();
    opts.token_budget = args.token_budget;
    opts.max_batch = args.batch_size;
    let spec = args.precision.map_or_else(|| args.model.clone(), |p| p.apply(&args.model));
    let model = kin_embed::load_with(&spec, &opts)?;
    let model: &dyn Embedder = model.as_ref();
    let mut sink = Sink::open(args.output.as_deref())?;

    let progress = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    progress.set_style(ProgressStyle::with_template("{spinner} {pos} inputs embedded ({per_sec}, {elapsed})")?);
    let started = Instant::now();
    let (mut done, skipped) = (0usize, std::cell::Cell::new(0usize));
    let mut bad_record: Option<InputError> = None;
    let windows = Windows { records, skip_invalid: args.skip_invalid, skipped: &skipped, error: &mut bad_record };
    let prepare = |window: Vec<Record>| prepare_window(model, window);
    pipelined(windows, prepare, |mut window: Vec<(Value, Prepared)>| -> Result<()> {
        let mut pixels = Vec::new();
        for (_, p) in &mut window {
            if let Prepared::Pixels(px) = p {
                let empty = Pixels { channels: 3, height: 0, width: 0, data: Vec::new() };
                pixels.push(std::mem::replace(px, empty));
            }
        }
        let texts: Vec<&str> = window
            .iter()
            .filter_map(|(_, p)| if let Prepared::Text(t) = p { Some(t.as_str()) } else { None })
            .collect();
        let embed_texts = if texts.is_empty() { Vec::new() } else { model.embed_text(&texts)? };
        let embed_pixels = if pixels.is_empty() { Vec::new() } else { model.embed_pixels(&pixels)? };
        let (mut text_vectors, mut pixel_vectors) = (embed_texts.into_iter(), embed_pixels.into_iter());
        for (id, p) in window {
            let p = match p {
                Prepared::Stream(path) => match embed_file(model, &path) {
                    Ok(v) => Prepared::Embedded(v),
                    Err(reason) => Prepared::Failed { input: path.display().to_string(), reason },
                },
                other => other,
            };
            let vector = match p {
                Prepared::Text(_) => text_vectors.next(),
                Prepared::Pixels(_) => pixel_vectors.next(),
                Prepared::Embedded(v) => Some(v),
                Prepared::Stream(_) => unreachable!("embedded above"),
                Prepared::Failed { input, reason } if args.skip_invalid => {
                    tracing::warn!("skipped input {id} ({input}): {reason}");
                    skipped.set(skipped.get() + 1);
                    continue;
                }
                Prepared::Failed { input, reason } => {
                    let message = format!("input {id}: {reason}; pass --skip-invalid to go on without it");
                    return Err(InputError { source_name: input, line: None, message }.into());
                }
            };
            let Some(vector) = vector else { bail!("the model returned fewer vectors than inputs") };
            sink.write(&id, &vector)?;
            done += 1;
            progress.inc(1);
        }
        Ok(())
    })?;
    if let Some(e) = bad_record {
        return Err(e.into());
    }
    progress.finish_and_clear();
    sink.finish(model.dim())?;
    if done == 0 {
        tracing::warn!("no inputs: nothing was embedded");
    }
    if let Some(path) = &args.output {
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(
            "embedded {done} inputs ({} skipped) with {} into {} in {secs:.1}s",
            skipped.get(),
            model.name(),
            path.display()
        );
    }
    Ok(())
}

/// Texts pass through; files are read, decoded and preprocessed in parallel.
fn prepare_window(model: &dyn Embedder, window: Vec<Record>) -> Vec<(Value, Prepared)> {
    window
        .into_par_iter()
        .map(|r| {
            let prepared = match r.input {
                Input::Text(t) => Prepared::Text(t),
                Input::File(path) => match sniff(&path) {
                    Ok(Modality::Audio | Modality::Video) => Prepared::Stream(path),
                    _ => match prepare_image_file(model, &path) {
                        Ok(px) => Prepared::Pixels(px),
                        Err(reason) => Prepared::Failed { input: path.display().to_string(), reason },
                    },
                },
            };
            (r.id, prepared)
        })
        .collect()
}

/// Records cut into windows of `WINDOW` inputs or `FILE_WINDOW` files. A bad record ends the
/// stream (kept in `error`) unless bad records are skipped.
struct Windows<'a> {
    records: Records,
    skip_invalid: bool,
    skipped: &'a std::cell::Cell<usize>,
    error: &'a mut Option<InputError>,
}

impl Iterator for Windows<'_> {
    type Item = Vec<Record>;

    fn next(&mut self) -> Option<Vec<Record>> {
        if self.error.is_some() {
            return None;
        }
        let (mut window, mut files) = (Vec::new(), 0);
        while window.len() < WINDOW && files < FILE_WINDOW {
            match self.records.next() {
                None => break,
                Some(Ok(r)) => {
                    files += usize::from(matches!(r.input, Input::File(_)));
                    window.push(r);
                }
                Some(Err(e)) if self.skip_invalid => {
                    tracing::warn!("skipped {e}");
                    self.skipped.set(self.skipped.get() + 1);
                }
                Some(Err(e)) => {
                    *self.error = Some(e);
                    break;
                }
            }
        }
        (!window.is_empty()).then_some(window)
    }
}
