//! Bytes → mono `f32` samples at the file's own rate, packet by packet (never the whole file in
//! memory). The container is recognised from the content, never the file name.

use std::fs::File;
use std::io::Cursor;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{Decoder as CodecDecoder, DecoderOptions, CODEC_TYPE_NULL};
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::{FormatOptions, FormatReader};
use symphonia::core::io::{MediaSource, MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::error::{AudioError, Result};

/// What the container says of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    pub sample_rate: u32,
    pub channels: usize,
    /// The codec's short name (`pcm_s16le`, `flac`, `mp3`, `vorbis`, `aac`, …).
    pub codec: String,
    /// Seconds, when the container knows.
    pub duration: Option<f64>,
}

/// A decoding audio stream: an iterator of mono chunks (the mean of the channels).
pub struct Decoder {
    format: Box<dyn FormatReader>,
    codec: Box<dyn CodecDecoder>,
    track: u32,
    info: SourceInfo,
    buffer: Option<SampleBuffer<f32>>,
    decoded_any: bool,
    /// Set after the end or the first error: the iterator is fused.
    done: bool,
}

fn describe(head: &[u8]) -> String {
    match std::str::from_utf8(&head[..head.len().min(512)]) {
        Ok(t) if t.trim_start().starts_with(['{', '[']) => "JSON text".into(),
        Ok(_) => "text".into(),
        Err(_) => {
            let hex: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("binary data starting {}", hex.join(" "))
        }
    }
}

/// The container a file's first bytes name, for messages about files that fail to open.
fn container(head: &[u8]) -> &'static str {
    match head {
        [b'f', b'L', b'a', b'C', ..] => "FLAC",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'A', b'V', b'E', ..] => "WAV",
        [b'O', b'g', b'g', b'S', ..] => "Ogg",
        [b'I', b'D', b'3', ..] | [0xff, 0xe0..=0xff, ..] => "MP3",
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => "MP4",
        _ => "input",
    }
}

impl Decoder {
    /// Opens a file.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| AudioError::Io { path: path.to_path_buf(), source })?;
        let mut head = vec![0u8; 512];
        let n = {
            use std::io::Read;
            let mut f = File::open(path).map_err(|source| AudioError::Io { path: path.to_path_buf(), source })?;
            f.read(&mut head).unwrap_or(0)
        };
        head.truncate(n);
        Self::new(Box::new(file), &head)
    }

    /// Decodes bytes held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let head = bytes[..bytes.len().min(512)].to_vec();
        Self::new(Box::new(Cursor::new(bytes)), &head)
    }

    /// Decodes a stream read front to back (a pipe, a socket): nothing is held beyond a packet.
    pub fn from_reader(reader: impl std::io::Read + Send + Sync + 'static) -> Result<Self> {
        let mut reader = std::io::BufReader::with_capacity(1 << 16, reader);
        let head = std::io::BufRead::fill_buf(&mut reader).map(<[u8]>::to_vec).unwrap_or_default();
        Self::new(Box::new(ReadOnlySource::new(reader)), &head)
    }

    fn new(source: Box<dyn MediaSource>, head: &[u8]) -> Result<Self> {
        if head.is_empty() {
            return Err(AudioError::Empty("0 bytes"));
        }
        let stream = MediaSourceStream::new(source, Default::default());
        let probed = symphonia::default::get_probe()
            .format(&Hint::new(), stream, &FormatOptions::default(), &MetadataOptions::default())
            .map_err(|e| match e {
                SymphoniaError::Unsupported(m) if m.contains("no suitable format reader") => {
                    AudioError::NotAudio { looks_like: describe(head) }
                }
                SymphoniaError::Unsupported(m) => AudioError::UnsupportedCodec { codec: m.to_string() },
                other => AudioError::Corrupt { format: container(head).into(), message: other.to_string() },
            })?;
        let format = probed.format;
        let track = format
            .tracks()
            .iter()
            .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
            .ok_or(AudioError::Empty("the container holds no audio track"))?;
        let params = track.codec_params.clone();
        let registry = symphonia::default::get_codecs();
        let codec_name = registry
            .get_codec(params.codec)
            .map(|d| d.short_name.to_string())
            .unwrap_or_else(|| format!("{}", params.codec));
        let codec = registry
            .make(&params, &DecoderOptions::default())
            .map_err(|_| AudioError::UnsupportedCodec { codec: codec_name.clone() })?;
        let sample_rate = params.sample_rate.filter(|&r| r > 0).ok_or_else(|| AudioError::Corrupt {
            format: codec_name.clone(),
            message: "the stream has no sample rate".into(),
        })?;
        let channels = params.channels.map_or(1, |c| c.count()).max(1);
        let duration = params.n_frames.map(|n| n as f64 / f64::from(sample_rate));
        let info = SourceInfo { sample_rate, channels, codec: codec_name, duration };
        Ok(Decoder { track: track.id, format, codec, info, buffer: None, decoded_any: false, done: false })
    }

    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn corrupt(&self, message: String) -> AudioError {
        AudioError::Corrupt { format: self.info.codec.clone(), message }
    }
}

impl Iterator for Decoder {
    type Item = Result<Vec<f32>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.next_chunk();
        self.done = !matches!(item, Some(Ok(_)));
        item
    }
}

impl Decoder {
    fn next_chunk(&mut self) -> Option<Result<Vec<f32>>> {
        loop {
            let packet = match self.format.next_packet() {
                Ok(p) => p,
                Err(SymphoniaError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return (!self.decoded_any).then_some(Err(AudioError::Empty("no samples could be decoded")));
                }
                Err(SymphoniaError::ResetRequired) => return None,
                Err(e) => return Some(Err(self.corrupt(e.to_string()))),
            };
            if packet.track_id() != self.track {
                continue;
            }
            let decoded = match self.codec.decode(&packet) {
                Ok(d) => d,
                // A damaged packet inside an otherwise readable stream is skipped, as players do.
                Err(SymphoniaError::DecodeError(_)) if self.decoded_any => continue,
                Err(e) => return Some(Err(self.corrupt(e.to_string()))),
            };
            let spec = *decoded.spec();
            let frames = decoded.frames();
            if frames == 0 {
                continue;
            }
            let needed = decoded.capacity() as u64;
            let buffer = match &mut self.buffer {
                Some(b) if b.capacity() as u64 >= needed * spec.channels.count() as u64 => b,
                slot => slot.insert(SampleBuffer::new(needed, spec)),
            };
            buffer.copy_interleaved_ref(decoded);
            let channels = spec.channels.count().max(1);
            let mono: Vec<f32> = buffer.samples()[..frames * channels]
                .chunks_exact(channels)
                .map(|c| c.iter().sum::<f32>() / channels as f32)
                .collect();
            self.decoded_any = true;
            return Some(Ok(mono));
        }
    }
}
