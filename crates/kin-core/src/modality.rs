use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A kind of data. A model card lists the modalities a model embeds; content is classified into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Text,
    Image,
    Audio,
    Video,
}

impl Modality {
    pub const ALL: [Modality; 4] = [Modality::Text, Modality::Image, Modality::Audio, Modality::Video];

    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Text => "text",
            Modality::Image => "image",
            Modality::Audio => "audio",
            Modality::Video => "video",
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown modality {0:?}: expected one of text, image, audio, video")]
pub struct UnknownModality(pub String);

impl FromStr for Modality {
    type Err = UnknownModality;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Modality::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownModality(s.to_string()))
    }
}

/// Classifies content by its leading bytes (magic numbers), never by a file name.
///
/// Returns `None` for bytes that are neither a known media container nor valid UTF-8 text.
pub fn detect_modality(head: &[u8]) -> Option<Modality> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    let at = |offset: usize, magic: &[u8]| {
        head.len() >= offset + magic.len() && &head[offset..offset + magic.len()] == magic
    };

    if starts(b"\xFF\xD8\xFF")
        || starts(b"\x89PNG\r\n\x1a\n")
        || starts(b"GIF87a")
        || starts(b"GIF89a")
        || starts(b"BM")
        || starts(b"II*\0")
        || starts(b"MM\0*")
        || (starts(b"RIFF") && at(8, b"WEBP"))
    {
        return Some(Modality::Image);
    }
    if (starts(b"RIFF") && at(8, b"WAVE"))
        || starts(b"fLaC")
        || starts(b"OggS")
        || starts(b"ID3")
        || (head.len() >= 2 && head[0] == 0xFF && (head[1] & 0xE0) == 0xE0)
    {
        return Some(Modality::Audio);
    }
    if at(4, b"ftyp") {
        // ISO base media: M4A is audio, everything else (mp4, mov, 3gp) is video.
        return Some(if at(8, b"M4A ") { Modality::Audio } else { Modality::Video });
    }
    if starts(b"\x1A\x45\xDF\xA3") || (starts(b"RIFF") && at(8, b"AVI ")) {
        return Some(Modality::Video);
    }
    if looks_like_text(head) {
        return Some(Modality::Text);
    }
    None
}

fn looks_like_text(head: &[u8]) -> bool {
    // A multi-byte character may be cut at the end of the sniffed prefix: allow that.
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    valid && !head.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(detect_modality(b"\x89PNG\r\n\x1a\n...."), Some(Modality::Image));
        assert_eq!(detect_modality(b"\xFF\xD8\xFF\xE0"), Some(Modality::Image));
        assert_eq!(detect_modality(b"RIFF\0\0\0\0WAVEfmt "), Some(Modality::Audio));
        assert_eq!(detect_modality(b"RIFF\0\0\0\0WEBPVP8 "), Some(Modality::Image));
        assert_eq!(detect_modality(b"\0\0\0\x20ftypisom"), Some(Modality::Video));
        assert_eq!(detect_modality(b"\0\0\0\x20ftypM4A "), Some(Modality::Audio));
        assert_eq!(detect_modality("héllo wörld".as_bytes()), Some(Modality::Text));
        assert_eq!(detect_modality(&"日本".as_bytes()[..4]), Some(Modality::Text));
        assert_eq!(detect_modality(b"\xC3\x28 invalid"), None);
        assert_eq!(detect_modality(b"bin\0ary"), None);
    }

    #[test]
    fn parses_modality_names() {
        assert_eq!("Image".parse::<Modality>().unwrap(), Modality::Image);
        assert!("smell".parse::<Modality>().is_err());
    }
}
