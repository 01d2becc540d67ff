//! Where the index keeps its rows: append-only segments that readers use without locks.

mod aligned;
mod segments;
mod vectors;

pub(crate) use segments::Segments;
pub(crate) use vectors::VectorStore;
