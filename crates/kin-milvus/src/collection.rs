//! `MilvusCollection`: one of kin's collections in Milvus, read and written through the seam.

use std::collections::HashMap;
use std::sync::Arc;

use kin_core::filter::Filter;
use kin_store::{
    CollectionConfig, CollectionRead, CollectionWrite, Error, Found, Hit, Item, ItemId, Query, Rank, Result,
    SearchParams, TextConfig,
};
use milvus::v2 as sdk;
use milvus::v2::prelude::*;
use serde_json::{json, Map, Value};

use crate::backend::metric_type;
use crate::filter::translate;
use crate::link::Link;
use crate::text::{rows_of, text_of, TEXT_FIELD};

/// Every field of an item.
const ITEM_FIELDS: [&str; 6] = ["id", "int_id", "vector", "payload", "source", "content_hash"];
/// The fields a search hit carries.
pub(crate) const HIT_FIELDS: [&str; 5] = ["id", "int_id", "vector", "payload", "source"];
/// Bytes of vectors per upsert request (well under gRPC's 64 MiB message limit).
const BYTES_PER_REQUEST: usize = 16 << 20;
/// Milvus's cap on `offset + limit` of one query or search.
pub(crate) const MAX_WINDOW: usize = 16_384;

/// One collection in Milvus.
pub struct MilvusCollection {
    pub(crate) config: CollectionConfig,
    pub(crate) link: Arc<Link>,
    pub(crate) backend: String,
}

fn id_text(id: &ItemId) -> String {
    id.to_string()
}

/// A Milvus string literal.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// The expression matching rows with these primary keys.
fn keys_filter(keys: impl Iterator<Item = String>) -> String {
    format!("id in [{}]", keys.map(|k| quote(&k)).collect::<Vec<_>>().join(", "))
}

/// Items as the columns of kin's schema (vectors go as floats, not as JSON); with a text index,
/// the text its BM25 function reads (the sparse field is the server's to fill).
fn columns_of(items: &[Item], text: Option<&TextConfig>) -> Vec<FieldData> {
    let payload = |item: &Item| match &item.payload {
        Value::Null => json!({}),
        other => other.clone(),
    };
    let mut columns = vec![
        FieldData::VarChar { name: "id".into(), values: items.iter().map(|i| id_text(&i.id)).collect() },
        FieldData::Bool {
            name: "int_id".into(),
            values: items.iter().map(|i| matches!(i.id, ItemId::Int(_))).collect(),
        },
        FieldData::FloatVector { name: "vector".into(), values: items.iter().map(|i| i.vector.clone()).collect() },
        FieldData::Json { name: "payload".into(), values: items.iter().map(payload).collect() },
        FieldData::VarChar {
            name: "source".into(),
            values: items.iter().map(|i| i.source.clone().unwrap_or_default()).collect(),
        },
        FieldData::VarChar {
            name: "content_hash".into(),
            values: items.iter().map(|i| i.content_hash.clone().unwrap_or_default()).collect(),
        },
    ];
    if let Some(config) = text {
        let values = items.iter().map(|i| text_of(&i.payload, config)).collect();
        columns.push(FieldData::VarChar { name: TEXT_FIELD.into(), values });
    }
    columns
}

/// Search rows as hits, best first: at most `k`, those failing `check` (the filter, where
/// Milvus's expression was wider) left out, each score made by `score` from the server's.
pub(crate) fn hits_of(
    rows: &[Map<String, Value>],
    check: Option<&Filter>,
    k: usize,
    score: impl Fn(f64) -> f32,
) -> Vec<Hit> {
    let mut hits = Vec::with_capacity(k.min(rows.len()));
    for row in rows {
        let Some(item) = item_of(row) else { continue };
        if check.is_some_and(|f| !f.matches(&item.payload)) {
            continue;
        }
        let raw = row.get("score").or_else(|| row.get("distance")).and_then(Value::as_f64).unwrap_or(f64::NAN);
        hits.push(Hit {
            id: item.id,
            space: None,
            score: score(raw),
            payload: item.payload,
            source: item.source,
            found: Found::default(),
        });
        if hits.len() == k {
            break;
        }
    }
    hits
}

/// Marks each hit with its rank (from 1) and score in the one list that found it, as the
/// embedded store does for dense and text searches.
fn ranked(mut hits: Vec<Hit>, text: bool) -> Vec<Hit> {
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

fn item_of(row: &Map<String, Value>) -> Option<Item> {
    let text = row.get("id")?.as_str()?;
    let id = match row.get("int_id").and_then(Value::as_bool) {
        Some(true) => ItemId::Int(text.parse().ok()?),
        _ => ItemId::Str(text.to_string()),
    };
    let vector = row
        .get("vector")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter_map(Value::as_f64).map(|x| x as f32).collect())
        .unwrap_or_default();
    let payload = match row.get("payload") {
        Some(Value::Object(o)) if o.is_empty() => Value::Null,
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    let text_field = |k: &str| row.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    Some(Item { id, vector, payload, source: text_field("source"), content_hash: text_field("content_hash") })
}

impl MilvusCollection {
    /// Runs a read; if the server has released the collection (as after a restart), loads it
    /// and runs the read again.
    pub(crate) fn loaded<T>(&self, read: impl Fn() -> Result<T>) -> Result<T> {
        match read() {
            Err(Error::Backend { message, .. })
                if message.contains("load()") || message.contains("not loaded") || message.contains("released") =>
            {
                tracing::info!(target: "kin_milvus", collection = %self.config.name, "the server released the collection; loading it again");
                self.link.load(&self.config.name)?;
                read()
            }
            other => other,
        }
    }

    /// Rows matching `filter`, with `fields`, Strongly consistent.
    fn query(
        &self,
        what: &str,
        filter: String,
        fields: &'static [&'static str],
        limit: Option<usize>,
    ) -> Result<Vec<Map<String, Value>>> {
        self.loaded(|| {
            let (name, filter) = (self.config.name.clone(), filter.clone());
            self.link.call(what, move |c| {
                let (name, filter) = (name.clone(), filter.clone());
                async move {
                    let mut b = QueryRequest::builder()
                        .collection_name(name)
                        .filter(filter)
                        .output_fields(fields.iter().copied())
                        .consistency_level(sdk::ConsistencyLevel::Strong);
                    if let Some(l) = limit {
                        b = b.limit(l as i64);
                    }
                    let r = c.query(b.build()?).await?;
                    r.results().rows()?.map(|row| row.to_entity_row()).collect::<sdk::error::Result<Vec<_>>>()
                }
            })
        })
    }

    fn ids_filter(ids: &[ItemId]) -> String {
        keys_filter(ids.iter().map(id_text))
    }
}

impl CollectionRead for MilvusCollection {
    fn config(&self) -> &CollectionConfig {
        &self.config
    }

    fn count(&self) -> Result<usize> {
        let rows = self.query("counting items", String::new(), &["count(*)"], None)?;
        rows.first()
            .and_then(|r| r.get("count(*)"))
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .ok_or_else(|| Error::Backend { backend: self.backend.clone(), message: "count(*) gave no number".into() })
    }

    fn get(&self, id: &ItemId) -> Result<Option<Item>> {
        let rows = self.query("reading an item", Self::ids_filter(std::slice::from_ref(id)), &ITEM_FIELDS, Some(1))?;
        Ok(rows.iter().filter_map(item_of).find(|i| &i.id == id))
    }

    fn has_content(&self, id: &ItemId, content_hash: &str) -> Result<bool> {
        let rows = self.query(
            "reading a content hash",
            Self::ids_filter(std::slice::from_ref(id)),
            &["id", "int_id", "content_hash"],
            Some(1),
        )?;
        Ok(rows.iter().any(|r| {
            r.get("content_hash").and_then(Value::as_str) == Some(content_hash)
                && r.get("int_id").and_then(Value::as_bool) == Some(matches!(id, ItemId::Int(_)))
        }))
    }

    fn search_text(&self, text: &str, params: &SearchParams) -> Result<Vec<Hit>> {
        self.text_hits(text, params)
    }

    /// Dense and text queries as `search` and `search_text`, ranked; hybrid ones by Milvus's
    /// `hybrid_search` (`MilvusCollection::hybrid_hits`), whose hits carry no ranks.
    fn find(&self, query: &Query, params: &SearchParams) -> Result<Vec<Hit>> {
        match *query {
            Query::Dense(vector) => Ok(ranked(self.search(vector, params)?, false)),
            Query::Text(text) => Ok(ranked(self.text_hits(text, params)?, true)),
            Query::Hybrid { vector, text, fusion } => self.hybrid_hits(vector, text, fusion, params),
        }
    }

    fn search(&self, query: &[f32], params: &SearchParams) -> Result<Vec<Hit>> {
        kin_store::validate_query(&self.config, query)?;
        let k = params.k.clamp(1, MAX_WINDOW);
        let translated = params.filter.map(|f| translate(f.expr()));
        let exact_filter = translated.as_ref().is_none_or(|t| t.exact);
        // A wider expression fetches more and kin's own filter keeps the matching ones.
        let limit = if exact_filter { k } else { (k * 8).min(MAX_WINDOW) };
        let ef = if params.exact { MAX_WINDOW.min(4096).max(limit) } else { params.ef.unwrap_or(64).max(limit) };
        let (name, vector) = (self.config.name.clone(), query.to_vec());
        let expr = translated.map(|t| t.expr).unwrap_or_default();
        let metric = metric_type(self.config.metric);
        let rows = self.loaded(|| {
            let (name, vector, expr) = (name.clone(), vector.clone(), expr.clone());
            self.link.call("searching", move |c| {
                let (name, vector, expr) = (name.clone(), vector.clone(), expr.clone());
                async move {
                    let r = c
                        .search(
                            SearchRequest::builder()
                                .collection_name(name)
                                .vector_field("vector")
                                .vectors(SearchVectors::Float(vec![vector]))
                                .filter(expr)
                                .output_fields(HIT_FIELDS.iter().copied())
                                .limit(limit as i64)
                                .metric_type(metric)
                                .extra_params(HashMap::from([("ef".to_string(), ef.to_string())]))
                                .consistency_level(sdk::ConsistencyLevel::Strong)
                                .build()?,
                        )
                        .await?;
                    rows_of(r)
                }
            })
        })?;
        Ok(hits_of(&rows, params.filter.filter(|_| !exact_filter), k, |s| s as f32))
    }

    /// Pages in primary-key order. A query's `limit` picks any matching rows, not the smallest,
    /// so the page's keys are found first: all keys above the cursor when there are fewer than
    /// Milvus's window, else the range is narrowed until it holds the whole answer.
    fn scan(&self, cursor: Option<&str>, limit: usize) -> Result<(Vec<Item>, Option<String>)> {
        let limit = limit.clamp(1, 4096);
        let mut upper: Option<String> = None;
        let (keys, more) = loop {
            let mut filter = cursor.map(|after| format!("id > {}", quote(after))).unwrap_or_default();
            if let Some(u) = &upper {
                let bound = format!("id <= {}", quote(u));
                filter = if filter.is_empty() { bound } else { format!("{filter} and {bound}") };
            }
            let rows = self.query("scanning keys", filter, &["id"], Some(MAX_WINDOW))?;
            let mut keys: Vec<String> = rows.iter().filter_map(|r| r.get("id")?.as_str().map(str::to_string)).collect();
            keys.sort();
            if keys.len() < MAX_WINDOW {
                let more = upper.is_some() || keys.len() > limit;
                keys.truncate(limit);
                break (keys, more);
            }
            upper = Some(keys[limit - 1].clone());
        };
        if keys.is_empty() {
            return Ok((Vec::new(), None));
        }
        let filter = keys_filter(keys.iter().cloned());
        let mut items: Vec<Item> =
            self.query("scanning items", filter, &ITEM_FIELDS, Some(keys.len()))?.iter().filter_map(item_of).collect();
        items.sort_by_key(|i| id_text(&i.id));
        let next = more.then(|| keys.last().cloned()).flatten();
        Ok((items, next))
    }
}

impl CollectionWrite for MilvusCollection {
    fn upsert(&self, mut items: Vec<Item>) -> Result<()> {
        kin_store::validate_items(&self.config, &mut items)?;
        let rows_per_request = (BYTES_PER_REQUEST / (self.config.dim * 4).max(1)).clamp(1, 10_000);
        for chunk in items.chunks(rows_per_request) {
            let columns = columns_of(chunk, self.config.text.as_ref());
            let name = self.config.name.clone();
            self.link.call("writing items", move |c| {
                let (name, columns) = (name.clone(), columns.clone());
                async move {
                    let insert = InsertRequest::builder().collection_name(name).columns(columns).build()?;
                    c.upsert(UpsertRequest::builder().insert(insert).build()?).await.map(|_| ())
                }
            })?;
        }
        Ok(())
    }

    fn delete(&self, ids: &[ItemId]) -> Result<usize> {
        let mut deleted = 0;
        for chunk in ids.chunks(1024) {
            let existing: Vec<ItemId> = self
                .query("finding items to delete", Self::ids_filter(chunk), &["id", "int_id"], None)?
                .iter()
                .filter_map(|r| item_of(r).map(|i| i.id))
                .filter(|id| chunk.contains(id))
                .collect();
            if existing.is_empty() {
                continue;
            }
            let (name, filter) = (self.config.name.clone(), Self::ids_filter(&existing));
            self.link.call("deleting items", move |c| {
                let (name, filter) = (name.clone(), filter.clone());
                async move {
                    c.delete(sdk::request::dml::DeleteRequest::builder().collection_name(name).filter(filter).build()?)
                        .await
                        .map(|_| ())
                }
            })?;
            deleted += existing.len();
        }
        Ok(deleted)
    }
}
