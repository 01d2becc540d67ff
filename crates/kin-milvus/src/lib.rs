//! kin's collections in a Milvus server: the same storage seam (`kin_store::Backend`) as the
//! embedded store, over Milvus's gRPC API (the official Rust SDK).
//!
//! ```no_run
//! use kin_store::Backend;
//! let target = kin_milvus::MilvusTarget::parse("milvus://127.0.0.1:19530")?;
//! let milvus = kin_milvus::MilvusBackend::connect(&target)?;
//! println!("{:?}", milvus.names()?);
//! # Ok::<(), kin_store::Error>(())
//! ```

mod backend;
mod collection;
mod filter;
mod layout;
mod link;
mod target;
mod text;

pub use backend::MilvusBackend;
pub use collection::MilvusCollection;
pub use filter::{translate, Translated};
pub use target::MilvusTarget;
