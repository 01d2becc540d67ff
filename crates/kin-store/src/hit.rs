//! What searches take and return (`SearchParams`, `Hit` and the ranks that found it), and the
//! checks of items and queries that every backend shares.

use kin_core::filter::Filter;
use kin_core::Metric;
use serde_json::Value;

use crate::config::CollectionConfig;
use crate::item::{Item, ItemId};
use crate::state::State;
use crate::{Error, Result};

/// What a search returns for one item.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: ItemId,
    /// The vector space of a mixed collection the hit was found in (`None` in a collection of
    /// one model).
    pub space: Option<String>,
    /// Similarity for cosine and dot (higher is closer), distance for l2 (lower is closer).
    pub score: f32,
    pub payload: Value,
    pub source: Option<String>,
    /// Which retrievers found the item, and how each ranked it.
    pub found: Found,
}

/// Where each retriever ranked a hit; `None` where it did not find it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Found {
    pub dense: Option<Rank>,
    pub text: Option<Rank>,
}

impl Found {
    /// `{"dense": {"rank": 1, "score": 0.82}, "text": {…}}`, the retrievers that found the hit.
    pub fn to_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (name, rank) in [("dense", self.dense), ("text", self.text)] {
            if let Some(r) = rank {
                out.insert(name.into(), serde_json::json!({ "rank": r.rank, "score": r.score }));
            }
        }
        Value::Object(out)
    }
}

/// A retriever's rank for a hit (1: its best) and the score it gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rank {
    pub rank: u32,
    pub score: f32,
}

/// Where a scan goes on: the compaction epoch and the slot.
pub type ScanCursor = (u64, usize);

/// How to search.
#[derive(Debug, Clone)]
pub struct SearchParams<'a> {
    pub k: usize,
    /// Candidate list size of the graph walk (higher: better recall, slower); at least `k`.
    pub ef: Option<usize>,
    pub filter: Option<&'a Filter>,
    /// Scan every vector instead of walking the graph (the ground truth).
    pub exact: bool,
}

impl Default for SearchParams<'_> {
    fn default() -> Self {
        SearchParams { k: 10, ef: None, filter: None, exact: false }
    }
}

/// Hits for slots, in the order given, with their scores and ranks.
pub(crate) fn hits(state: &State, found: impl Iterator<Item = (u32, f32, Found)>) -> Vec<Hit> {
    found
        .filter_map(|(slot, score, found)| {
            let meta = state.slots.get(slot as usize)?.as_ref()?;
            Some(Hit {
                id: meta.id.clone(),
                space: None,
                score,
                payload: meta.payload.clone(),
                source: meta.source.clone(),
                found,
            })
        })
        .collect()
}

/// Checks a query vector against the collection (every backend refuses the same things).
pub fn validate_query(config: &CollectionConfig, query: &[f32]) -> Result<()> {
    if query.len() != config.dim {
        return Err(Error::QueryDimension { collection: config.name.clone(), expected: config.dim, got: query.len() });
    }
    if let Some((index, value)) = query.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite { id: "query".into(), index, value: *value });
    }
    Ok(())
}

/// Checks items before any of them is written (every backend refuses the same things), and
/// normalises vectors of cosine collections.
pub fn validate_items(config: &CollectionConfig, items: &mut [Item]) -> Result<()> {
    for item in items.iter() {
        let (id, v) = (&item.id, &item.vector);
        if v.len() != config.dim {
            return Err(Error::DimensionMismatch {
                collection: config.name.clone(),
                id: id.to_string(),
                expected: config.dim,
                got: v.len(),
            });
        }
        if let Some((index, value)) = v.iter().enumerate().find(|(_, x)| !x.is_finite()) {
            return Err(Error::NonFinite { id: id.to_string(), index, value: *value });
        }
        if config.metric == Metric::Cosine && v.iter().all(|x| *x == 0.0) {
            return Err(Error::ZeroVector { id: id.to_string() });
        }
    }
    if config.metric == Metric::Cosine {
        for item in items.iter_mut() {
            kin_index::normalize(&mut item.vector);
        }
    }
    Ok(())
}

/// A user-facing score from an index distance.
pub(crate) fn score(metric: Metric, distance: f32) -> f32 {
    match metric {
        Metric::Cosine => 1.0 - distance,
        Metric::Dot => -distance,
        Metric::L2 => distance,
    }
}
