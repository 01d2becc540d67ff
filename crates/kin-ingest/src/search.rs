//! Search by document: the best chunk of each document stands for it.

use std::collections::HashMap;

use kin_store::{CollectionRead, Hit, Query, SearchParams};

use crate::Result;

/// One document in results: its best chunk and how many of its chunks were among the hits.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentHit {
    /// The document's id (`payload.doc`; the item's id for items that are not chunks).
    pub doc: String,
    pub best: Hit,
    pub matched_chunks: usize,
}

/// Groups chunk hits (best first) by document, keeping each document's best chunk, at most `k`.
pub fn group_by_document(hits: Vec<Hit>, k: usize) -> Vec<DocumentHit> {
    let mut order: Vec<DocumentHit> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for hit in hits {
        let doc = match hit.payload.get("doc").and_then(|d| d.as_str()) {
            Some(d) => d.to_string(),
            None => hit.id.to_string(),
        };
        match seen.get(&doc) {
            Some(&i) => order[i].matched_chunks += 1,
            None => {
                seen.insert(doc.clone(), order.len());
                order.push(DocumentHit { doc, best: hit, matched_chunks: 1 });
            }
        }
    }
    order.truncate(k);
    order
}

/// The `params.k` best documents for `query` (any mode): chunks are searched (filters apply to
/// chunks) and grouped; more chunks are fetched while too few documents came back and more exist.
/// Text is scored a document at a time where the backend can ([`CollectionRead::find_documents`]).
pub fn search_documents(
    collection: &dyn CollectionRead,
    query: &Query,
    params: &SearchParams,
) -> Result<Vec<DocumentHit>> {
    let k = params.k.max(1);
    let total = collection.count()?;
    let mut fetch = (k * 4).max(40);
    loop {
        let ef = params.ef.map(|ef| ef.max(fetch));
        let hits = collection.find_documents(query, &SearchParams { k: fetch, ef, ..params.clone() })?;
        let got = hits.len();
        let docs = group_by_document(hits, k);
        if docs.len() >= k || got < fetch || fetch >= total {
            return Ok(docs);
        }
        fetch *= 4;
    }
}

/// Many queries at once, on every core: documents (`by_document`) or single items per query.
pub fn search_many(
    collection: &dyn CollectionRead,
    queries: &[Query],
    params: &SearchParams,
    by_document: bool,
) -> Result<Vec<Vec<DocumentHit>>> {
    use rayon::prelude::*;
    queries
        .par_iter()
        .map(|q| {
            if by_document {
                return search_documents(collection, q, params);
            }
            let hits = collection.find(q, params)?;
            Ok(hits.into_iter().map(|h| DocumentHit { doc: h.id.to_string(), best: h, matched_chunks: 1 }).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kin_store::ItemId;
    use serde_json::json;

    fn hit(id: &str, doc: Option<&str>, score: f32) -> Hit {
        let payload = doc.map_or(json!({}), |d| json!({ "doc": d }));
        Hit { id: ItemId::Str(id.into()), space: None, score, payload, source: None, found: Default::default() }
    }

    #[test]
    fn best_chunk_stands_for_its_document() {
        let hits = vec![
            hit("a#3", Some("a"), 0.9),
            hit("b#0", Some("b"), 0.8),
            hit("a#1", Some("a"), 0.7),
            hit("img", None, 0.6),
        ];
        let docs = group_by_document(hits, 10);
        assert_eq!(docs.iter().map(|d| d.doc.as_str()).collect::<Vec<_>>(), ["a", "b", "img"]);
        assert_eq!(docs[0].best.id, ItemId::Str("a#3".into()));
        assert_eq!(docs[0].matched_chunks, 2);
        assert_eq!(group_by_document(vec![hit("a#0", Some("a"), 1.0), hit("b#0", Some("b"), 0.5)], 1).len(), 1);
    }
}
