//! kin's embedded store: collections of vectors with payloads, searched through our own HNSW
//! index, made durable by a checksummed write-ahead log and snapshots.
//!
//! ```no_run
//! use kin_store::{CollectionConfig, Item, SearchParams, Store};
//! let store = Store::open("./kin-data".as_ref())?;
//! let docs = store.create(CollectionConfig::new("docs", 3))?;
//! docs.upsert(vec![Item::new(1, vec![0.1, 0.2, 0.3])])?;
//! let hits = docs.search(&[0.1, 0.2, 0.3], &SearchParams::default())?;
//! # Ok::<(), kin_store::Error>(())
//! ```

mod backend;
mod collection;
mod config;
mod error;
mod fusion;
mod hit;
mod item;
mod record;
mod repair;
mod snapshot;
mod space;
mod state;
mod store;
mod text;
mod vectors;
mod wal;

pub use backend::{Backend, CollectionRead, CollectionWrite, Usage};
pub use collection::Collection;
pub use config::{validate_name, CollectionConfig, IndexKind, Quantization, SpaceConfig, TextConfig, MAX_SPACES};
pub use error::{Error, Result};
pub use fusion::{Fusion, Query, SearchMode, HYBRID_DEPTH};
pub use hit::{validate_items, validate_query, Found, Hit, Rank, SearchParams};
pub use item::{Item, ItemId};
pub use repair::{Check, FileCheck, Health, Lost, Repair};
pub use space::SpaceHandle;
pub use store::Store;
pub use text::{Analyzer, Language, TextIndex, MAX_QUERY_TERMS};
pub use wal::SyncPolicy;
