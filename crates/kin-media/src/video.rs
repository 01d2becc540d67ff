//! Video files through Debian's `ffmpeg` and `ffprobe`, run as subprocesses.
//!
//! Why a subprocess rather than bindings: linking libav* ties the build to one FFmpeg version and
//! needs its headers and a C toolchain (bindgen) on every machine that compiles kin; the command
//! line is stable across versions, a crash in a demuxer or codec stays outside kin's process, and
//! frames stream through a pipe, so memory stays bounded by one frame whatever the video's length.
//!
//! Frames are sampled every `every` seconds and at scene changes (ffmpeg's `select` filter with
//! its scene score); each sampled frame starts a segment that lasts until the next one.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};

use kin_image::Image;
use serde_json::Value;

/// How frames are chosen.
#[derive(Debug, Clone, Copy)]
pub struct FrameSampling {
    /// A frame at least this often, in seconds.
    pub every: f64,
    /// Also a frame where ffmpeg's scene-change score exceeds this (0–1).
    pub scene: f64,
}

impl Default for FrameSampling {
    fn default() -> Self {
        FrameSampling { every: 2.0, scene: 0.3 }
    }
}

/// What `ffprobe` says of a file.
#[derive(Debug, Clone)]
pub struct Probe {
    pub width: u32,
    pub height: u32,
    pub duration: f64,
    pub has_audio: bool,
}

fn missing_tool(tool: &str, e: std::io::Error) -> String {
    format!("running {tool}: {e} (video needs FFmpeg: `apt-get install ffmpeg`)")
}

fn stderr_tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(2)..].join("; ")
}

/// The video stream's size, the duration and whether there is sound.
pub fn probe(path: &Path) -> Result<Probe, String> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,width,height:format=duration", "-of", "json"])
        .arg(path)
        .output()
        .map_err(|e| missing_tool("ffprobe", e))?;
    if !out.status.success() {
        return Err(format!("not a readable video: {}", stderr_tail(&out.stderr)));
    }
    let info: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("ffprobe output: {e}"))?;
    let streams = info["streams"].as_array().cloned().unwrap_or_default();
    let video = streams.iter().find(|s| s["codec_type"] == "video").ok_or("the file has no video stream")?;
    let dim = |k: &str| video[k].as_u64().filter(|&v| v > 0 && v <= 16384).map(|v| v as u32);
    let (Some(width), Some(height)) = (dim("width"), dim("height")) else {
        return Err("the video stream has no usable frame size".into());
    };
    let duration = info["format"]["duration"].as_str().and_then(|d| d.parse::<f64>().ok()).unwrap_or(0.0);
    let has_audio = streams.iter().any(|s| s["codec_type"] == "audio");
    Ok(Probe { width, height, duration, has_audio })
}

/// Decodes the sampled frames of `path` in order, calling `each(time_seconds, frame)` for each;
/// one frame is in memory at a time. Returns how many frames were sampled.
pub fn sample_frames(
    path: &Path,
    probe: &Probe,
    sampling: FrameSampling,
    mut each: impl FnMut(f64, Image) -> Result<(), String>,
) -> Result<usize, String> {
    let select = format!(
        "select='isnan(prev_selected_t)+gte(t-prev_selected_t\\,{})+gt(scene\\,{})',showinfo",
        sampling.every, sampling.scene
    );
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "info", "-i"])
        .arg(path)
        .args(["-an", "-vf", &select, "-fps_mode", "vfr", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| missing_tool("ffmpeg", e))?;
    let (mut stdout, stderr) =
        (child.stdout.take().ok_or("no ffmpeg stdout")?, child.stderr.take().ok_or("no ffmpeg stderr")?);
    // showinfo prints one line per selected frame, with its presentation time, on stderr.
    let (times_tx, times_rx) = std::sync::mpsc::channel::<f64>();
    let log = std::thread::spawn(move || {
        let mut tail = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(t) = line.split("pts_time:").nth(1).and_then(|r| r.split_whitespace().next()) {
                let _ = times_tx.send(t.parse().unwrap_or(f64::NAN));
            } else if !line.contains("Parsed_showinfo") {
                tail.push(line);
                if tail.len() > 4 {
                    tail.remove(0);
                }
            }
        }
        tail.join("; ")
    });
    let frame_bytes = probe.width as usize * probe.height as usize * 3;
    let mut count = 0;
    let mut result = Ok(());
    loop {
        let mut rgb = vec![0u8; frame_bytes];
        match stdout.read_exact(&mut rgb) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => {
                result = Err(format!("reading frames from ffmpeg: {e}"));
                break;
            }
        }
        let time = times_rx.recv().unwrap_or(f64::NAN);
        if let Err(e) = each(time, Image { width: probe.width, height: probe.height, rgb, alpha: None }) {
            result = Err(e);
            break;
        }
        count += 1;
    }
    drop(stdout);
    let status = child.wait().map_err(|e| format!("ffmpeg: {e}"))?;
    let tail = log.join().unwrap_or_default();
    result?;
    if !status.success() && count == 0 {
        return Err(format!("ffmpeg could not decode the video: {tail}"));
    }
    Ok(count)
}

/// Streams the sound track as 16 kHz mono `f32` samples (ffmpeg resamples and downmixes) in
/// windows of `window` samples (the last may be shorter), calling `each(first_sample, samples)`.
/// Returns `Ok(false)` without calling `each` when the video has no sound.
pub fn soundtrack(
    path: &Path,
    probe: &Probe,
    window: usize,
    mut each: impl FnMut(usize, &[f32]) -> Result<(), String>,
) -> Result<bool, String> {
    if !probe.has_audio {
        return Ok(false);
    }
    let mut child = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-i"])
        .arg(path)
        .args(["-vn", "-ac", "1", "-ar", "16000", "-f", "f32le", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| missing_tool("ffmpeg", e))?;
    let mut stdout = child.stdout.take().ok_or("no ffmpeg stdout")?;
    let mut stderr = child.stderr.take().ok_or("no ffmpeg stderr")?;
    let log = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let mut bytes = vec![0u8; window.max(1) * 4];
    let (mut first, mut result) = (0usize, Ok(()));
    loop {
        let mut filled = 0;
        while filled < bytes.len() {
            match stdout.read(&mut bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) => {
                    result = Err(format!("reading the sound track from ffmpeg: {e}"));
                    break;
                }
            }
        }
        let samples: Vec<f32> = bytes[..filled - filled % 4]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if result.is_err() || samples.is_empty() {
            break;
        }
        if let Err(e) = each(first, &samples) {
            result = Err(e);
            break;
        }
        first += samples.len();
        if filled < bytes.len() {
            break;
        }
    }
    drop(stdout);
    let status = child.wait().map_err(|e| format!("ffmpeg: {e}"))?;
    let log = log.join().unwrap_or_default();
    result?;
    if !status.success() {
        return Err(format!("ffmpeg could not decode the sound track: {}", stderr_tail(&log)));
    }
    Ok(true)
}

/// `count` consecutive frames at `fps` from `start` seconds: the centre square of each, resized to
/// `side`×`side`. Frames past the end of the video repeat the last one.
pub fn clip_frames(path: &Path, start: f64, count: usize, fps: f64, side: usize) -> Result<Vec<Image>, String> {
    let filter = format!("fps={fps},crop='min(iw,ih)':'min(iw,ih)',scale={side}:{side}");
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-ss", &format!("{start:.3}"), "-i"])
        .arg(path)
        .args(["-an", "-vf", &filter, "-frames:v", &count.to_string(), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .map_err(|e| missing_tool("ffmpeg", e))?;
    if !out.status.success() {
        return Err(format!("ffmpeg could not decode the video: {}", stderr_tail(&out.stderr)));
    }
    let bytes = side * side * 3;
    let mut frames: Vec<Image> = out
        .stdout
        .chunks_exact(bytes)
        .map(|rgb| Image { width: side as u32, height: side as u32, rgb: rgb.to_vec(), alpha: None })
        .collect();
    let last = frames.last().cloned().ok_or("no frames at this time")?;
    frames.resize(count, last);
    Ok(frames)
}

/// `count` mono samples at `rate` Hz from `start` seconds (silence where the video has none).
pub fn clip_audio(path: &Path, probe: &Probe, start: f64, count: usize, rate: u32) -> Result<Vec<f32>, String> {
    let mut samples = Vec::new();
    if probe.has_audio {
        let duration = count as f64 / f64::from(rate);
        let out = Command::new("ffmpeg")
            .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-ss", &format!("{start:.3}"), "-i"])
            .arg(path)
            .args(["-t", &format!("{duration:.4}"), "-vn", "-ac", "1", "-ar", &rate.to_string(), "-f", "f32le", "-"])
            .output()
            .map_err(|e| missing_tool("ffmpeg", e))?;
        if !out.status.success() {
            return Err(format!("ffmpeg could not decode the sound track: {}", stderr_tail(&out.stderr)));
        }
        samples = out.stdout.as_chunks::<4>().0.iter().map(|&b| f32::from_le_bytes(b)).collect();
    }
    samples.resize(count, 0.0);
    Ok(samples)
}

/// Segments `[start, end)` from sorted frame times: each lasts until the next frame, the last
/// until the end of the video.
pub fn segments(times: &[f64], duration: f64) -> Vec<(f64, f64)> {
    times
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            let end = times.get(i + 1).copied().unwrap_or(duration.max(t));
            (t, end)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_run_to_the_next_frame_and_the_last_to_the_end() {
        assert_eq!(segments(&[0.0, 2.0, 3.5], 6.0), vec![(0.0, 2.0), (2.0, 3.5), (3.5, 6.0)]);
        assert_eq!(segments(&[0.0], 0.0), vec![(0.0, 0.0)]);
        assert!(segments(&[], 5.0).is_empty());
    }
}
