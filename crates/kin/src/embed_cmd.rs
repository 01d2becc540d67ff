//! `kin embed`: stream inputs through a model, in windows, and write vectors in input order.

use std::time::Instant;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kin_embed::LoadOptions;

use crate::cli::EmbedArgs;
use crate::input::{Record, Records};
use crate::output::Sink;

/// Inputs read ahead and sorted by length together; memory stays flat whatever the input size.
const WINDOW: usize = 4096;

pub fn run(args: EmbedArgs) -> Result<()> {
    let records = Records::open(args.texts, args.input.as_deref())?;
    let mut opts = LoadOptions::from_env();
    opts.token_budget = args.token_budget;
    opts.max_batch = args.batch_size;
    let model = kin_embed::load_with(&args.model, &opts)?;
    let mut sink = Sink::open(args.output.as_deref())?;

    let progress = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    progress.set_style(ProgressStyle::with_template("{spinner} {pos} inputs embedded ({per_sec}, {elapsed})")?);
    let started = Instant::now();
    let (mut done, mut skipped) = (0usize, 0usize);
    let mut window: Vec<Record> = Vec::with_capacity(WINDOW);
    let flush = |window: &mut Vec<Record>, sink: &mut Sink| -> Result<()> {
        let texts: Vec<&str> = window.iter().map(|r| r.text.as_str()).collect();
        let vectors = model.embed_text(&texts)?;
        for (record, vector) in window.iter().zip(&vectors) {
            sink.write(&record.id, vector)?;
        }
        progress.inc(window.len() as u64);
        window.clear();
        Ok(())
    };
    for record in records {
        match record {
            Ok(r) => window.push(r),
            Err(e) if args.skip_invalid => {
                tracing::warn!("skipped {e}");
                skipped += 1;
            }
            Err(e) => return Err(e.into()),
        }
        if window.len() == WINDOW {
            done += window.len();
            flush(&mut window, &mut sink)?;
        }
    }
    done += window.len();
    if !window.is_empty() {
        flush(&mut window, &mut sink)?;
    }
    progress.finish_and_clear();
    let dim = model.dim();
    sink.finish(dim)?;
    if done == 0 {
        tracing::warn!("no inputs: nothing was embedded");
    }
    if let Some(path) = &args.output {
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(
            "embedded {done} inputs ({skipped} skipped) with {} into {} in {secs:.1}s",
            model.name(),
            path.display()
        );
    }
    Ok(())
}
