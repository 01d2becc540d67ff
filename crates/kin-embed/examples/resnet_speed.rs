//! Images per second of a ResNet on 224×224 inputs.
//!
//! `cargo run --release -p kin-embed --example resnet_speed -- DIR [BATCH] [ROUNDS]`, where DIR
//! holds a checkpoint `ResNet::load` reads (e.g. from `make_resnet_golden.py --full`). Prints
//! the default schedule (`Exec::Parallel`: images side by side, one per thread) and, for
//! comparison, one image at a time with every thread inside each convolution.

use std::path::PathBuf;
use std::time::Instant;

use kin_embed::{Exec, ResNet};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!("usage: resnet_speed DIR [BATCH] [ROUNDS]"))?);
    let batch: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(16);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let model = ResNet::load(&dir)?;
    let size = 3 * 224 * 224;
    let pixels: Vec<f32> = (0..batch * size).map(|i| ((i * 7919 % 2003) as f32 / 1001.0) - 1.0).collect();
    model.forward(&pixels[..size], 1, 224, 224, Exec::Parallel);

    let schedules: [(&str, &dyn Fn()); 2] = [
        ("images side by side", &|| drop(model.forward(&pixels, batch, 224, 224, Exec::Parallel))),
        ("one image at a time", &|| {
            for image in pixels.chunks_exact(size) {
                drop(model.forward(image, 1, 224, 224, Exec::Parallel));
            }
        }),
    ];
    for (name, run) in schedules {
        let mut best = f64::INFINITY;
        for _ in 0..rounds {
            let start = Instant::now();
            run();
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!("{name}: {:.2} images/s (batch {batch}, best of {rounds})", batch as f64 / best);
    }
    Ok(())
}
