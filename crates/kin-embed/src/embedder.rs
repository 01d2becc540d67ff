use kin_core::Modality;
use kin_image::{Image, Pixels};
use rayon::prelude::*;

use crate::tokenize::TextTokenizer;
use crate::{Error, Result};

/// One row per input, in input order.
pub type Embeddings = Vec<Vec<f32>>;

/// A model that turns inputs into vectors. Synchronous, batch in / batch out, shareable across threads.
///
/// Vectors from different embedders never compare: a collection is bound to one embedder's `name()`.
pub trait Embedder: Send + Sync {
    /// The model's registry name (or its local path when it has none).
    fn name(&self) -> &str;

    /// Length of every vector this embedder returns.
    fn dim(&self) -> usize;

    /// What kinds of input this embedder takes.
    fn modalities(&self) -> &[Modality];

    /// Whether returned vectors have unit length.
    fn normalized(&self) -> bool;

    /// Embeds texts; one vector per text, in input order. An empty slice gives an empty result.
    fn embed_text(&self, texts: &[&str]) -> Result<Embeddings> {
        let _ = texts;
        Err(Error::UnsupportedModality { model: self.name().to_string(), modality: Modality::Text })
    }

    /// Whether `tokenize` and `embed_tokenized` work (local text encoders), so that callers can
    /// count tokens, batch by them, and take pre-tokenised input.
    fn tokenizes(&self) -> bool {
        false
    }

    /// The tokenizer of the model's text input, for cutting documents into chunks that fit
    /// (`None` for models without local text input, or whose tokenizer kin does not hold).
    fn text_tokenizer(&self) -> Option<&TextTokenizer> {
        None
    }

    /// Token ids of each text as the model reads them: special tokens added, truncated.
    fn tokenize(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>> {
        let _ = texts;
        Err(Error::UnsupportedModality { model: self.name().to_string(), modality: Modality::Text })
    }

    /// A caller's pre-tokenised inputs (ids of the model's own vocabulary, without special
    /// tokens) made into what `tokenize` gives. An id outside the vocabulary is an error.
    fn wrap_tokens(&self, tokens: &[Vec<u32>]) -> Result<Vec<Vec<u32>>> {
        let _ = tokens;
        Err(Error::UnsupportedModality { model: self.name().to_string(), modality: Modality::Text })
    }

    /// Embeds sequences from `tokenize` or `wrap_tokens`; one vector each, in input order.
    /// `embed_text` is `tokenize` then `embed_tokenized`.
    fn embed_tokenized(&self, ids: &[Vec<u32>]) -> Result<Embeddings> {
        let _ = ids;
        Err(Error::UnsupportedModality { model: self.name().to_string(), modality: Modality::Text })
    }

    /// Turns one decoded image into the tensor the model takes (resize, crop, normalise as the
    /// checkpoint's preprocessor does). Cheap to run ahead of `embed_pixels`, on other threads.
    fn preprocess_image(&self, image: &Image) -> Result<Pixels> {
        let _ = image;
        Err(Error::UnsupportedModality { model: self.name().to_string(), modality: Modality::Image })
    }

    /// Embeds images already preprocessed by `preprocess_image`; one vector each, in input order.
    fn embed_pixels(&self, pixels: &[Pixels]) -> Result<Embeddings> {
        let _ = pixels;
        Err(Error::UnsupportedModality { model: self.name().to_string(), modality: Modality::Image })
    }

    /// Embeds decoded images (see `kin_image::decode`); one vector per image, in input order.
    fn embed_image(&self, images: &[Image]) -> Result<Embeddings> {
        let pixels = images.par_iter().map(|img| self.preprocess_image(img)).collect::<Result<Vec<_>>>()?;
        self.embed_pixels(&pixels)
    }

    /// Samples of 16 kHz mono audio one embedding covers (Whisper: 480,000, 30 s); `None` when
    /// the model embeds no audio.
    fn audio_window(&self) -> Option<usize> {
        None
    }

    /// Embeds windows of 16 kHz mono audio, each at most `audio_window()` samples; one vector
    /// per window, in input order.
    fn embed_audio(&self, windows: &[&[f32]]) -> Result<Embeddings> {
        let _ = windows;
        Err(Error::UnsupportedModality { model: self.name().to_string(), modality: Modality::Audio })
    }

    /// What a video model takes per clip (frames at 25 per second, and the sound), or `None`.
    fn video_clip(&self) -> Option<VideoClip> {
        None
    }

    /// Embeds one clip: `frames` is `video_clip().frames` RGB frames of `side`×`side`, `audio`
    /// `video_clip().audio_samples` mono samples at `audio_rate`.
    fn embed_video_clip(&self, frames: &[Image], audio: &[f32]) -> Result<Vec<f32>> {
        let _ = (frames, audio);
        Err(Error::UnsupportedModality { model: self.name().to_string(), modality: Modality::Video })
    }
}

/// The shape of one clip a video model embeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoClip {
    pub frames: usize,
    /// Frames per second.
    pub fps: f64,
    /// Square frame side in pixels.
    pub side: usize,
    pub audio_samples: usize,
    pub audio_rate: u32,
}
