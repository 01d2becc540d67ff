//! A collection's settings, fixed at creation and stored as `collection.json`.

use kin_core::{Metric, Modality};
use serde::{Deserialize, Serialize};

use crate::text::Language;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum IndexKind {
    /// Approximate search on our HNSW graph.
    #[default]
    Hnsw,
    /// Exact search by scanning every vector.
    Flat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    #[default]
    None,
    /// int8 scalar quantization for the graph walk, exact re-ranking of the best candidates.
    Int8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionConfig {
    pub name: String,
    /// The model whose vectors the collection holds; `None` for bare vectors (`--dim`).
    pub model: Option<String>,
    pub dim: usize,
    pub metric: Metric,
    pub index: IndexKind,
    /// HNSW links per node.
    pub m: usize,
    pub ef_construction: usize,
    pub quantization: Quantization,
    /// The full-text (BM25) index over payload fields; `None`: dense search only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    /// The named vector spaces of a mixed collection, each bound to its own model and index;
    /// empty for a collection of one model (whose settings are the fields above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spaces: Vec<SpaceConfig>,
    /// The layout of the collection's files: 1 for a collection of one model (files beside the
    /// log, as kin has always written them), 2 for a mixed one (records that name their space,
    /// `spaces/NAME/`). A collection of a later format is refused, never misread.
    #[serde(default = "first_format", skip_serializing_if = "is_first_format")]
    pub format: u32,
}

/// The newest collection format this kin reads and writes.
pub const FORMAT: u32 = 2;

fn first_format() -> u32 {
    1
}

fn is_first_format(format: &u32) -> bool {
    *format == 1
}

/// One vector space of a mixed collection: a model's vectors with their own index, and the
/// kinds of content routed to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpaceConfig {
    /// The space's settings; `name` is the space's name, `spaces` is empty.
    #[serde(flatten)]
    pub settings: CollectionConfig,
    /// What the model reads: a query of one of these is searched here.
    pub accepts: Vec<Modality>,
    /// What `kin add` embeds here: each kind of content goes to one space.
    pub ingests: Vec<Modality>,
}

/// The most spaces a collection holds (a log record names its space in one byte).
pub const MAX_SPACES: usize = 16;

/// A collection's full-text index: which payload fields, how they are analyzed, how scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextConfig {
    /// Payload fields indexed, each on its own (strings, or arrays of strings).
    pub fields: Vec<String>,
    /// Stop words and stemmer; `none` lower-cases only.
    pub language: Language,
    pub stem: bool,
    pub stop_words: bool,
    /// BM25's term-frequency saturation and length normalisation.
    pub k1: f32,
    pub b: f32,
    /// A slot scores its best field plus this times its other fields.
    pub tie_breaker: f32,
}

impl Default for TextConfig {
    /// Elasticsearch's defaults, which BEIR's BM25 baseline used: k1 1.2, b 0.75, the English
    /// analyzer, title and text with tie-breaker 0.5.
    fn default() -> Self {
        TextConfig {
            fields: vec!["title".into(), "text".into()],
            language: Language::English,
            stem: true,
            stop_words: true,
            k1: 1.2,
            b: 0.75,
            tie_breaker: 0.5,
        }
    }
}

impl TextConfig {
    /// Whether a collection of a model reading `modalities` gets a text index without being
    /// asked: models that read text only (their items are text; CLIP's are mostly pictures).
    pub fn by_default_for(modalities: &[kin_core::Modality]) -> bool {
        modalities == [kin_core::Modality::Text]
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidSettings(m));
        if self.fields.is_empty() || self.fields.iter().any(|f| f.trim().is_empty()) {
            return bad("a text index needs at least one payload field, none empty".into());
        }
        if !(self.k1.is_finite() && (0.0..=10.0).contains(&self.k1)) {
            return bad(format!("k1 {} is out of range 0..=10", self.k1));
        }
        if !(self.b.is_finite() && (0.0..=1.0).contains(&self.b)) {
            return bad(format!("b {} is out of range 0..=1", self.b));
        }
        if !(self.tie_breaker.is_finite() && (0.0..=1.0).contains(&self.tie_breaker)) {
            return bad(format!("tie_breaker {} is out of range 0..=1", self.tie_breaker));
        }
        Ok(())
    }
}

impl CollectionConfig {
    pub fn new(name: impl Into<String>, dim: usize) -> Self {
        CollectionConfig {
            name: name.into(),
            model: None,
            dim,
            metric: Metric::Cosine,
            index: IndexKind::Hnsw,
            m: 16,
            ef_construction: 200,
            quantization: Quantization::None,
            text: None,
            spaces: Vec::new(),
            format: 1,
        }
    }

    /// A mixed collection of `spaces` (its own dimension is unused and 0).
    pub fn mixed(name: impl Into<String>, spaces: Vec<SpaceConfig>) -> Self {
        CollectionConfig { spaces, format: 2, ..CollectionConfig::new(name, 0) }
    }

    /// Whether the collection holds several named vector spaces.
    pub fn is_mixed(&self) -> bool {
        !self.spaces.is_empty()
    }

    /// The space of that name, and its place.
    pub fn space(&self, name: &str) -> Option<(usize, &SpaceConfig)> {
        self.spaces.iter().enumerate().find(|(_, s)| s.settings.name == name)
    }

    /// The space each kind of content is added to, by `ingests`.
    pub fn ingest_space(&self, modality: Modality) -> Option<&SpaceConfig> {
        self.spaces.iter().find(|s| s.ingests.contains(&modality))
    }

    pub fn validate(&self) -> Result<()> {
        validate_name(&self.name)?;
        if self.format > FORMAT {
            return Err(Error::InvalidSettings(format!(
                "collection {:?} is of format {}, written by a later kin; this one reads formats up to {FORMAT}",
                self.name, self.format
            )));
        }
        if self.is_mixed() != (self.format == 2) {
            return Err(Error::InvalidSettings(format!(
                "collection {:?}: format {} does not fit {} spaces",
                self.name,
                self.format,
                self.spaces.len()
            )));
        }
        if self.is_mixed() {
            return self.validate_spaces();
        }
        self.validate_settings()
    }

    fn validate_spaces(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidSettings(m));
        if self.spaces.len() > MAX_SPACES {
            return bad(format!("{} spaces; a collection holds at most {MAX_SPACES}", self.spaces.len()));
        }
        for (i, space) in self.spaces.iter().enumerate() {
            let name = &space.settings.name;
            validate_name(name)?;
            if self.spaces[..i].iter().any(|s| &s.settings.name == name) {
                return bad(format!("space {name:?} is declared twice"));
            }
            if space.settings.model.is_none() {
                return bad(format!("space {name:?} names no model"));
            }
            if !space.settings.spaces.is_empty() {
                return bad(format!("space {name:?} holds spaces of its own"));
            }
            space.settings.validate_settings().map_err(|e| Error::InvalidSettings(format!("space {name:?}: {e}")))?;
            for m in &space.ingests {
                if !space.accepts.contains(m) {
                    return bad(format!("space {name:?} is to take {m} content, which its model does not read"));
                }
                if let Some(other) = self.spaces[..i].iter().find(|s| s.ingests.contains(m)) {
                    return bad(format!(
                        "spaces {:?} and {name:?} both take {m} content; say which one does",
                        other.settings.name
                    ));
                }
            }
        }
        Ok(())
    }

    fn validate_settings(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidSettings(m));
        if self.dim == 0 || self.dim > 65_536 {
            return bad(format!("dimension {} is out of range 1..=65536", self.dim));
        }
        if !(2..=256).contains(&self.m) {
            return bad(format!("m {} is out of range 2..=256", self.m));
        }
        if !(1..=10_000).contains(&self.ef_construction) {
            return bad(format!("ef_construction {} is out of range 1..=10000", self.ef_construction));
        }
        if let Some(text) = &self.text {
            text.validate()?;
        }
        Ok(())
    }
}

/// Names become directory names: keep them portable.
pub fn validate_name(name: &str) -> Result<()> {
    let invalid = |reason| Err(Error::InvalidName { name: name.to_string(), reason });
    if name.is_empty() || name.len() > 128 {
        return invalid("must be 1 to 128 characters");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return invalid("must not start with '.' or '-'");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
        return invalid("may hold only ASCII letters, digits, '_', '-' and '.'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_settings_are_checked() {
        assert!(validate_name("photos_2024.v1").is_ok());
        for bad in ["", "../x", ".hidden", "a b", "x/y", "-rf"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        let mut cfg = CollectionConfig::new("c", 0);
        assert!(cfg.validate().is_err());
        cfg.dim = 8;
        assert!(cfg.validate().is_ok());
        cfg.m = 1;
        assert!(cfg.validate().is_err());
    }
}
