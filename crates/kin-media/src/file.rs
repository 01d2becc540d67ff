//! Files to embed: read, classified by their content (never their name), decoded and
//! preprocessed for a model; and the pipeline that prepares the next batch while the model works
//! on the current one.

use std::fs;
use std::io::Read;
use std::path::Path;

use kin_core::{detect_modality, Modality};
use kin_embed::Embedder;
use kin_image::{Limits, Pixels};

/// Larger files are refused before they are read.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// A file's content and its modality, judged from the first bytes. The error says why the file
/// cannot be embedded, for the summary.
pub fn read_media(path: &Path) -> Result<(Modality, Vec<u8>), String> {
    let mut file = fs::File::open(path).map_err(|e| e.to_string())?;
    let len = file.metadata().map_err(|e| e.to_string())?.len();
    if len > MAX_FILE_BYTES {
        return Err(format!("{len} bytes, more than the limit of {MAX_FILE_BYTES}"));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    if bytes.is_empty() {
        return Err("empty file".into());
    }
    match detect_modality(&bytes[..bytes.len().min(8192)]) {
        Some(m) => Ok((m, bytes)),
        None => Err("unrecognised content (not text, image, audio or video)".into()),
    }
}

/// A file's modality from its first bytes, without reading the rest.
pub fn sniff(path: &Path) -> Result<Modality, String> {
    let mut head = Vec::with_capacity(8192);
    fs::File::open(path).and_then(|f| f.take(8192).read_to_end(&mut head)).map_err(|e| e.to_string())?;
    if head.is_empty() {
        return Err("empty file".into());
    }
    detect_modality(&head).ok_or_else(|| "unrecognised content (not text, image, audio or video)".into())
}

/// The sha256 of a file, read in pieces (for files too large to hold, like videos).
pub fn hash_file(path: &Path) -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let mut file = fs::File::open(path).map_err(|e| e.to_string())?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// One stretch of a video and its vector.
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub vector: Vec<f32>,
}

/// Frames sampled from a video (every few seconds and at scene changes), embedded with an image
/// model in batches as they stream out of ffmpeg. Returns the segments and the video's duration.
pub fn embed_video_frames(model: &dyn Embedder, path: &Path) -> Result<(Vec<Segment>, f64), String> {
    const BATCH: usize = 32;
    let probe = crate::video::probe(path)?;
    let (mut times, mut pixels, mut vectors) = (Vec::new(), Vec::new(), Vec::new());
    let flush = |pixels: &mut Vec<Pixels>, vectors: &mut Vec<Vec<f32>>| -> Result<(), String> {
        if !pixels.is_empty() {
            vectors.extend(model.embed_pixels(pixels).map_err(|e| e.to_string())?);
            pixels.clear();
        }
        Ok(())
    };
    crate::video::sample_frames(path, &probe, Default::default(), |time, frame| {
        times.push(time);
        pixels.push(model.preprocess_image(&frame).map_err(|e| e.to_string())?);
        if pixels.len() == BATCH {
            flush(&mut pixels, &mut vectors)?;
        }
        Ok(())
    })?;
    flush(&mut pixels, &mut vectors)?;
    if vectors.is_empty() {
        return Err("no frames could be decoded".into());
    }
    let duration = probe.duration.max(times.last().copied().unwrap_or(0.0));
    let spans = crate::video::segments(&times, duration);
    let segments =
        spans.into_iter().zip(vectors).map(|((start, end), vector)| Segment { start, end, vector }).collect();
    Ok((segments, duration))
}

/// Windows of audio embedded a few at a time (side by side, one per thread) as they arrive.
pub struct AudioSegments<'a> {
    model: &'a dyn Embedder,
    pending: Vec<(f64, Vec<f32>)>,
    segments: Vec<Segment>,
}

impl<'a> AudioSegments<'a> {
    pub fn new(model: &'a dyn Embedder) -> Self {
        AudioSegments { model, pending: Vec::new(), segments: Vec::new() }
    }

    /// Adds a window of 16 kHz samples starting `start` seconds into the file.
    pub fn push(&mut self, start: f64, samples: Vec<f32>) -> Result<(), String> {
        self.pending.push((start, samples));
        if self.pending.len() >= rayon::current_num_threads().max(1) {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let windows: Vec<&[f32]> = self.pending.iter().map(|(_, w)| w.as_slice()).collect();
        let vectors = self.model.embed_audio(&windows).map_err(|e| e.to_string())?;
        for ((start, w), vector) in self.pending.drain(..).zip(vectors) {
            let end = start + w.len() as f64 / f64::from(kin_audio::SAMPLE_RATE);
            self.segments.push(Segment { start, end, vector });
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<Segment>, String> {
        self.flush()?;
        if self.segments.is_empty() {
            return Err("the audio is empty".into());
        }
        Ok(self.segments)
    }
}

/// A file's sound as timed segments: an audio file decoded by kin, or a video's sound track
/// through ffmpeg. Memory holds a window or two whatever the length.
pub fn embed_audio_file(model: &dyn Embedder, path: &Path, modality: Modality) -> Result<Vec<Segment>, String> {
    let window = model.audio_window().ok_or_else(|| format!("{} embeds no audio", model.name()))?;
    let mut segments = AudioSegments::new(model);
    if modality == Modality::Video {
        let probe = crate::video::probe(path)?;
        let had_sound = crate::video::soundtrack(path, &probe, window, |first, samples| {
            segments.push(first as f64 / f64::from(kin_audio::SAMPLE_RATE), samples.to_vec())
        })?;
        if !had_sound {
            return Err("the video has no sound track".into());
        }
    } else {
        let decoder = kin_audio::Decoder::open(path).map_err(|e| e.to_string())?;
        for w in kin_audio::Windows::new(decoder, window, 0) {
            let w = w.map_err(|e| e.to_string())?;
            segments.push(w.start, w.samples)?;
        }
    }
    segments.finish()
}

/// A video model's clips (frames and sound together) every two seconds.
pub fn embed_video_clips(model: &dyn Embedder, path: &Path) -> Result<(Vec<Segment>, f64), String> {
    const EVERY: f64 = 2.0;
    let clip = model.video_clip().ok_or_else(|| format!("{} embeds no video clips", model.name()))?;
    let probe = crate::video::probe(path)?;
    let duration = probe.duration.max(0.0);
    let starts: Vec<f64> = (0..).map(|i| i as f64 * EVERY).take_while(|t| *t == 0.0 || *t < duration).collect();
    let mut vectors = Vec::with_capacity(starts.len());
    for &start in &starts {
        let frames = crate::video::clip_frames(path, start, clip.frames, clip.fps, clip.side)?;
        let audio = crate::video::clip_audio(path, &probe, start, clip.audio_samples, clip.audio_rate)?;
        vectors.push(model.embed_video_clip(&frames, &audio).map_err(|e| e.to_string())?);
    }
    let spans = crate::video::segments(&starts, duration);
    Ok((
        spans.into_iter().zip(vectors).map(|((start, end), vector)| Segment { start, end, vector }).collect(),
        duration,
    ))
}

/// Timed segments of a video or audio file: a video model embeds clips of frames and sound, an
/// image model a video's frames, an audio model its sound. Returns the segments and the duration.
pub fn embed_stream(model: &dyn Embedder, path: &Path, modality: Modality) -> Result<(Vec<Segment>, f64), String> {
    if modality == Modality::Video && model.video_clip().is_some() {
        return embed_video_clips(model, path);
    }
    if modality == Modality::Video && model.modalities().contains(&Modality::Image) {
        return embed_video_frames(model, path);
    }
    if !model.modalities().contains(&Modality::Audio) {
        return Err(format!("{modality} content; {} embeds {}", model.name(), modalities(model)));
    }
    let segments = embed_audio_file(model, path, modality)?;
    let duration = segments.last().map_or(0.0, |s| s.end);
    Ok((segments, duration))
}

/// One vector for a whole media file (an image, or a video's or audio file's segments averaged).
pub fn embed_file(model: &dyn Embedder, path: &Path) -> Result<Vec<f32>, String> {
    match sniff(path)? {
        Modality::Image => {
            let pixels = prepare_image_file(model, path)?;
            let mut v = model.embed_pixels(&[pixels]).map_err(|e| e.to_string())?;
            v.pop().ok_or_else(|| "the model returned no vector".to_string())
        }
        m @ (Modality::Audio | Modality::Video) => {
            let (segments, _) = embed_stream(model, path, m)?;
            Ok(whole_vector(&segments, model.normalized()))
        }
        Modality::Text => Err(format!("text content; pass the text itself, not a file, to {}", model.name())),
    }
}

/// The duration-weighted mean of segment vectors (every segment counts at least a little, so a
/// zero-length last segment is not lost), normalised when the model's vectors are.
pub fn whole_vector(segments: &[Segment], normalized: bool) -> Vec<f32> {
    let dim = segments.first().map_or(0, |s| s.vector.len());
    let mut out = vec![0.0f32; dim];
    for s in segments {
        let w = (s.end - s.start).max(1e-3) as f32;
        for (o, v) in out.iter_mut().zip(&s.vector) {
            *o += w * v;
        }
    }
    let total: f32 = segments.iter().map(|s| (s.end - s.start).max(1e-3) as f32).sum();
    out.iter_mut().for_each(|o| *o /= total.max(f32::MIN_POSITIVE));
    if normalized {
        let norm = out.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        out.iter_mut().for_each(|o| *o /= norm);
    }
    out
}

/// What `model` embeds, for messages: "text and image".
pub fn modalities(model: &dyn Embedder) -> String {
    model.modalities().iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" and ")
}

/// Decodes and preprocesses image bytes for `model`.
pub fn prepare_image(model: &dyn Embedder, bytes: &[u8]) -> Result<Pixels, String> {
    let image = kin_image::decode(bytes, &Limits::default()).map_err(|e| e.to_string())?;
    model.preprocess_image(&image).map_err(|e| e.to_string())
}

/// Reads a file that must be an image and prepares it for `model`.
pub fn prepare_image_file(model: &dyn Embedder, path: &Path) -> Result<Pixels, String> {
    let (modality, bytes) = read_media(path)?;
    if modality != Modality::Image {
        return Err(format!("{modality} content; {} embeds {}", model.name(), modalities(model)));
    }
    if !model.modalities().contains(&Modality::Image) {
        return Err(format!("image content; {} embeds {} only", model.name(), modalities(model)));
    }
    prepare_image(model, &bytes)
}

/// Runs `prepare` on each batch on a second thread while `consume` handles the one before, so
/// reading, decoding and preprocessing overlap inference. Batches are consumed in order; the
/// first error from `consume` stops the pipeline.
pub fn pipelined<B: Send, P: Send, E>(
    batches: impl Iterator<Item = B>,
    prepare: impl Fn(B) -> P + Sync,
    mut consume: impl FnMut(P) -> Result<(), E>,
) -> Result<(), E> {
    std::thread::scope(|scope| {
        let prepare = &prepare;
        let mut pending: Option<std::thread::ScopedJoinHandle<'_, P>> = None;
        let join = |h: std::thread::ScopedJoinHandle<'_, P>| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        for batch in batches {
            let next = scope.spawn(move || prepare(batch));
            if let Some(done) = pending.replace(next) {
                consume(join(done))?;
            }
        }
        match pending {
            Some(done) => consume(join(done)),
            None => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipeline_keeps_order_and_stops_at_the_first_error() {
        let mut seen = Vec::new();
        let r: Result<(), String> = pipelined(
            0..10,
            |i| i * 2,
            |v| {
                seen.push(v);
                Ok(())
            },
        );
        assert!(r.is_ok());
        assert_eq!(seen, (0..10).map(|i| i * 2).collect::<Vec<_>>());

        let mut seen = Vec::new();
        let r = pipelined(
            0..10,
            |i| i,
            |v| {
                seen.push(v);
                if v == 3 {
                    Err(format!("stop at {v}"))
                } else {
                    Ok(())
                }
            },
        );
        assert_eq!(r, Err("stop at 3".to_string()));
        assert_eq!(seen, vec![0, 1, 2, 3]);
    }

    #[test]
    fn files_are_judged_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.jpg");
        fs::write(&empty, b"").unwrap();
        assert_eq!(read_media(&empty).unwrap_err(), "empty file");
        let text = dir.path().join("photo.jpg");
        fs::write(&text, b"just some words").unwrap();
        assert_eq!(read_media(&text).unwrap().0, Modality::Text);
    }
}
