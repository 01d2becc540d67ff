//! Audio seconds embedded per wall-clock second by the Whisper encoder (log-mel in, vectors out;
//! decoding and feature extraction excluded).
//!
//! `cargo run --release -p kin-embed --example whisper_speed -- DIR [WINDOWS] [ROUNDS]`, where DIR
//! is a Hugging Face Whisper folder (e.g. `kin models pull whisper-base`). Prints one line:
//! `audio_seconds_per_second=…`, the best of ROUNDS, each window 30 s of audio.

use std::path::PathBuf;
use std::time::Instant;

use kin_embed::WhisperEncoder;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!("usage: whisper_speed DIR [WINDOWS] [ROUNDS]"))?);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let model = WhisperEncoder::load(&dir)?;
    let (mels, frames) = (model.config().num_mel_bins, model.config().frames());
    let mel: Vec<f32> = (0..mels * frames).map(|i| ((i * 7919 % 2003) as f32 / 1001.0) - 1.0).collect();
    let windows: Vec<(&[f32], usize)> = (0..n).map(|_| (mel.as_slice(), frames / 2)).collect();
    model.embed_windows(&windows[..1])?;
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let start = Instant::now();
        model.embed_windows(&windows)?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!("audio_seconds_per_second={:.3} windows={n} rounds={rounds}", n as f64 * 30.0 / best);
    Ok(())
}
