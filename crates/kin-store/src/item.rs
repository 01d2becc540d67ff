//! What a collection holds: items with an id, a vector, a JSON payload, their source and a hash.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An item's id: a string or an integer, as the user gave it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ItemId {
    Int(i64),
    Str(String),
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemId::Int(i) => write!(f, "{i}"),
            ItemId::Str(s) => write!(f, "{s}"),
        }
    }
}

impl From<i64> for ItemId {
    fn from(v: i64) -> Self {
        ItemId::Int(v)
    }
}

impl From<&str> for ItemId {
    fn from(v: &str) -> Self {
        ItemId::Str(v.to_string())
    }
}

impl From<String> for ItemId {
    fn from(v: String) -> Self {
        ItemId::Str(v)
    }
}

/// One stored item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: ItemId,
    pub vector: Vec<f32>,
    #[serde(default)]
    pub payload: Value,
    /// Path or URI the item was made from.
    #[serde(default)]
    pub source: Option<String>,
    /// Hash of the content the vector was made from (skips unchanged files).
    #[serde(default)]
    pub content_hash: Option<String>,
}

impl Item {
    pub fn new(id: impl Into<ItemId>, vector: Vec<f32>) -> Self {
        Item { id: id.into(), vector, payload: Value::Null, source: None, content_hash: None }
    }

    pub fn with_payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }
}
