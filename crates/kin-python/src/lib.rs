//! kin's Python extension, `kin._kin`: the native half of the `kin` package.
//!
//! Two classes, each a thin layer over kin's libraries: `Model` (any embedder `kin_embed::load`
//! gives) and `Store` (collections behind `kin_store::Backend`). The Python half (`python/kin/`)
//! gives them sentence-transformers' and pymilvus' faces. Every call that computes or touches
//! the disk releases the GIL.

mod documents;
mod error;
mod json;
mod model;
mod pool;
mod store;
mod vectors;

use pyo3::prelude::*;

#[pymodule]
fn _kin(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<model::Model>()?;
    m.add_class::<store::Store>()?;
    m.add_function(wrap_pyfunction!(threads, m)?)?;
    m.add_function(wrap_pyfunction!(pool::after_fork_in_child, m)?)?;
    Ok(())
}

/// Threads kin computes on (its rayon pool; `RAYON_NUM_THREADS` sets it before first use).
#[pyfunction]
fn threads() -> usize {
    pool::run(rayon::current_num_threads)
}
