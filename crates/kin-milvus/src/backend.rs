//! `MilvusBackend` and `MilvusCollection`: kin's storage seam over Milvus's gRPC API.
//!
//! The schema of a collection kin writes (readable by any Milvus client):
//!
//! | field | type | holds |
//! |---|---|---|
//! | `id` | VarChar(1024), primary key | the item id as text (integers in decimal) |
//! | `int_id` | Bool | whether the id is an integer |
//! | `vector` | FloatVector(dim) | the vector; HNSW index with the collection's metric |
//! | `payload` | JSON | the payload (an object; `{}` when none) |
//! | `source` | VarChar(4096) | where the item came from (`""` when unknown) |
//! | `content_hash` | VarChar(128) | sha256 of the content (`""` when unknown) |
//!
//! The collection property `kin.config` holds kin's `CollectionConfig` as JSON, which is how kin
//! knows the collection is its own and which model it holds. Reads that promise
//! read-your-writes use Strong consistency. Calls are retried with exponential backoff while the
//! server is unreachable (it restarts, say), for up to `retry_for`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kin_core::Metric;
use kin_store::{
    Backend, CollectionConfig, CollectionRead, CollectionWrite, Error, Hit, IndexKind, Item, ItemId, Result,
    SearchParams,
};
use milvus::v2 as sdk;
use milvus::v2::prelude::*;
use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use crate::filter::translate;
use crate::target::MilvusTarget;

/// The collection property holding kin's `CollectionConfig` as JSON.
const CONFIG_PROPERTY: &str = "kin.config";
const FIELDS: [&str; 5] = ["id", "int_id", "vector", "payload", "source"];
const MAX_ID_BYTES: u32 = 1024;
/// Bytes of vectors per upsert request (well under gRPC's 64 MiB message limit).
const BYTES_PER_REQUEST: usize = 16 << 20;
/// Milvus's cap on `offset + limit` of one query or search.
const MAX_WINDOW: usize = 16_384;

/// A Milvus server holding kin's collections.
pub struct MilvusBackend {
    target: MilvusTarget,
    link: Arc<Link>,
    open: Mutex<HashMap<String, Arc<MilvusCollection>>>,
}

/// The client and the runtime its calls run on; kin's seam is synchronous.
struct Link {
    client: ClientV2,
    /// The older client, for listing collections: the newer one insists on fields that some
    /// servers (Milvus Lite) leave out of that answer.
    lister: milvus::client::Client,
    runtime: tokio::runtime::Runtime,
    target: String,
    retry_for: Duration,
}

impl Link {
    /// Loads a collection into the server's memory, as searches and queries need.
    fn load(&self, name: &str) -> Result<()> {
        let name = name.to_string();
        self.call("loading a collection", move |c| {
            let name = name.clone();
            async move {
                c.load_collection(
                    sdk::request::collection::LoadCollectionRequest::builder().collection_name(name).build()?,
                )
                .await
            }
        })
    }

    /// Runs `call` (made afresh for each attempt), retrying transient failures with backoff.
    fn call<T, F, Fut>(&self, what: &str, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(ClientV2) -> Fut,
        Fut: Future<Output = sdk::error::Result<T>> + Send + 'static,
    {
        self.call_with(what, || call(self.client.clone()))
    }

    fn call_with<T, E, F, Fut>(&self, what: &str, call: F) -> Result<T>
    where
        T: Send + 'static,
        E: Into<Failure> + Send + 'static,
        F: Fn() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
    {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let fut = call();
            self.runtime.spawn(async move {
                let _ = tx.send(fut.await.map_err(Into::into));
            });
            let outcome = rx.recv().map_err(|_| self.failure(what, "the client's runtime stopped".into()))?;
            match outcome {
                Ok(v) => {
                    if attempt > 1 {
                        tracing::warn!(
                            target: "kin_milvus",
                            "{what}: succeeded on attempt {attempt}, after {:.1}s",
                            started.elapsed().as_secs_f64()
                        );
                    }
                    return Ok(v);
                }
                Err(e) if e.transient && started.elapsed() + delay < self.retry_for => {
                    tracing::warn!(
                        target: "kin_milvus",
                        "{what}: {} unreachable ({}); retrying in {:.1}s",
                        self.target,
                        e.message,
                        delay.as_secs_f64()
                    );
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                    attempt += 1;
                }
                Err(e) => return Err(self.classify(what, &e)),
            }
        }
    }

    fn failure(&self, what: &str, message: String) -> Error {
        Error::Backend { backend: self.target.clone(), message: format!("{what}: {message}") }
    }

    fn classify(&self, what: &str, e: &Failure) -> Error {
        classify(&self.target, what, e)
    }
}

/// A failure as kin's error: the server unreachable, the credentials refused, or anything else.
fn classify(target: &str, what: &str, e: &Failure) -> Error {
    let message = format!("{what}: {}", e.message);
    if e.transient {
        return Error::Unreachable { backend: target.to_string(), message };
    }
    let lower = message.to_lowercase();
    if ["unauthenticated", "permissiondenied", "auth", "credential", "password", "token"]
        .iter()
        .any(|w| lower.contains(w))
    {
        return Error::Unauthorized { backend: target.to_string(), message };
    }
    Error::Backend { backend: target.to_string(), message }
}

/// A failed call: its message, and whether another attempt may succeed.
struct Failure {
    message: String,
    transient: bool,
}

impl From<sdk::error::Error> for Failure {
    fn from(e: sdk::error::Error) -> Self {
        Failure { transient: transient(&e), message: short(&e) }
    }
}

impl From<milvus::error::Error> for Failure {
    fn from(e: milvus::error::Error) -> Self {
        let message = e.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
        let lower = message.to_lowercase();
        let transient =
            ["unavailable", "transport", "connect", "timed out", "deadline"].iter().any(|w| lower.contains(w))
                && !lower.contains("auth");
        Failure { message, transient }
    }
}

/// A failure that another attempt may not have: the server is down, restarting or overloaded.
fn transient(e: &sdk::error::Error) -> bool {
    match e {
        sdk::error::Error::Grpc(status) => {
            let code = format!("{:?}", status.code());
            matches!(code.as_str(), "Unavailable" | "DeadlineExceeded" | "Unknown" | "Aborted" | "ResourceExhausted")
                && !status.message().to_lowercase().contains("auth")
        }
        sdk::error::Error::Timeout(_) => true,
        sdk::error::Error::RetryExhausted { source, .. } => transient(source),
        _ => false,
    }
}

/// The error's message, on one line.
fn short(e: &sdk::error::Error) -> String {
    let text = match e {
        sdk::error::Error::Grpc(status) => format!("{:?}: {}", status.code(), status.message()),
        other => other.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl MilvusBackend {
    /// Connects (checking the server answers and the credentials are accepted).
    pub fn connect(target: &MilvusTarget) -> Result<MilvusBackend> {
        MilvusBackend::connect_with(target, Duration::from_secs(30))
    }

    /// As `connect`, retrying unreachable calls for at most `retry_for`.
    pub fn connect_with(target: &MilvusTarget, retry_for: Duration) -> Result<MilvusBackend> {
        let shown = target.to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kin-milvus")
            .enable_all()
            .build()
            .map_err(|e| Error::Backend { backend: shown.clone(), message: format!("starting the client: {e}") })?;
        let mut config = ConnectConfig::new().uri(target.endpoint.clone()).connect_timeout(Duration::from_secs(5));
        if let Some(token) = &target.token {
            config = config.token(token.clone());
        }
        if let (Some(user), Some(password)) = (&target.user, &target.password) {
            config = config.username_password(user, password);
        }
        if let Some(db) = &target.database {
            config = config.database(db.clone());
        }
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = tx.send(ClientV2::new(&config).await);
        });
        let client = rx.recv().map_err(|_| Error::Backend {
            backend: shown.clone(),
            message: "connecting: the runtime stopped".into(),
        })?;
        let (user, password) = match (&target.user, &target.password, &target.token) {
            (Some(u), Some(p), _) => (Some(u.clone()), Some(p.clone())),
            (_, _, Some(t)) => {
                t.split_once(':').map_or((None, None), |(u, p)| (Some(u.to_string()), Some(p.to_string())))
            }
            _ => (None, None),
        };
        let (tx1, rx1) = std::sync::mpsc::sync_channel(1);
        let endpoint = target.endpoint.clone();
        runtime.spawn(async move {
            let _ =
                tx1.send(milvus::client::Client::with_timeout(endpoint, Duration::from_secs(10), user, password).await);
        });
        let lister = rx1.recv().map_err(|_| Error::Backend {
            backend: shown.clone(),
            message: "connecting: the runtime stopped".into(),
        })?;
        let client = match client.map_err(Failure::from).and_then(|c| lister.map(|l| (c, l)).map_err(Failure::from)) {
            Ok(c) => c,
            Err(e) => {
                let message = format!("connecting: {}", e.message);
                let lower = message.to_lowercase();
                return Err(if lower.contains("auth") || lower.contains("credential") || lower.contains("password") {
                    Error::Unauthorized { backend: shown, message }
                } else {
                    Error::Unreachable { backend: shown, message }
                });
            }
        };
        let (client, lister) = client;
        let link = Link { client, lister, runtime, target: shown, retry_for };
        let backend = MilvusBackend { target: target.clone(), link: Arc::new(link), open: Mutex::default() };
        // A call that needs the credentials, so that wrong ones fail here, not later.
        backend.list()?;
        Ok(backend)
    }

    fn list(&self) -> Result<Vec<String>> {
        let lister = self.link.lister.clone();
        self.link.call_with("listing collections", || {
            let lister = lister.clone();
            async move { lister.list_collections().await }
        })
    }

    /// kin's config of collection `name`, or why it is not a kin collection.
    fn describe_collection(&self, name: &str) -> Result<CollectionConfig> {
        let owned = name.to_string();
        let desc = self.link.call("describing a collection", move |c| {
            let name = owned.clone();
            async move {
                let r = c
                    .describe_collection(
                        sdk::request::collection::DescribeCollectionRequest::builder().collection_name(name).build()?,
                    )
                    .await?;
                Ok(r.description().clone())
            }
        })?;
        let incompatible = |message: String| Error::IncompatibleSchema {
            backend: self.target.to_string(),
            collection: name.to_string(),
            message,
        };
        let config: CollectionConfig =
            desc.get_properties().get(CONFIG_PROPERTY).and_then(|json| serde_json::from_str(json).ok()).ok_or_else(
                || incompatible(format!("it was not created by kin (it has no {CONFIG_PROPERTY:?} property)")),
            )?;
        let fields: HashMap<&str, &FieldSchema> =
            desc.get_schema().get_fields().iter().map(|f| (f.get_name(), f)).collect();
        let expect = [
            ("id", DataType::VarChar),
            ("int_id", DataType::Bool),
            ("vector", DataType::FloatVector),
            ("payload", DataType::Json),
            ("source", DataType::VarChar),
            ("content_hash", DataType::VarChar),
        ];
        for (field, kind) in expect {
            match fields.get(field) {
                None => return Err(incompatible(format!("it has no field {field:?}"))),
                Some(f) if f.get_data_type() != kind => {
                    return Err(incompatible(format!(
                        "field {field:?} is {:?}, kin writes {kind:?}",
                        f.get_data_type()
                    )))
                }
                _ => {}
            }
        }
        if !fields["id"].is_primary_key() {
            return Err(incompatible("field \"id\" is not the primary key".into()));
        }
        let dim = fields["vector"].get_type_params().get("dim").and_then(|d| d.parse::<usize>().ok());
        if dim != Some(config.dim) {
            return Err(incompatible(format!(
                "the vector field has dimension {dim:?}, kin's settings say {}",
                config.dim
            )));
        }
        Ok(config)
    }

    fn handle(&self, config: CollectionConfig) -> Arc<MilvusCollection> {
        let c = Arc::new(MilvusCollection { config, link: self.link.clone(), backend: self.target.to_string() });
        self.open.lock().insert(c.config.name.clone(), c.clone());
        c
    }
}

impl Backend for MilvusBackend {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    fn names(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.list()?.into_iter().filter(|n| self.describe_collection(n).is_ok()).collect();
        names.sort();
        Ok(names)
    }

    fn create(&self, config: CollectionConfig) -> Result<Arc<dyn CollectionWrite>> {
        config.validate()?;
        if self.list()?.contains(&config.name) {
            return Err(Error::CollectionExists(config.name.clone()));
        }
        let settings = serde_json::to_string(&config).map_err(|e| Error::InvalidSettings(e.to_string()))?;
        let description = format!("kin collection of {}", config.model.as_deref().unwrap_or("bare vectors"));
        let (metric, index) = (metric_type(config.metric), config.index);
        let (name, dim, m, efc) = (config.name.clone(), config.dim as u32, config.m, config.ef_construction);
        self.link.call("creating a collection", move |c| {
            let (name, description, settings) = (name.clone(), description.clone(), settings.clone());
            async move {
                let schema = CollectionSchema::new()
                    .description(description.clone())
                    .enable_dynamic_field(false)
                    .add_field(
                        FieldSchema::new()
                            .name("id")
                            .data_type(DataType::VarChar)
                            .max_length(MAX_ID_BYTES)
                            .primary_key(true),
                    )
                    .add_field(FieldSchema::new().name("int_id").data_type(DataType::Bool))
                    .add_field(FieldSchema::new().name("vector").data_type(DataType::FloatVector).dimension(dim))
                    .add_field(FieldSchema::new().name("payload").data_type(DataType::Json))
                    .add_field(FieldSchema::new().name("source").data_type(DataType::VarChar).max_length(4096))
                    .add_field(FieldSchema::new().name("content_hash").data_type(DataType::VarChar).max_length(128));
                c.create_collection(
                    sdk::request::collection::CreateCollectionRequest::builder()
                        .collection_name(name.clone())
                        .description(description)
                        .properties(HashMap::from([(CONFIG_PROPERTY.to_string(), settings)]))
                        .schema(schema)
                        .consistency_level(sdk::ConsistencyLevel::Strong)
                        .build()?,
                )
                .await?;
                let param = match index {
                    IndexKind::Hnsw => IndexParam::new().index_type(IndexType::Hnsw).extra_params(HashMap::from([
                        ("M".to_string(), m.to_string()),
                        ("efConstruction".to_string(), efc.to_string()),
                    ])),
                    IndexKind::Flat => IndexParam::new().index_type(IndexType::Flat),
                };
                c.create_index(
                    sdk::request::index::CreateIndexRequest::builder()
                        .collection_name(name.clone())
                        .index_param(param.field_name("vector").metric_type(metric))
                        .sync(false)
                        .build()?,
                )
                .await?;
                c.load_collection(
                    sdk::request::collection::LoadCollectionRequest::builder().collection_name(name).build()?,
                )
                .await?;
                Ok(())
            }
        })?;
        Ok(self.handle(config))
    }

    fn collection(&self, name: &str) -> Result<Arc<dyn CollectionWrite>> {
        if let Some(c) = self.open.lock().get(name) {
            return Ok(c.clone());
        }
        kin_store::validate_name(name)?;
        let existing = self.list()?;
        if !existing.iter().any(|n| n == name) {
            let mut kin: Vec<String> = existing.into_iter().filter(|n| self.describe_collection(n).is_ok()).collect();
            kin.sort();
            return Err(Error::UnknownCollection { name: name.to_string(), existing: kin });
        }
        let config = self.describe_collection(name)?;
        self.link.load(name)?;
        Ok(self.handle(config))
    }

    fn drop_collection(&self, name: &str) -> Result<()> {
        // Only kin's own collections are dropped through kin.
        self.collection(name)?;
        self.open.lock().remove(name);
        let owned = name.to_string();
        self.link.call("dropping a collection", move |c| {
            let name = owned.clone();
            async move {
                c.drop_collection(
                    sdk::request::collection::DropCollectionRequest::builder().collection_name(name).build()?,
                )
                .await
            }
        })
    }
}

fn metric_type(metric: Metric) -> MetricType {
    match metric {
        Metric::Cosine => MetricType::Cosine,
        Metric::Dot => MetricType::Ip,
        Metric::L2 => MetricType::L2,
    }
}

/// One collection in Milvus.
pub struct MilvusCollection {
    config: CollectionConfig,
    link: Arc<Link>,
    backend: String,
}

fn id_text(id: &ItemId) -> String {
    id.to_string()
}

/// A Milvus string literal.
fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// Items as the columns of kin's schema (vectors go as floats, not as JSON).
fn columns_of(items: &[Item]) -> Vec<FieldData> {
    let payload = |item: &Item| match &item.payload {
        Value::Null => json!({}),
        other => other.clone(),
    };
    vec![
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
    ]
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
    fn loaded<T>(&self, read: impl Fn() -> Result<T>) -> Result<T> {
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
        self.loaded(|| self.query_once(what, filter.clone(), fields, limit))
    }

    fn query_once(
        &self,
        what: &str,
        filter: String,
        fields: &'static [&'static str],
        limit: Option<usize>,
    ) -> Result<Vec<Map<String, Value>>> {
        let name = self.config.name.clone();
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
    }

    fn ids_filter(ids: &[ItemId]) -> String {
        format!("id in [{}]", ids.iter().map(|i| quote(&id_text(i))).collect::<Vec<_>>().join(", "))
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
        let rows = self.query("reading an item", Self::ids_filter(std::slice::from_ref(id)), &FIELDS_ALL, Some(1))?;
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
                                .output_fields(FIELDS.iter().copied())
                                .limit(limit as i64)
                                .metric_type(metric)
                                .extra_params(HashMap::from([("ef".to_string(), ef.to_string())]))
                                .consistency_level(sdk::ConsistencyLevel::Strong)
                                .build()?,
                        )
                        .await?;
                    let mut rows = Vec::new();
                    for result in r.results() {
                        for row in result.rows()? {
                            rows.push(row.to_entity_row()?);
                        }
                    }
                    Ok(rows)
                }
            })
        })?;
        let keep = |payload: &Value| match (exact_filter, params.filter) {
            (false, Some(f)) => f.matches(payload),
            _ => true,
        };
        let mut hits = Vec::with_capacity(k);
        for row in &rows {
            let Some(item) = item_of(row) else { continue };
            if !keep(&item.payload) {
                continue;
            }
            let score =
                row.get("score").or_else(|| row.get("distance")).and_then(Value::as_f64).unwrap_or(f64::NAN) as f32;
            hits.push(Hit { id: item.id, score, payload: item.payload, source: item.source });
            if hits.len() == k {
                break;
            }
        }
        Ok(hits)
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
        let filter = format!("id in [{}]", keys.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", "));
        let mut items: Vec<Item> =
            self.query("scanning items", filter, &FIELDS_ALL, Some(keys.len()))?.iter().filter_map(item_of).collect();
        items.sort_by_key(|i| id_text(&i.id));
        let next = more.then(|| keys.last().cloned()).flatten();
        Ok((items, next))
    }
}

const FIELDS_ALL: [&str; 6] = ["id", "int_id", "vector", "payload", "source", "content_hash"];

impl CollectionWrite for MilvusCollection {
    fn upsert(&self, mut items: Vec<Item>) -> Result<()> {
        kin_store::validate_items(&self.config, &mut items)?;
        let rows_per_request = (BYTES_PER_REQUEST / (self.config.dim * 4).max(1)).clamp(1, 10_000);
        for chunk in items.chunks(rows_per_request) {
            let columns = columns_of(chunk);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn grpc(status: tonic::Status) -> Error {
        classify("milvus://db:19530", "listing collections", &Failure::from(sdk::error::Error::Grpc(status)))
    }

    #[test]
    fn failures_are_told_apart_for_the_caller() {
        // What Milvus answers for a wrong user, password or token (it has no such check in Milvus Lite).
        let e = grpc(tonic::Status::unauthenticated("auth check failure, please check username, password or token"));
        assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
        assert!(e.to_string().contains("milvus://db:19530"), "{e}");
        let e = grpc(tonic::Status::unknown("auth check failure, please check username and password are correct"));
        assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
        let e = grpc(tonic::Status::permission_denied("PrivilegeLoad: permission deny to user"));
        assert!(matches!(e, Error::Unauthorized { .. }), "{e}");
        // A server that is down or restarting is worth retrying; a refused request is not.
        let e = grpc(tonic::Status::unavailable("connection refused"));
        assert!(matches!(e, Error::Unreachable { .. }), "{e}");
        let e = grpc(tonic::Status::invalid_argument("collection schema mismatch"));
        assert!(matches!(e, Error::Backend { .. }), "{e}");
    }
}
