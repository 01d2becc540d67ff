//! `LazyText`: a collection's text index as its state holds it, read from `text.idx` or built
//! from the items by the first text search.

use std::path::Path;
use std::sync::OnceLock;

use serde_json::Value;

use super::TextIndex;
use crate::config::TextConfig;

/// A collection's text index, built from its items the first time a search needs it, so that
/// opening a collection and searching it by vector never pay for analysing its text. Once
/// built, it is changed by every write; before, writes leave it alone (the build reads them).
pub(crate) struct LazyText {
    config: TextConfig,
    index: OnceLock<TextIndex>,
}

impl LazyText {
    /// Not built yet: the first search builds it from the items.
    pub(crate) fn new(config: &TextConfig) -> Self {
        LazyText { config: config.clone(), index: OnceLock::new() }
    }

    /// Built: an empty collection's, or one read from its file.
    pub(crate) fn built(config: &TextConfig, index: TextIndex) -> Self {
        let lazy = LazyText::new(config);
        let _ = lazy.index.set(index);
        lazy
    }

    /// The index of a snapshot of `slots` items saved at `path`, when it was saved with that
    /// snapshot; not built (with a warning when the file is damaged) otherwise.
    pub(crate) fn restore(config: &TextConfig, path: &Path, lsn: u64, slots: usize) -> Self {
        match TextIndex::load(path, lsn, config, slots) {
            Ok(Some(index)) => LazyText::built(config, index),
            Ok(None) => LazyText::new(config),
            Err(error) => {
                tracing::warn!(%error, "the text index will be built again from the items");
                LazyText::new(config)
            }
        }
    }

    /// The index, built from `payloads` (each live slot's, in slot order) on first use.
    pub(crate) fn get_or_build<'a>(&self, payloads: impl FnOnce() -> Vec<(u32, &'a Value)>) -> &TextIndex {
        self.index.get_or_init(|| {
            let started = std::time::Instant::now();
            let mut index = TextIndex::new(&self.config);
            let payloads = payloads();
            for &(slot, payload) in &payloads {
                index.add(slot, payload);
            }
            tracing::debug!(items = payloads.len(), seconds = started.elapsed().as_secs_f64(), "text index built");
            index
        })
    }

    /// The index, when it has been built.
    pub(crate) fn built_mut(&mut self) -> Option<&mut TextIndex> {
        self.index.get_mut()
    }

    pub(crate) fn compacted(&self, remap: &[u32]) -> LazyText {
        let index = OnceLock::new();
        if let Some(built) = self.index.get() {
            let _ = index.set(built.compacted(remap));
        }
        LazyText { config: self.config.clone(), index }
    }

    /// Bytes held (0 until built).
    pub(crate) fn usage(&self) -> usize {
        self.index.get().map_or(0, TextIndex::usage)
    }
}
