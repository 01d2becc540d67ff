//! kin's vector index: distance kernels with runtime-selected SIMD, append-only vector storage,
//! exact search ([`FlatIndex`]) and an HNSW graph ([`HnswIndex`]) that takes inserts, deletes and
//! searches concurrently, can walk int8 codes, and saves to one checksummed file.
//!
//! ```
//! use kin_index::{HnswIndex, HnswParams, Metric};
//!
//! let index = HnswIndex::new(3, Metric::Cosine, HnswParams::default())?;
//! let a = index.insert(&[1.0, 0.0, 0.0])?;
//! index.insert(&[0.0, 1.0, 0.0])?;
//! let hits = index.search(&[0.9, 0.1, 0.0], 1, 64, None)?;
//! assert_eq!(hits[0].0, a);
//! # Ok::<(), kin_index::Error>(())
//! ```
//!
//! | file | job |
//! |---|---|
//! | `distance/` | [`dot`], [`l2_squared`], int8 kernels; AVX-512F, AVX2+FMA, NEON and scalar twins |
//! | `storage/` | append-only segments of rows that never move; the vector store |
//! | `index.rs` | [`VectorIndexRead`], [`SearchParams`] |
//! | `flat.rs` | [`FlatIndex`], exact search |
//! | `hnsw/` | [`HnswIndex`] (its `mod.rs` maps its files) |
//! | `quantize.rs` | [`Int8Quantizer`] |
//! | `checksum.rs` | checksummed little-endian files |
//! | `topk.rs`, `validate.rs` | nearest-k collection; checks on incoming vectors |

mod checksum;
pub mod distance;
mod error;
mod flat;
mod hnsw;
mod index;
mod quantize;
mod storage;
mod topk;
mod validate;

pub use distance::{dot, dot_i8, l2_squared, l2_squared_i8, normalize, simd_level, simd_level_i8, SimdLevel};
pub use error::{Error, Result};
pub use flat::FlatIndex;
pub use hnsw::{exact_threshold, HnswIndex, HnswParams, Quantization, REMOVED};
pub use index::{SearchParams, VectorIndexRead, DEFAULT_EF};
pub use kin_core::Metric;
pub use quantize::Int8Quantizer;
pub use validate::MAX_DIM;
