//! Documents in the Python package, the way `kin add` and `kin search` treat them: collections
//! made for a model, files added through kin's ingestion pipeline, and search by query text
//! (dense, BM25 or hybrid) that answers with documents or chunks.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kin_core::Modality;
use kin_embed::{Embedder, LoadOptions};
use kin_ingest::{AddOptions, Adder, DocumentHit, IngestError, Quiet, SpaceFusion, Summary};
use kin_store::{Backend, CollectionConfig, CollectionRead, Fusion, Query, SearchMode, SearchParams, TextConfig};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::error::{self, raise, Kind};
use crate::json::to_py;
use crate::pool::detach;
use crate::store::id_to_py;

/// Files handed to the pipeline between two looks for Ctrl-C.
const FILES_PER_CALL: usize = 64;

/// What a new collection holds: bare vectors, one model's, or a mixed collection's spaces.
pub struct Holds<'a> {
    pub dim: Option<usize>,
    pub model: Option<&'a str>,
    /// `(name, model)` of each space of a mixed collection, and `(modality, space)` routes where
    /// two models read one kind of content.
    pub spaces: Option<Vec<(String, String)>>,
    pub routes: Vec<(String, String)>,
    /// `None` gives a text index to a model (or the spaces) that read text only, where the
    /// backend has text search.
    pub text_index: Option<bool>,
}

/// The settings of a new collection `name`.
pub fn config(name: &str, holds: Holds<'_>, text_search: bool) -> PyResult<CollectionConfig> {
    if holds.text_index == Some(true) && !text_search {
        return Err(raise(Kind::InvalidInput, "text_index: this backend has no text search"));
    }
    let text = |default_on: bool| holds.text_index.unwrap_or(default_on && text_search).then(TextConfig::default);
    match (holds.model, holds.spaces) {
        (Some(_), Some(_)) => {
            Err(raise(Kind::InvalidInput, format!("collection {name:?}: give a model or spaces, not both")))
        }
        (None, Some(spaces)) => {
            if holds.dim.is_some() {
                return Err(raise(Kind::InvalidInput, "dimension: each space's comes from its model"));
            }
            let mut routes = Vec::with_capacity(holds.routes.len());
            for (modality, space) in holds.routes {
                let modality =
                    modality.parse::<Modality>().map_err(|e| raise(Kind::InvalidInput, format!("routes: {e}")))?;
                routes.push((modality, space));
            }
            let planned = kin_ingest::plan_spaces(&spaces, &routes, text(true).as_ref()).map_err(error::ingest)?;
            Ok(CollectionConfig::mixed(name, planned))
        }
        (Some(spec), None) => {
            let choice = kin_ingest::model_choice(spec, None).map_err(error::ingest)?;
            if let Some(d) = holds.dim.filter(|&d| d != choice.dim) {
                return Err(raise(
                    Kind::InvalidInput,
                    format!("dimension {d} does not match model {}, whose vectors have {}", choice.model, choice.dim),
                ));
            }
            let mut config = CollectionConfig::new(name, choice.dim);
            config.text = text(choice.text_only());
            config.model = Some(choice.model);
            Ok(config)
        }
        (None, None) => {
            let Some(dim) = holds.dim else {
                return Err(raise(
                    Kind::InvalidInput,
                    format!("collection {name:?}: give its dimension, a model or spaces"),
                ));
            };
            if holds.text_index == Some(true) {
                return Err(raise(Kind::InvalidInput, "text_index: a text index needs a model that reads text"));
            }
            Ok(CollectionConfig::new(name, dim))
        }
    }
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
    /// A mixed collection: the one space to search (`None`: every space that reads text, fused)
    /// and each space's weight in the fusion (1 unless given).
    pub space: Option<&'a str>,
    pub weights: HashMap<String, f32>,
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

/// The best documents (or chunks) for each query text in collection `name`: dense search embeds
/// the texts with the collection's model, text search reads its BM25 index, hybrid fuses both. A
/// mixed collection answers from one space, or from every space that reads text, fused.
pub fn find<'py>(
    py: Python<'py>,
    backend: &Arc<dyn Backend>,
    name: &str,
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
    let collection = detach(py, || backend.collection(name)).map_err(error::store)?;
    let config = collection.config().clone();
    let spaces = || config.spaces.iter().map(|s| s.settings.name.as_str()).collect::<Vec<_>>().join(", ");
    if let Some((space, weight)) =
        how.weights.iter().find(|(s, w)| config.space(s).is_none() || !(w.is_finite() && **w >= 0.0))
    {
        let why = if config.space(space).is_none() {
            format!("collection {name:?} has no such space ({})", spaces())
        } else {
            format!("{weight}: expected a weight of at least 0")
        };
        return Err(raise(Kind::InvalidInput, format!("space_weights[{space:?}]: {why}")));
    }
    let answer = |target: &dyn CollectionRead, mode: SearchMode| -> kin_ingest::Result<Vec<Vec<DocumentHit>>> {
        let vectors = if mode == SearchMode::Text {
            Vec::new()
        } else {
            let Some(model) = target.config().model.clone() else {
                return Err(IngestError::Route(format!(
                    "collection {:?} has no model (it holds bare vectors): search it with vectors",
                    target.name()
                )));
            };
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            models.get(&model).and_then(|m| m.embed_text(&refs))?
        };
        let vector = |i: usize| vectors.get(i).map_or(&[][..], Vec::as_slice);
        let queries: Vec<Query<'_>> =
            texts.iter().enumerate().map(|(i, t)| Query::of(mode, vector(i), t, fusion)).collect();
        kin_ingest::search_many(target, &queries, &params, how.documents)
    };
    let results = match (how.space, config.is_mixed()) {
        (None, false) => detach(py, || answer(&*collection, mode)),
        (Some(_), false) => {
            return Err(raise(
                Kind::InvalidInput,
                format!("collection {name:?} holds one model's vectors: space= is for mixed collections"),
            ))
        }
        (Some(space), true) => detach(py, || {
            kin_ingest::query_spaces(&config, Modality::Text, Some(space))?;
            answer(&*backend.space(name, space)?, mode)
        }),
        (None, true) => detach(py, || {
            let fuse = SpaceFusion { mode, rrf_k: how.rrf_k, weights: &how.weights, limit: how.k };
            kin_ingest::across_spaces(&**backend, &config, Modality::Text, &fuse, &mut |space, mode| {
                answer(space, mode)
            })
        }),
    }
    .map_err(error::ingest)?;
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
            hit.set_item("space", h.best.space)?;
            hit.set_item("payload", to_py(py, &h.best.payload)?)?;
            row.append(hit)?;
        }
        out.append(row)?;
    }
    Ok(out)
}
