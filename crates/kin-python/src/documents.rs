//! Documents in the Python package, the way `kin add` and `kin search` treat them: collections
//! made for a model, files added through kin's ingestion pipeline, and search by query text
//! (dense, BM25 or hybrid) that answers with documents or chunks.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kin_embed::{Embedder, LoadOptions};
use kin_ingest::{AddOptions, Adder, DocumentHit, Quiet, Summary};
use kin_store::{Backend, CollectionConfig, CollectionWrite, Fusion, Query, SearchMode, SearchParams, TextConfig};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::error::{self, raise, Kind};
use crate::json::to_py;
use crate::pool::detach;
use crate::store::id_to_py;

/// Files handed to the pipeline between two looks for Ctrl-C.
const FILES_PER_CALL: usize = 64;

/// The settings of a new collection: of `dim` bare vectors, or of `model`'s vectors (`dim`, when
/// given too, must be the model's). `text_index`: `None` gives one to a model that reads text
/// only, where the backend has text search.
pub fn config(
    name: &str,
    dim: Option<usize>,
    model: Option<&str>,
    text_index: Option<bool>,
    text_search: bool,
) -> PyResult<CollectionConfig> {
    let Some(spec) = model else {
        let Some(dim) = dim else {
            return Err(raise(Kind::InvalidInput, format!("collection {name:?}: give its dimension or a model")));
        };
        if text_index == Some(true) {
            return Err(raise(Kind::InvalidInput, "text_index: a text index needs a model that reads text"));
        }
        return Ok(CollectionConfig::new(name, dim));
    };
    let choice = kin_ingest::model_choice(spec, None).map_err(error::ingest)?;
    if let Some(d) = dim.filter(|&d| d != choice.dim) {
        return Err(raise(
            Kind::InvalidInput,
            format!("dimension {d} does not match model {}, whose vectors have {}", choice.model, choice.dim),
        ));
    }
    if text_index == Some(true) && !text_search {
        return Err(raise(Kind::InvalidInput, "text_index: this backend has no text search"));
    }
    let mut config = CollectionConfig::new(name, choice.dim);
    config.model = Some(choice.model);
    let wanted = text_index.unwrap_or(choice.text_only && text_search);
    config.text = wanted.then(TextConfig::default);
    Ok(config)
}

/// Adds the files under `paths` to collection `name` (folders walked), Ctrl-C honoured between
/// groups of files; what each group wrote stays written.
pub fn add<'py>(
    py: Python<'py>,
    backend: &Arc<dyn Backend>,
    name: &str,
    paths: Vec<PathBuf>,
    options: AddOptions,
) -> PyResult<Bound<'py, PyDict>> {
    let (adder, files) = detach(py, || -> kin_ingest::Result<_> {
        let files = kin_ingest::list_files(&paths)?;
        Ok((Adder::new(&**backend, name, &options)?, files))
    })
    .map_err(error::ingest)?;
    let mut summary = Summary::default();
    for group in files.chunks(FILES_PER_CALL) {
        summary.absorb(detach(py, || adder.add(group, &Quiet)).map_err(error::ingest)?);
        py.check_signals()?;
    }
    let count = detach(py, || backend.collection(name).and_then(|c| c.count())).map_err(error::store)?;
    let out = PyDict::new(py);
    out.set_item("added", summary.added)?;
    out.set_item("unchanged", summary.unchanged)?;
    out.set_item("items", summary.items)?;
    out.set_item("skipped", summary.skipped)?;
    out.set_item("failed", summary.failed)?;
    out.set_item("count", count)?;
    Ok(out)
}

/// How [`find`] searches.
pub struct Find<'a> {
    pub k: usize,
    pub mode: &'a str,
    pub filter: Option<&'a kin_core::filter::Filter>,
    pub ef: Option<usize>,
    /// Group chunks by document (each document's best chunk), or return chunks.
    pub documents: bool,
    /// Hybrid: weighted fusion with this much dense; `None`: reciprocal rank with `rrf_k`.
    pub alpha: Option<f32>,
    pub rrf_k: f32,
}

/// Models loaded for query texts, by name, kept for the next search.
#[derive(Default)]
pub struct Models(Mutex<HashMap<String, Arc<dyn Embedder>>>);

impl Models {
    fn get(&self, name: &str) -> kin_embed::Result<Arc<dyn Embedder>> {
        let mut models = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(model) = models.get(name) {
            return Ok(model.clone());
        }
        let model: Arc<dyn Embedder> = Arc::from(kin_embed::load_with(name, &LoadOptions::from_env())?);
        models.insert(name.to_string(), model.clone());
        Ok(model)
    }
}

/// The best documents (or chunks) for each query text in `collection`: dense search embeds the
/// texts with the collection's model, text search reads its BM25 index, hybrid fuses both.
pub fn find<'py>(
    py: Python<'py>,
    collection: Arc<dyn CollectionWrite>,
    models: &Models,
    texts: Vec<String>,
    how: &Find<'_>,
) -> PyResult<Bound<'py, PyList>> {
    let mode: SearchMode = how.mode.parse().map_err(|e: String| raise(Kind::InvalidInput, e))?;
    if let Some(alpha) = how.alpha.filter(|a| !(0.0..=1.0).contains(a)) {
        return Err(raise(Kind::InvalidInput, format!("alpha {alpha}: expected a weight from 0 to 1")));
    }
    let fusion = match how.alpha {
        Some(alpha) => Fusion::Weighted { alpha },
        None => Fusion::Rrf { k: how.rrf_k },
    };
    let params = SearchParams { k: how.k, ef: how.ef, filter: how.filter, exact: false };
    let results: Vec<Vec<DocumentHit>> = detach(py, || -> PyResult<_> {
        let vectors = if mode == SearchMode::Text {
            Vec::new()
        } else {
            let Some(model) = collection.config().model.clone() else {
                return Err(raise(
                    Kind::InvalidInput,
                    format!(
                        "collection {:?} has no model (it holds bare vectors): search it with vectors",
                        collection.name()
                    ),
                ));
            };
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            models.get(&model).and_then(|m| m.embed_text(&refs)).map_err(error::embed)?
        };
        let vector = |i: usize| vectors.get(i).map_or(&[][..], Vec::as_slice);
        let queries: Vec<Query<'_>> =
            texts.iter().enumerate().map(|(i, t)| Query::of(mode, vector(i), t, fusion)).collect();
        kin_ingest::search_many(&*collection, &queries, &params, how.documents).map_err(error::ingest)
    })?;
    let out = PyList::empty(py);
    for hits in results {
        let row = PyList::empty(py);
        for h in hits {
            let hit = PyDict::new(py);
            hit.set_item("id", id_to_py(py, &h.best.id)?)?;
            hit.set_item("doc", h.doc)?;
            hit.set_item("score", h.best.score)?;
            hit.set_item("chunks", h.matched_chunks)?;
            hit.set_item("found", to_py(py, &h.best.found.to_json())?)?;
            hit.set_item("payload", to_py(py, &h.best.payload)?)?;
            row.append(hit)?;
        }
        out.append(row)?;
    }
    Ok(out)
}
