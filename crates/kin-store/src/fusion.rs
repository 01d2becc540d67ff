//! Search modes and the fusion of dense and text results: reciprocal-rank fusion (Cormack et
//! al., k = 60, what Milvus, Qdrant and LanceDB default to) or a weighted sum of min-max
//! normalised scores (Weaviate's relative-score fusion, `alpha` for the dense side).

use std::collections::HashMap;
use std::hash::Hash;
use std::str::FromStr;

use kin_core::Metric;

use crate::hit::{Found, Hit, Rank, SearchParams};
use crate::item::ItemId;
use crate::{Error, Result};

/// Each retriever of a hybrid search fetches at least this many candidates before fusion.
pub const HYBRID_DEPTH: usize = 100;

/// Which retrievers a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SearchMode {
    /// Vectors only: the query embedded with the collection's model.
    #[default]
    Dense,
    /// The full-text (BM25) index only.
    Text,
    /// Both, fused.
    Hybrid,
}

impl SearchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SearchMode::Dense => "dense",
            SearchMode::Text => "text",
            SearchMode::Hybrid => "hybrid",
        }
    }
}

impl FromStr for SearchMode {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "dense" => Ok(SearchMode::Dense),
            "text" => Ok(SearchMode::Text),
            "hybrid" => Ok(SearchMode::Hybrid),
            other => Err(format!("unknown search mode {other:?}; use dense, text or hybrid")),
        }
    }
}

/// How a hybrid search merges its two lists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Score `Σ 1 / (k + rank)` over the lists that hold the item.
    Rrf { k: f32 },
    /// Score `alpha · dense + (1 − alpha) · text`, each list's scores min-max normalised to 0..1.
    Weighted { alpha: f32 },
}

impl Default for Fusion {
    fn default() -> Self {
        Fusion::Rrf { k: 60.0 }
    }
}

impl Fusion {
    pub fn validate(self) -> Result<Self> {
        match self {
            Fusion::Rrf { k } if !(k.is_finite() && k >= 0.0) => {
                Err(Error::InvalidSearch(format!("rrf k {k} must be a number of at least 0")))
            }
            Fusion::Weighted { alpha } if !(alpha.is_finite() && (0.0..=1.0).contains(&alpha)) => {
                Err(Error::InvalidSearch(format!("alpha {alpha} is out of range 0..=1")))
            }
            f => Ok(f),
        }
    }
}

/// One search's question.
#[derive(Debug, Clone, Copy)]
pub enum Query<'a> {
    Dense(&'a [f32]),
    Text(&'a str),
    Hybrid { vector: &'a [f32], text: &'a str, fusion: Fusion },
}

impl<'a> Query<'a> {
    /// The query of `mode` for a query that has a vector (empty for text mode) and a text.
    pub fn of(mode: SearchMode, vector: &'a [f32], text: &'a str, fusion: Fusion) -> Self {
        match mode {
            SearchMode::Dense => Query::Dense(vector),
            SearchMode::Text => Query::Text(text),
            SearchMode::Hybrid => Query::Hybrid { vector, text, fusion },
        }
    }
}

/// What each side of a hybrid search fetches: at least [`HYBRID_DEPTH`] candidates (and as wide
/// a graph walk), the rest of `params` as given.
pub(crate) fn candidate_params<'a>(params: &SearchParams<'a>) -> SearchParams<'a> {
    let depth = params.k.max(HYBRID_DEPTH);
    SearchParams { k: depth, ef: params.ef.map(|ef| ef.max(depth)), ..params.clone() }
}

/// Marks each hit with the rank (from 1) and score its retriever gave it.
pub(crate) fn ranked(mut hits: Vec<Hit>, text: bool) -> Vec<Hit> {
    for (i, h) in hits.iter_mut().enumerate() {
        let rank = Some(Rank { rank: i as u32 + 1, score: h.score });
        if text {
            h.found.text = rank;
        } else {
            h.found.dense = rank;
        }
    }
    hits
}

/// The best `k` of two ranked lists of `(key, score)` (best first each) by `fusion`, with each
/// key's fused score and the ranks that made it. Dense scores of an l2 collection are distances
/// (lower is closer) and are turned round before weighting.
pub(crate) fn fuse_keys<K: Copy + Eq + Hash + Ord>(
    dense: &[(K, f32)],
    text: &[(K, f32)],
    fusion: Fusion,
    metric: Metric,
    k: usize,
) -> Vec<(K, f32, Found)> {
    let dense_norm = normaliser(dense, metric == Metric::L2);
    let text_norm = normaliser(text, false);
    let mut found: HashMap<K, Found> = HashMap::with_capacity(dense.len() + text.len());
    for (i, &(key, score)) in dense.iter().enumerate() {
        found.entry(key).or_default().dense = Some(Rank { rank: i as u32 + 1, score });
    }
    for (i, &(key, score)) in text.iter().enumerate() {
        found.entry(key).or_default().text = Some(Rank { rank: i as u32 + 1, score });
    }
    let mut fused: Vec<(K, f32, Found)> = found
        .into_iter()
        .map(|(key, f)| {
            let score = match fusion {
                Fusion::Rrf { k } => {
                    let part = |r: Option<Rank>| r.map_or(0.0, |r| 1.0 / (k + r.rank as f32));
                    part(f.dense) + part(f.text)
                }
                Fusion::Weighted { alpha } => {
                    let d = f.dense.map_or(0.0, |r| dense_norm(r.score));
                    let t = f.text.map_or(0.0, |r| text_norm(r.score));
                    alpha * d + (1.0 - alpha) * t
                }
            };
            (key, score, f)
        })
        .collect();
    // Ties: the better dense rank, then the better text rank, then the key, so results are stable.
    let rank_key = |r: Option<Rank>| r.map_or(u32::MAX, |r| r.rank);
    fused.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(rank_key(a.2.dense).cmp(&rank_key(b.2.dense)))
            .then(rank_key(a.2.text).cmp(&rank_key(b.2.text)))
            .then(a.0.cmp(&b.0))
    });
    fused.truncate(k);
    fused
}

/// [`fuse_keys`] over hits (for backends that return hits, not slots).
pub(crate) fn fuse(dense: Vec<Hit>, text: Vec<Hit>, fusion: Fusion, metric: Metric, k: usize) -> Vec<Hit> {
    let mut pool: Vec<Hit> = Vec::with_capacity(dense.len() + text.len());
    let mut seen: HashMap<ItemId, u32> = HashMap::new();
    let mut keys = |hits: Vec<Hit>, pool: &mut Vec<Hit>| -> Vec<(u32, f32)> {
        hits.into_iter()
            .map(|h| {
                let score = h.score;
                let key = *seen.entry(h.id.clone()).or_insert_with(|| {
                    pool.push(h);
                    pool.len() as u32 - 1
                });
                (key, score)
            })
            .collect()
    };
    let dense_keys = keys(dense, &mut pool);
    let text_keys = keys(text, &mut pool);
    fuse_keys(&dense_keys, &text_keys, fusion, metric, k)
        .into_iter()
        .map(|(key, score, found)| Hit { score, found, ..pool[key as usize].clone() })
        .collect()
}

/// Min-max normalisation of a list's scores to 0..1 (1 best); one score or all equal give 1.
fn normaliser<K>(list: &[(K, f32)], lower_is_better: bool) -> impl Fn(f32) -> f32 {
    let (lo, hi) = list.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &(_, s)| (lo.min(s), hi.max(s)));
    move |s| {
        let span = hi - lo;
        if span.is_nan() || span <= 0.0 {
            return 1.0;
        }
        let x = (s - lo) / span;
        if lower_is_better {
            1.0 - x
        } else {
            x
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn hits(ids: &[i64], scores: &[f32]) -> Vec<Hit> {
        ids.iter()
            .zip(scores)
            .map(|(&id, &score)| Hit {
                id: ItemId::Int(id),
                space: None,
                score,
                payload: Value::Null,
                source: None,
                found: Found::default(),
            })
            .collect()
    }

    fn ids(h: &[Hit]) -> Vec<i64> {
        h.iter().map(|h| if let ItemId::Int(i) = h.id { i } else { -1 }).collect()
    }

    #[test]
    fn rrf_rewards_agreement_and_says_who_found_what() {
        let dense = hits(&[1, 2, 3], &[0.9, 0.8, 0.7]);
        let text = hits(&[3, 4, 1], &[12.0, 9.0, 3.0]);
        let fused = fuse(dense, text, Fusion::default(), Metric::Cosine, 10);
        assert_eq!(ids(&fused), [1, 3, 2, 4]);
        let one = &fused[0];
        assert_eq!(one.found.dense.map(|r| r.rank), Some(1));
        assert_eq!(one.found.text.map(|r| r.rank), Some(3));
        assert!((one.score - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-7);
        assert!(fused[2].found.text.is_none() && fused[3].found.dense.is_none());
        assert_eq!(fuse(hits(&[1], &[1.0]), hits(&[2], &[1.0]), Fusion::default(), Metric::Cosine, 1).len(), 1);
    }

    #[test]
    fn weighted_fusion_moves_with_alpha_and_turns_distances_round() {
        let dense = || hits(&[1, 2], &[0.1, 0.9]); // l2 distances: 1 is nearer
        let text = || hits(&[2, 1], &[5.0, 1.0]);
        let all_dense = fuse(dense(), text(), Fusion::Weighted { alpha: 1.0 }, Metric::L2, 2);
        assert_eq!(ids(&all_dense), [1, 2]);
        let all_text = fuse(dense(), text(), Fusion::Weighted { alpha: 0.0 }, Metric::L2, 2);
        assert_eq!(ids(&all_text), [2, 1]);
        assert!(Fusion::Weighted { alpha: 1.5 }.validate().is_err());
        assert!(Fusion::Rrf { k: f32::NAN }.validate().is_err());
    }

    #[test]
    fn modes_parse() {
        assert_eq!("hybrid".parse::<SearchMode>(), Ok(SearchMode::Hybrid));
        assert!("bm25".parse::<SearchMode>().unwrap_err().contains("dense, text or hybrid"));
    }
}
