//! The thread pool kin computes on, made safe under `fork`.
//!
//! rayon's global pool cannot survive `fork`: the child has the pool's bookkeeping but none of
//! its threads, so the first parallel call would wait forever. Every call of this extension runs
//! inside a pool of its own instead (kin's libraries, gemm and the tokenizer all use whatever
//! pool they are called from), and `kin/__init__.py` registers `after_fork_in_child` with
//! `os.register_at_fork`, so a forked child starts a fresh pool on its first call.

use std::sync::{Arc, RwLock};

use pyo3::prelude::*;
use rayon::{ThreadPool, ThreadPoolBuilder};

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

fn pool() -> Arc<ThreadPool> {
    if let Some(pool) = POOL.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        return pool.clone();
    }
    let mut slot = POOL.write().unwrap_or_else(|e| e.into_inner());
    slot.get_or_insert_with(|| {
        // No thread count: rayon's rule (RAYON_NUM_THREADS, else one per core).
        let pool = ThreadPoolBuilder::new()
            .thread_name(|i| format!("kin-{i}"))
            .build()
            .expect("starting kin's compute threads");
        Arc::new(pool)
    })
    .clone()
}

/// Runs `f` on kin's pool (its parallel work stays there).
pub fn run<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}

/// Runs `f` on kin's pool with the GIL released.
pub fn detach<R: Send>(py: Python<'_>, f: impl FnOnce() -> R + Send) -> R {
    py.detach(|| run(f))
}

/// Forgets the parent's pool in a forked child (its threads do not exist there; dropping it
/// would signal them), so that the next call starts a new one.
#[pyfunction]
pub fn after_fork_in_child() {
    let old = POOL.write().unwrap_or_else(|e| e.into_inner()).take();
    std::mem::forget(old);
}
