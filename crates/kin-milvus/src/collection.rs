//! `MilvusCollection`: one of kin's collections in Milvus, read and written through the seam.

use std::collections::HashMap;
use std::sync::Arc;

use kin_core::filter::Filter;
use kin_store::{
    CollectionConfig, CollectionRead, CollectionWrite, Error, Found, Hit, Item, ItemId, Query, Rank, Result,
    SearchParams,
};
use milvus::v2 as sdk;
use milvus::v2::prelude::*;
use serde_json::{json, Map, Value};

use crate::backend::metric_type;
use crate::filter::translate;
use crate::layout::{filler, keys_filter, quote, text_in, Layout};
use crate::link::Link;
use crate::text::{rows_of, text_of};

/// The fields a search hit carries.
pub(crate) const HIT_FIELDS: [&str; 4] = ["id", "int_id", "payload", "source"];
/// Bytes of vectors per upsert request (well under gRPC's 64 MiB message limit).
const BYTES_PER_REQUEST: usize = 16 << 20;
/// Milvus's cap on `offset + limit` of one query or search.
pub(crate) const MAX_WINDOW: usize = 16_384;

/// One collection in Milvus, or one space of a mixed collection (see `layout.rs`).
pub struct MilvusCollection {
    /// kin's settings of what this handle reads: the collection's, or the space's (named
    /// `COLLECTION:SPACE`).
    pub(crate) config: CollectionConfig,
    pub(crate) link: Arc<Link>,
    pub(crate) backend: String,
    pub(crate) layout: Layout,
}

fn id_text(id: &ItemId) -> String {
    id.to_string()
}

/// Items of the handle's space as the columns of kin's schema (vectors go as floats, not as
/// JSON); with a text index, the text its BM25 function reads (the sparse field is the
/// server's to fill). In a mixed collection, the other spaces' fields get their fillers.
fn columns_of(items: &[Item], layout: &Layout) -> Vec<FieldData> {
    let payload = |item: &Item| match &item.payload {
        Value::Null => json!({}),
        other => other.clone(),
    };
    let mut columns = Vec::new();
    if let Some(space) = layout.space_name() {
        let keys = items.iter().map(|i| layout.key_of(&i.id)).collect();
        columns.push(FieldData::VarChar { name: "key".into(), values: keys });
        columns.push(FieldData::VarChar { name: "space".into(), values: vec![space.to_string(); items.len()] });
    }
    columns.extend([
        FieldData::VarChar { name: "id".into(), values: items.iter().map(|i| id_text(&i.id)).collect() },
        FieldData::Bool {
            name: "int_id".into(),
            values: items.iter().map(|i| matches!(i.id, ItemId::Int(_))).collect(),
        },
        FieldData::Json { name: "payload".into(), values: items.iter().map(payload).collect() },
        FieldData::VarChar {
            name: "source".into(),
            values: items.iter().map(|i| i.source.clone().unwrap_or_default()).collect(),
        },
        FieldData::VarChar {
            name: "content_hash".into(),
            values: items.iter().map(|i| i.content_hash.clone().unwrap_or_default()).collect(),
        },
    ]);
    for (place, space) in layout.spaces.iter().enumerate() {
        let own = layout.own == Some(place);
        let values =
            if own { items.iter().map(|i| i.vector.clone()).collect() } else { vec![filler(space.dim); items.len()] };
        columns.push(FieldData::FloatVector { name: space.vector.clone(), values });
        if let Some(text) = &space.text {
            let values = if own {
                items.iter().map(|i| text_of(&i.payload, &text.config)).collect()
            } else {
                vec![String::new(); items.len()]
            };
            columns.push(FieldData::VarChar { name: text.text.clone(), values });
        }
    }
    columns
}

/// Search rows as hits, best first: at most `k`, those failing `check` (the filter, where
/// Milvus's expression was wider) left out, each score made by `score` from the server's.
pub(crate) fn hits_of(
    rows: &[Map<String, Value>],
    layout: &Layout,
    check: Option<&Filter>,
    k: usize,
    score: impl Fn(f64) -> f32,
) -> Vec<Hit> {
    let mut hits = Vec::with_capacity(k.min(rows.len()));
    for row in rows {
        let Some(item) = item_of(row, None) else { continue };
        if check.is_some_and(|f| !f.matches(&item.payload)) {
            continue;
        }
        let raw = row.get("score").or_else(|| row.get("distance")).and_then(Value::as_f64).unwrap_or(f64::NAN);
        hits.push(Hit {
            id: item.id,
            space: layout.space_name().map(str::to_string),
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

/// The item of a row, its vector read from `vector` (none: no vector).
fn item_of(row: &Map<String, Value>, vector: Option<&str>) -> Option<Item> {
    let text = row.get("id")?.as_str()?;
    let id = match row.get("int_id").and_then(Value::as_bool) {
        Some(true) => ItemId::Int(text.parse().ok()?),
        _ => ItemId::Str(text.to_string()),
    };
    let vector = vector
        .and_then(|field| row.get(field))
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
                tracing::info!(target: "kin_milvus", collection = %self.layout.collection, "the server released the collection; loading it again");
                self.link.load(&self.layout.collection)?;
                read()
            }
            other => other,
        }
    }

    /// This handle's rows matching `filter`, with `fields`, Strongly consistent.
    fn query(
        &self,
        what: &str,
        filter: String,
        fields: Vec<String>,
        limit: Option<usize>,
    ) -> Result<Vec<Map<String, Value>>> {
        let filter = self.layout.scoped(filter);
        self.loaded(|| {
            let (name, filter, fields) = (self.layout.collection.clone(), filter.clone(), fields.clone());
            self.link.call(what, move |c| {
                let (name, filter, fields) = (name.clone(), filter.clone(), fields.clone());
                async move {
                    let mut b = QueryRequest::builder()
                        .collection_name(name)
                        .filter(filter)
                        .output_fields(fields)
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

    /// The rows of these items, with `fields`, each row's item matching one of `ids` exactly
    /// (integer 1 is not string "1").
    fn rows_of_ids(
        &self,
        what: &str,
        ids: &[ItemId],
        mut fields: Vec<String>,
    ) -> Result<Vec<(Item, Map<String, Value>)>> {
        for f in ["id", "int_id"] {
            if !fields.iter().any(|x| x == f) {
                fields.push(f.into());
            }
        }
        let rows = self.query(what, self.layout.ids_filter(ids), fields, None)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let item = item_of(&row, self.layout.vector_of(&row))?;
                ids.contains(&item.id).then_some((item, row))
            })
            .collect())
    }

    /// Up to `limit` primary keys after `cursor`, in order, with `fields` of their rows, and
    /// whether more follow. A query's `limit` picks any matching rows, not the smallest, so all
    /// keys above the cursor are read when there are fewer than Milvus's window, else the range
    /// is narrowed until it holds the whole answer.
    fn keys_after(
        &self,
        cursor: Option<&str>,
        limit: usize,
        fields: &[&str],
    ) -> Result<(Vec<Map<String, Value>>, bool)> {
        let key = self.layout.key_field();
        let key_of = |r: &Map<String, Value>| text_in(r, key);
        let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        fields.push(key.into());
        let mut upper: Option<String> = None;
        loop {
            let mut filter = cursor.map(|after| format!("{key} > {}", quote(after))).unwrap_or_default();
            if let Some(u) = &upper {
                let bound = format!("{key} <= {}", quote(u));
                filter = if filter.is_empty() { bound } else { format!("{filter} and {bound}") };
            }
            let mut rows = self.query("scanning keys", filter, fields.clone(), Some(MAX_WINDOW))?;
            rows.sort_by_key(key_of);
            if rows.len() < MAX_WINDOW {
                let more = upper.is_some() || rows.len() > limit;
                rows.truncate(limit);
                return Ok((rows, more));
            }
            upper = Some(key_of(&rows[limit - 1]));
        }
    }

    /// Distinct items across the spaces of a whole mixed collection.
    fn count_items(&self) -> Result<usize> {
        let mut ids = std::collections::HashSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let (rows, more) = self.keys_after(cursor.as_deref(), 4096, &["id", "int_id"])?;
            ids.extend(rows.iter().filter_map(|r| item_of(r, None)).map(|i| i.id));
            cursor = rows.last().and_then(|r| r.get("key")).and_then(Value::as_str).map(str::to_string);
            if !more || cursor.is_none() {
                return Ok(ids.len());
            }
        }
    }
}

impl MilvusCollection {
    /// One space of this mixed collection, as a collection of its own (named `COLLECTION:SPACE`).
    pub(crate) fn space(&self, space: &str) -> Result<MilvusCollection> {
        let layout = Layout::space(&self.config, space)?;
        let (_, settings) = self.config.space(space).ok_or_else(|| self.layout.space_needed())?;
        let config = CollectionConfig { name: format!("{}:{space}", self.config.name), ..settings.settings.clone() };
        Ok(MilvusCollection { config, link: self.link.clone(), backend: self.backend.clone(), layout })
    }
}

impl CollectionRead for MilvusCollection {
    fn config(&self) -> &CollectionConfig {
        &self.config
    }

    /// Items stored now; across a mixed collection, an item in several spaces counts once.
    fn count(&self) -> Result<usize> {
        if self.layout.fields().is_none() {
            return self.count_items();
        }
        let rows = self.query("counting items", String::new(), vec!["count(*)".into()], None)?;
        rows.first()
            .and_then(|r| r.get("count(*)"))
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .ok_or_else(|| Error::Backend { backend: self.backend.clone(), message: "count(*) gave no number".into() })
    }

    /// The item of that id (across a mixed collection, from the first space that holds it).
    fn get(&self, id: &ItemId) -> Result<Option<Item>> {
        let rows = self.rows_of_ids("reading an item", std::slice::from_ref(id), self.layout.item_fields())?;
        let place = |row: &Map<String, Value>| {
            let space = row.get("space").and_then(Value::as_str);
            self.layout.spaces.iter().position(|s| Some(s.name.as_str()) == space).unwrap_or(0)
        };
        Ok(rows.into_iter().min_by_key(|(_, row)| place(row)).map(|(item, _)| item))
    }

    fn has_content(&self, id: &ItemId, content_hash: &str) -> Result<bool> {
        let rows = self.rows_of_ids("reading a content hash", std::slice::from_ref(id), vec!["content_hash".into()])?;
        Ok(rows.iter().any(|(item, _)| item.content_hash.as_deref() == Some(content_hash)))
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
        let field = self.layout.fields().ok_or_else(|| self.layout.space_needed())?.vector.clone();
        kin_store::validate_query(&self.config, query)?;
        let k = params.k.clamp(1, MAX_WINDOW);
        let translated = params.filter.map(|f| translate(f.expr()));
        let exact_filter = translated.as_ref().is_none_or(|t| t.exact);
        // A wider expression fetches more and kin's own filter keeps the matching ones.
        let limit = if exact_filter { k } else { (k * 8).min(MAX_WINDOW) };
        let ef = if params.exact { MAX_WINDOW.min(4096).max(limit) } else { params.ef.unwrap_or(64).max(limit) };
        let (name, vector) = (self.layout.collection.clone(), query.to_vec());
        let expr = self.layout.scoped(translated.map(|t| t.expr).unwrap_or_default());
        let metric = metric_type(self.config.metric);
        let rows = self.loaded(|| {
            let (name, vector, expr, field) = (name.clone(), vector.clone(), expr.clone(), field.clone());
            self.link.call("searching", move |c| {
                let (name, vector, expr, field) = (name.clone(), vector.clone(), expr.clone(), field.clone());
                async move {
                    let r = c
                        .search(
                            SearchRequest::builder()
                                .collection_name(name)
                                .vector_field(field)
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
        Ok(hits_of(&rows, &self.layout, params.filter.filter(|_| !exact_filter), k, |s| s as f32))
    }

    /// Pages in primary-key order (across a mixed collection: space by space).
    fn scan(&self, cursor: Option<&str>, limit: usize) -> Result<(Vec<Item>, Option<String>)> {
        let limit = limit.clamp(1, 4096);
        let key = self.layout.key_field();
        let (rows, more) = self.keys_after(cursor, limit, &[])?;
        let keys: Vec<String> = rows.iter().filter_map(|r| r.get(key)?.as_str().map(str::to_string)).collect();
        if keys.is_empty() {
            return Ok((Vec::new(), None));
        }
        let mut fields = self.layout.item_fields();
        fields.push(key.into());
        let filter = keys_filter(key, keys.iter().cloned());
        let mut rows = self.query("scanning items", filter, fields, Some(keys.len()))?;
        rows.sort_by_key(|r| text_in(r, key));
        let items = rows.iter().filter_map(|r| item_of(r, self.layout.vector_of(r))).collect();
        let next = more.then(|| keys.last().cloned()).flatten();
        Ok((items, next))
    }
}

impl CollectionWrite for MilvusCollection {
    fn upsert(&self, mut items: Vec<Item>) -> Result<()> {
        let fields = self.layout.fields().ok_or_else(|| self.layout.space_needed())?;
        kin_store::validate_items(&self.config, &mut items)?;
        let row_bytes: usize = self.layout.spaces.iter().map(|s| s.dim * 4).sum();
        let rows_per_request = (BYTES_PER_REQUEST / row_bytes.max(fields.dim * 4).max(1)).clamp(1, 10_000);
        for chunk in items.chunks(rows_per_request) {
            let columns = columns_of(chunk, &self.layout);
            let name = self.layout.collection.clone();
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

    /// Each space's part written in turn, as `replace` does (Milvus has no change across
    /// requests): a crash between them leaves the earlier spaces written.
    fn replace_in_spaces(&self, delete: &[ItemId], writes: Vec<(String, Vec<Item>)>) -> Result<()> {
        if !self.layout.mixed || self.layout.fields().is_some() {
            return Err(Error::Unsupported {
                backend: self.backend.clone(),
                feature: "writing several spaces at once".into(),
                reason: format!("{:?} is not a whole mixed collection", self.config.name),
            });
        }
        let spaces = writes.iter().map(|(space, _)| self.space(space)).collect::<Result<Vec<_>>>()?;
        for (handle, (_, items)) in spaces.iter().zip(writes) {
            handle.replace(delete, items)?;
        }
        Ok(())
    }

    /// Deletes items (across a mixed collection, from every space that holds them).
    fn delete(&self, ids: &[ItemId]) -> Result<usize> {
        let key = self.layout.key_field();
        let mut deleted = 0;
        for chunk in ids.chunks(1024) {
            let rows = self.rows_of_ids("finding items to delete", chunk, vec![key.into()])?;
            if rows.is_empty() {
                continue;
            }
            let found: std::collections::HashSet<&ItemId> = rows.iter().map(|(item, _)| &item.id).collect();
            deleted += found.len();
            let keys = rows.iter().filter_map(|(_, row)| row.get(key)?.as_str().map(str::to_string));
            let (name, filter) = (self.layout.collection.clone(), keys_filter(key, keys));
            self.link.call("deleting items", move |c| {
                let (name, filter) = (name.clone(), filter.clone());
                async move {
                    c.delete(sdk::request::dml::DeleteRequest::builder().collection_name(name).filter(filter).build()?)
                        .await
                        .map(|_| ())
                }
            })?;
        }
        Ok(deleted)
    }
}
