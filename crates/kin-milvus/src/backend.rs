//! `MilvusBackend`: kin's collections in a Milvus server, over its gRPC API.
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
//! | `text` | VarChar(65535), analyzed | with a text index: the payload's text fields, joined |
//! | `text_sparse` | SparseFloatVector | with a text index: BM25 function `kin_bm25`'s output from `text`; BM25 inverted index |
//!
//! A collection with a text index gets the last two fields and the BM25 function when it is
//! created (see `text.rs` for how kin's text settings map onto Milvus's); a server without BM25
//! functions refuses that with `Error::Unsupported`. Collections without one are as before.
//! The collection property `kin.config` holds kin's `CollectionConfig` as JSON, which is how kin
//! knows the collection is its own and which model it holds. Reads that promise
//! read-your-writes use Strong consistency. Calls are retried with exponential backoff while the
//! server is unreachable (it restarts, say), for up to `retry_for`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kin_core::Metric;
use kin_store::{Backend, CollectionConfig, CollectionWrite, Error, IndexKind, Result, TextConfig};
use milvus::v2 as sdk;
use milvus::v2::prelude::*;
use parking_lot::Mutex;

use crate::collection::MilvusCollection;
use crate::layout::Layout;
use crate::link::{Failure, Link};
use crate::target::MilvusTarget;
use crate::text::{lacking, schema_parts, sparse_index, TEXT_FEATURE};

/// The collection property holding kin's `CollectionConfig` as JSON.
const CONFIG_PROPERTY: &str = "kin.config";
const MAX_ID_BYTES: u32 = 1024;
/// A mixed collection's keys: the space's name (at most 128 bytes), `/`, the id.
const MAX_KEY_BYTES: u32 = MAX_ID_BYTES + 129;

/// The settings of each space's vectors: the collection's own for a collection of one model.
fn space_settings(config: &CollectionConfig) -> Vec<&CollectionConfig> {
    if config.is_mixed() {
        config.spaces.iter().map(|s| &s.settings).collect()
    } else {
        vec![config]
    }
}

/// A Milvus server holding kin's collections.
pub struct MilvusBackend {
    target: MilvusTarget,
    link: Arc<Link>,
    open: Mutex<HashMap<String, Arc<MilvusCollection>>>,
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
        let layout = Layout::of(&config).map_err(|e| incompatible(e.to_string()))?;
        let fields: HashMap<&str, &FieldSchema> =
            desc.get_schema().get_fields().iter().map(|f| (f.get_name(), f)).collect();
        let mut expect: Vec<(&str, DataType)> = vec![
            ("id", DataType::VarChar),
            ("int_id", DataType::Bool),
            ("payload", DataType::Json),
            ("source", DataType::VarChar),
            ("content_hash", DataType::VarChar),
        ];
        if layout.mixed {
            expect.extend([("key", DataType::VarChar), ("space", DataType::VarChar)]);
        }
        for space in &layout.spaces {
            expect.push((&space.vector, DataType::FloatVector));
            if let Some(text) = &space.text {
                expect.extend([
                    (text.text.as_str(), DataType::VarChar),
                    (text.sparse.as_str(), DataType::SparseFloatVector),
                ]);
            }
        }
        for (field, kind) in expect {
            match fields.get(field) {
                None => {
                    return Err(incompatible(format!("it has no field {field:?}, which kin's settings for it need")))
                }
                Some(f) if f.get_data_type() != kind => {
                    return Err(incompatible(format!(
                        "field {field:?} is {:?}, kin writes {kind:?}",
                        f.get_data_type()
                    )))
                }
                _ => {}
            }
        }
        let key = layout.key_field();
        if !fields[key].is_primary_key() {
            return Err(incompatible(format!("field {key:?} is not the primary key")));
        }
        for space in &layout.spaces {
            let dim = fields[space.vector.as_str()].get_type_params().get("dim").and_then(|d| d.parse::<usize>().ok());
            if dim != Some(space.dim) {
                return Err(incompatible(format!(
                    "the vector field {:?} has dimension {dim:?}, kin's settings say {}",
                    space.vector, space.dim
                )));
            }
        }
        Ok(config)
    }

    fn handle(&self, config: CollectionConfig) -> Result<Arc<MilvusCollection>> {
        let layout = Layout::of(&config)?;
        let c =
            Arc::new(MilvusCollection { config, link: self.link.clone(), backend: self.target.to_string(), layout });
        self.open.lock().insert(c.config.name.clone(), c.clone());
        Ok(c)
    }

    /// The open collection `name` with kin's settings.
    fn open_collection(&self, name: &str) -> Result<Arc<MilvusCollection>> {
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
        self.handle(config)
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
        let layout = Layout::of(&config)?;
        let settings = serde_json::to_string(&config).map_err(|e| Error::InvalidSettings(e.to_string()))?;
        let description = match config.is_mixed() {
            false => format!("kin collection of {}", config.model.as_deref().unwrap_or("bare vectors")),
            true => {
                let spaces: Vec<String> = space_settings(&config)
                    .iter()
                    .map(|s| format!("{} ({})", s.name, s.model.as_deref().unwrap_or("bare vectors")))
                    .collect();
                format!("kin collection of spaces {}", spaces.join(", "))
            }
        };
        let mut schema = CollectionSchema::new().description(description.clone()).enable_dynamic_field(false);
        if layout.mixed {
            schema = schema
                .add_field(
                    FieldSchema::new()
                        .name("key")
                        .data_type(DataType::VarChar)
                        .max_length(MAX_KEY_BYTES)
                        .primary_key(true),
                )
                .add_field(FieldSchema::new().name("space").data_type(DataType::VarChar).max_length(128));
        }
        let id = FieldSchema::new().name("id").data_type(DataType::VarChar).max_length(MAX_ID_BYTES);
        schema = schema
            .add_field(if layout.mixed { id } else { id.primary_key(true) })
            .add_field(FieldSchema::new().name("int_id").data_type(DataType::Bool))
            .add_field(FieldSchema::new().name("payload").data_type(DataType::Json))
            .add_field(FieldSchema::new().name("source").data_type(DataType::VarChar).max_length(4096))
            .add_field(FieldSchema::new().name("content_hash").data_type(DataType::VarChar).max_length(128));
        let mut indexes = Vec::new();
        for (space, settings) in layout.spaces.iter().zip(space_settings(&config)) {
            schema = schema.add_field(
                FieldSchema::new()
                    .name(space.vector.as_str())
                    .data_type(DataType::FloatVector)
                    .dimension(space.dim as u32),
            );
            let param = match settings.index {
                IndexKind::Hnsw => IndexParam::new().index_type(IndexType::Hnsw).extra_params(HashMap::from([
                    ("M".to_string(), settings.m.to_string()),
                    ("efConstruction".to_string(), settings.ef_construction.to_string()),
                ])),
                IndexKind::Flat => IndexParam::new().index_type(IndexType::Flat),
            };
            indexes.push(param.field_name(space.vector.as_str()).metric_type(metric_type(settings.metric)));
            if let Some(text) = &space.text {
                let (field, sparse, function) = schema_parts(text);
                schema = schema.add_field(field).add_field(sparse).add_function(function);
                indexes.push(sparse_index(text));
            }
        }
        let has_text = layout.spaces.iter().any(|s| s.text.is_some());
        let name = config.name.clone();
        let made = self.link.call("creating a collection", move |c| {
            let (name, description, settings, schema, indexes) =
                (name.clone(), description.clone(), settings.clone(), schema.clone(), indexes.clone());
            async move {
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
                for index in indexes {
                    c.create_index(
                        sdk::request::index::CreateIndexRequest::builder()
                            .collection_name(name.clone())
                            .index_param(index)
                            .sync(false)
                            .build()?,
                    )
                    .await?;
                }
                c.load_collection(
                    sdk::request::collection::LoadCollectionRequest::builder().collection_name(name).build()?,
                )
                .await?;
                Ok(())
            }
        });
        if let Err(e) = made {
            // A server that took the collection but not its indexes leaves no half of it behind.
            if (has_text || layout.mixed) && self.list().is_ok_and(|names| names.contains(&config.name)) {
                let _ = self.drop_unchecked(&config.name);
            }
            let e = too_many_vector_fields(e, layout.spaces.len());
            return Err(if has_text { lacking(e, TEXT_FEATURE) } else { e });
        }
        Ok(self.handle(config)?)
    }

    fn collection(&self, name: &str) -> Result<Arc<dyn CollectionWrite>> {
        Ok(self.open_collection(name)?)
    }

    /// One space of a mixed collection: its rows of the one Milvus collection (see `layout.rs`).
    fn space(&self, collection: &str, space: &str) -> Result<Arc<dyn CollectionWrite>> {
        Ok(Arc::new(self.open_collection(collection)?.space(space)?))
    }

    fn drop_collection(&self, name: &str) -> Result<()> {
        // Only kin's own collections are dropped through kin.
        self.collection(name)?;
        self.drop_unchecked(name)
    }

    /// Collections made with a text index search it (`--mode text`) and fuse it with the
    /// vectors (`--mode hybrid`) on the server; see `text.rs`.
    fn text_search(&self) -> bool {
        true
    }

    /// Milvus gets kin's text index only when kin creates the collection: Milvus Lite has no
    /// AddCollectionField or AddFunctionField at all, and on a full server every stored item's
    /// text would have to be written again into a new field. Asking for the index the
    /// collection already has (or for none, when it has none) changes nothing.
    fn set_text_index(&self, name: &str, text: Option<TextConfig>) -> Result<Arc<dyn CollectionWrite>> {
        let c = self.collection(name)?;
        if c.config().text == text {
            return Ok(c);
        }
        Err(Error::Unsupported {
            backend: self.describe(),
            feature: if text.is_some() {
                "adding or changing a text index of an existing collection"
            } else {
                "removing a text index"
            }
            .into(),
            reason: format!(
                "kin sets up Milvus's BM25 function (a new field and function) only when it creates a collection; \
                 move {name:?} to an embedded store (`kin migrate {name} --to DIR`), change its text index there \
                 (`kin --data DIR collection reindex {name} ...`), drop it here and migrate it back"
            ),
        })
    }
}

impl MilvusBackend {
    /// Drops a collection, kin's or not.
    fn drop_unchecked(&self, name: &str) -> Result<()> {
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

/// A server's refusal of a mixed collection's vector fields (a full Milvus takes 4 per
/// collection unless `proxy.maxVectorFieldNum` says more) as `Unsupported`, naming the limit.
fn too_many_vector_fields(e: Error, spaces: usize) -> Error {
    let limited = |message: &str| {
        let lower = message.to_lowercase();
        lower.contains("vector field") && ["limit", "maximum", "exceed"].iter().any(|w| lower.contains(w))
    };
    match e {
        Error::Backend { backend, message } if spaces > 1 && limited(&message) => Error::Unsupported {
            backend,
            feature: format!("a collection of {spaces} vector spaces"),
            reason: format!(
                "the server refused {spaces} vector fields in one collection ({message}); its \
                 proxy.maxVectorFieldNum sets the limit, or make a collection of fewer spaces"
            ),
        },
        other => other,
    }
}

pub(crate) fn metric_type(metric: Metric) -> MetricType {
    match metric {
        Metric::Cosine => MetricType::Cosine,
        Metric::Dot => MetricType::Ip,
        Metric::L2 => MetricType::L2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_limiting_vector_fields_is_named_unsupported() {
        let refused = || Error::Backend {
            backend: "milvus://m".into(),
            message: "creating a collection: maximum vector field's number should be limited to 4".into(),
        };
        let e = too_many_vector_fields(refused(), 5);
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("5 vector spaces") && e.to_string().contains("maxVectorFieldNum"), "{e}");
        assert!(matches!(too_many_vector_fields(refused(), 1), Error::Backend { .. }));
        let other = Error::Backend { backend: "milvus://m".into(), message: "collection exists".into() };
        assert!(matches!(too_many_vector_fields(other, 5), Error::Backend { .. }));
    }
}
