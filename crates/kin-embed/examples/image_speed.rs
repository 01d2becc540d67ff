//! Images per second of an image embedder (CLIP's image tower, ResNet) on preprocessed input:
//! the network alone, without decoding or preprocessing.
//!
//! `cargo run --release -p kin-embed --example image_speed -- MODEL [IMAGES] [ROUNDS]`, where
//! MODEL is anything `kin_embed::load` takes (a folder, e.g. from `make_clip_golden.py --full`).
//! Prints one line: `images_per_second=…`, the best of ROUNDS.

use std::time::Instant;

use kin_image::Image;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let spec = args.next().ok_or_else(|| anyhow::anyhow!("usage: image_speed MODEL [IMAGES] [ROUNDS]"))?;
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let model = kin_embed::load(&spec)?;
    // A smooth 640×480 test picture, preprocessed the model's way.
    let (width, height) = (640u32, 480u32);
    let rgb = (0..width * height)
        .flat_map(|i| {
            let (x, y) = (i % width, i / width);
            [(x * 255 / width) as u8, (y * 255 / height) as u8, ((x + y) % 256) as u8]
        })
        .collect();
    let pixels = model.preprocess_image(&Image { width, height, rgb, alpha: None })?;
    let batch = vec![pixels; n];
    model.embed_pixels(&batch[..2.min(n)])?;
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let start = Instant::now();
        model.embed_pixels(&batch)?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "images_per_second={:.3} images={n} rounds={rounds} threads={}",
        n as f64 / best,
        rayon::current_num_threads()
    );
    Ok(())
}
