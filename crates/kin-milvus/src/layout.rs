//! Where a handle's rows live in its Milvus collection.
//!
//! A collection of one model is one set of rows keyed by `id`, its vectors in `vector`. A mixed
//! collection (several vector spaces) is **one** Milvus collection with one vector field per
//! space:
//!
//! | field | type | holds |
//! |---|---|---|
//! | `key` | VarChar, primary key | `SPACE/ID`: an item is a row per space it is in |
//! | `space` | VarChar | the row's space |
//! | `id`, `int_id`, `payload`, `source`, `content_hash` | as in a collection of one model | |
//! | `vector_SPACE` | FloatVector(the space's dimension) | HNSW (or flat) with the space's metric |
//! | `text_SPACE`, `text_sparse_SPACE` | with the space's text index | its analyzed text and BM25 function `kin_bm25_SPACE` |
//!
//! Milvus needs every vector field of every row, and Milvus Lite stores a null vector as zeros,
//! so a row fills the other spaces' fields with a fixed unit vector and their text with `""`.
//! Every read of a space is filtered by `space == "SPACE"`, so those fillers are never returned.
//! A query across spaces is fused by kin, as on the embedded store: Milvus's RRF ranker takes no
//! per-space weights, and its hits would not say which space found them. BM25's statistics are
//! Milvus's over the collection's rows, the other spaces' empty texts included, so text scores
//! differ from a per-space index; within a space the order of terms' weights is kept.

use kin_store::{CollectionConfig, Error, ItemId, Result, TextConfig};
use serde_json::{Map, Value};

use crate::text::{SPARSE_FIELD, TEXT_FIELD};

/// One space's fields.
#[derive(Debug, Clone)]
pub(crate) struct SpaceFields {
    pub(crate) name: String,
    pub(crate) vector: String,
    pub(crate) dim: usize,
    /// With a text index: the analyzed field, the sparse field and the BM25 function.
    pub(crate) text: Option<TextFields>,
}

#[derive(Debug, Clone)]
pub(crate) struct TextFields {
    pub(crate) text: String,
    pub(crate) sparse: String,
    pub(crate) function: String,
    pub(crate) config: TextConfig,
}

/// Where one handle's rows are.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The Milvus collection.
    pub(crate) collection: String,
    /// Whether the collection holds several spaces.
    pub(crate) mixed: bool,
    /// The space this handle reads and writes (its place in `spaces`); `None`: a mixed
    /// collection as a whole.
    pub(crate) own: Option<usize>,
    /// Every space (one, unnamed, for a collection of one model).
    pub(crate) spaces: Vec<SpaceFields>,
}

/// A field name for a space: Milvus's names take letters, digits and `_`.
fn field_name(prefix: &str, space: &str) -> String {
    let tail: String = space.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("{prefix}_{tail}")
}

/// A Milvus string literal.
pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The expression matching rows whose `field` is one of `keys`.
pub(crate) fn keys_filter(field: &str, keys: impl Iterator<Item = String>) -> String {
    format!("{field} in [{}]", keys.map(|k| quote(&k)).collect::<Vec<_>>().join(", "))
}

/// A row's text field (its key, say), `""` when it has none.
pub(crate) fn text_in(row: &Map<String, Value>, field: &str) -> String {
    row.get(field).and_then(Value::as_str).unwrap_or_default().to_string()
}

impl Layout {
    /// The layout of a whole collection.
    pub(crate) fn of(config: &CollectionConfig) -> Result<Layout> {
        if !config.is_mixed() {
            let text = config.text.clone().map(|config| TextFields {
                text: TEXT_FIELD.into(),
                sparse: SPARSE_FIELD.into(),
                function: crate::text::BM25_FUNCTION.into(),
                config,
            });
            let only = SpaceFields { name: String::new(), vector: "vector".into(), dim: config.dim, text };
            return Ok(Layout { collection: config.name.clone(), mixed: false, own: Some(0), spaces: vec![only] });
        }
        let mut spaces: Vec<SpaceFields> = Vec::with_capacity(config.spaces.len());
        for s in &config.spaces {
            let name = s.settings.name.clone();
            let vector = field_name("vector", &name);
            if let Some(other) = spaces.iter().find(|o| o.vector == vector) {
                return Err(Error::InvalidSettings(format!(
                    "spaces {:?} and {name:?} of collection {:?} would share Milvus field {vector:?} (Milvus's field \
                     names take letters, digits and '_'); rename one",
                    other.name, config.name
                )));
            }
            let text = s.settings.text.clone().map(|config| TextFields {
                text: field_name("text", &name),
                sparse: field_name("text_sparse", &name),
                function: field_name("kin_bm25", &name),
                config,
            });
            spaces.push(SpaceFields { name, vector, dim: s.settings.dim, text });
        }
        Ok(Layout { collection: config.name.clone(), mixed: true, own: None, spaces })
    }

    /// The layout of one space of a mixed collection.
    pub(crate) fn space(config: &CollectionConfig, space: &str) -> Result<Layout> {
        let mut layout = Layout::of(config)?;
        let unknown = || Error::UnknownSpace {
            collection: config.name.clone(),
            space: space.to_string(),
            spaces: config.spaces.iter().map(|s| s.settings.name.clone()).collect(),
        };
        if !layout.mixed {
            return Err(unknown());
        }
        layout.own = Some(layout.spaces.iter().position(|s| s.name == space).ok_or_else(unknown)?);
        Ok(layout)
    }

    /// The fields of this handle's space; a whole mixed collection has none.
    pub(crate) fn fields(&self) -> Option<&SpaceFields> {
        self.own.map(|i| &self.spaces[i])
    }

    /// The space's name, for hits (`None` for a collection of one model).
    pub(crate) fn space_name(&self) -> Option<&str> {
        self.fields().filter(|_| self.mixed).map(|s| s.name.as_str())
    }

    /// The primary-key field.
    pub(crate) fn key_field(&self) -> &'static str {
        if self.mixed {
            "key"
        } else {
            "id"
        }
    }

    /// The primary key of an item of this handle's space.
    pub(crate) fn key_of(&self, id: &ItemId) -> String {
        match self.space_name() {
            Some(space) => format!("{space}/{id}"),
            None => id.to_string(),
        }
    }

    /// `expr` narrowed to this handle's rows.
    pub(crate) fn scoped(&self, expr: String) -> String {
        match self.space_name() {
            None => expr,
            Some(space) if expr.is_empty() => format!("space == {}", quote(space)),
            Some(space) => format!("space == {} and ({expr})", quote(space)),
        }
    }

    /// The rows of these items: by primary key within a space, by `id` across a mixed collection.
    pub(crate) fn ids_filter(&self, ids: &[ItemId]) -> String {
        if self.mixed && self.own.is_none() {
            keys_filter("id", ids.iter().map(ItemId::to_string))
        } else {
            keys_filter(self.key_field(), ids.iter().map(|id| self.key_of(id)))
        }
    }

    /// The fields an item is read from: a space's own vector field, or every space's (a row
    /// says which is its own).
    pub(crate) fn item_fields(&self) -> Vec<String> {
        let mut fields: Vec<String> =
            ["id", "int_id", "payload", "source", "content_hash"].iter().map(|s| s.to_string()).collect();
        match self.fields() {
            Some(own) => fields.push(own.vector.clone()),
            None => {
                fields.push("space".into());
                fields.extend(self.spaces.iter().map(|s| s.vector.clone()));
            }
        }
        fields
    }

    /// The vector field a row's vector is in.
    pub(crate) fn vector_of<'a>(&'a self, row: &Map<String, Value>) -> Option<&'a str> {
        match self.fields() {
            Some(own) => Some(&own.vector),
            None => {
                let space = row.get("space")?.as_str()?;
                self.spaces.iter().find(|s| s.name == space).map(|s| s.vector.as_str())
            }
        }
    }

    /// The refusal of a per-space operation on a whole mixed collection.
    pub(crate) fn space_needed(&self) -> Error {
        Error::SpaceNeeded {
            collection: self.collection.clone(),
            spaces: self.spaces.iter().map(|s| s.name.clone()).collect(),
        }
    }
}

/// The filler of another space's vector field: finite, of unit length under every metric.
pub(crate) fn filler(dim: usize) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    if let Some(first) = v.first_mut() {
        *first = 1.0;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use kin_core::Modality;
    use kin_store::SpaceConfig;

    fn mixed() -> CollectionConfig {
        let space = |name: &str, dim| SpaceConfig {
            settings: CollectionConfig::new(name, dim),
            accepts: vec![Modality::Text],
            ingests: vec![Modality::Text],
        };
        CollectionConfig::mixed("m", vec![space("text", 4), space("image-v1", 3)])
    }

    #[test]
    fn spaces_get_their_own_fields_and_keys() {
        let layout = Layout::space(&mixed(), "image-v1").unwrap();
        assert_eq!(layout.fields().unwrap().vector, "vector_image_v1");
        assert_eq!(layout.key_of(&ItemId::Int(7)), "image-v1/7");
        assert_eq!(layout.scoped(String::new()), "space == \"image-v1\"");
        assert_eq!(layout.scoped("n > 1".into()), "space == \"image-v1\" and (n > 1)");
        assert_eq!(layout.ids_filter(&[ItemId::Str("a".into())]), "key in [\"image-v1/a\"]");
        let whole = Layout::of(&mixed()).unwrap();
        assert_eq!(whole.ids_filter(&[ItemId::Int(1)]), "id in [\"1\"]");
        assert!(whole.item_fields().contains(&"vector_text".to_string()));
        assert!(matches!(Layout::space(&mixed(), "audio"), Err(Error::UnknownSpace { .. })));
        assert!(matches!(Layout::space(&CollectionConfig::new("one", 3), "x"), Err(Error::UnknownSpace { .. })));
    }

    #[test]
    fn a_collection_of_one_model_keeps_its_fields() {
        let layout = Layout::of(&CollectionConfig::new("one", 3)).unwrap();
        assert_eq!(layout.key_of(&ItemId::Int(7)), "7");
        assert_eq!(layout.scoped("n > 1".into()), "n > 1");
        assert_eq!(layout.ids_filter(&[ItemId::Int(7)]), "id in [\"7\"]");
        assert_eq!(layout.space_name(), None);
    }

    #[test]
    fn spaces_whose_field_names_meet_are_refused() {
        let mut config = mixed();
        config.spaces[0].settings.name = "image_v1".into();
        let e = Layout::of(&config).unwrap_err();
        assert!(e.to_string().contains("vector_image_v1"), "{e}");
    }
}
