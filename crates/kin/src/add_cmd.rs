//! `kin add`: files into a collection through kin's one ingestion pipeline (`kin_ingest`):
//! documents are extracted and cut into chunks with the model's tokenizer, record files give one
//! document per record, media become their items; unchanged files are skipped by hash, and a
//! summary says what was skipped or failed and why.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kin_ingest::{AddOptions, AddProgress, Summary};
use kin_store::Backend;

use crate::cli::AddArgs;

pub fn run(store: &dyn Backend, args: AddArgs) -> Result<()> {
    let files = kin_ingest::list_files(&args.paths)?;
    let options = AddOptions {
        batch_size: args.batch_size.max(1),
        chunk_tokens: args.chunk_tokens,
        chunk_overlap: args.chunk_overlap,
        max_file_mb: args.max_file_mb,
    };
    let bar = Bar(ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()));
    let summary = kin_ingest::Adder::new(store, &args.collection, &options)?.add(&files, &bar)?;
    bar.0.finish_and_clear();
    report(&args.collection, &summary, store.collection(&args.collection)?.count()?, args.timing);
    Ok(())
}

/// The bar on stderr: files, or files × spaces for a mixed collection.
struct Bar(ProgressBar);

impl AddProgress for Bar {
    fn start(&self, steps: u64) {
        self.0.set_length(steps);
        if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} files ({per_sec}, eta {eta})") {
            self.0.set_style(style);
        }
    }

    fn step(&self) {
        self.0.inc(1);
    }
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
