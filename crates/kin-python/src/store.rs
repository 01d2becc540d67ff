//! `kin._kin.Store`: collections behind kin's storage seam (`kin_store::Backend`), each call
//! with the GIL released. `kin.MilvusClient` speaks pymilvus over it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use kin_core::filter::Filter;
use kin_core::Metric;
use kin_store::{Backend, CollectionWrite, IndexKind, Item, ItemId, SearchParams};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

use crate::documents::{self, Models};
use crate::error::{self, raise, Kind};
use crate::json::{to_json, to_py};
use crate::pool::detach;
use crate::vectors::{rows, to_numpy1};

/// Items read per page when a scan walks a collection.
const SCAN_PAGE: usize = 1024;

#[pyclass(frozen, weakref, module = "kin._kin")]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// Models loaded to embed query texts.
    models: Models,
}

#[pymethods]
impl Store {
    /// Opens (creating if needed) the embedded store in the folder `path`; one process at a time.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let store = detach(py, || kin_store::Store::open(&path)).map_err(error::store)?;
        Ok(Store { backend: Arc::new(store), models: Models::default() })
    }

    /// A Milvus server through kin-milvus: `milvus://[USER:PASSWORD@]HOST[:PORT][/DB][?token=]`
    /// (`http://` and `https://` are taken as pymilvus writes them). The collections are kin's
    /// schema in that server; calls are retried while it is unreachable, for `retry_s` seconds.
    #[staticmethod]
    #[pyo3(signature = (url, retry_s = 30.0))]
    fn connect(py: Python<'_>, url: &str, retry_s: f64) -> PyResult<Self> {
        let url = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => format!("milvus://{rest}"),
            (_, Some(rest)) => format!("milvus+tls://{rest}"),
            _ => url.to_string(),
        };
        if !(retry_s.is_finite() && retry_s >= 0.0) {
            return Err(raise(Kind::InvalidInput, format!("retry_s {retry_s}: expected a number of seconds >= 0")));
        }
        let retry = std::time::Duration::from_secs_f64(retry_s);
        let backend = detach(py, || {
            let target = kin_milvus::MilvusTarget::parse(url.trim_end_matches('/'))?;
            kin_milvus::MilvusBackend::connect_with(&target, retry)
        })
        .map_err(error::store)?;
        Ok(Store { backend: Arc::new(backend), models: Models::default() })
    }

    /// Where the store lives, as kin describes it.
    fn describe(&self) -> String {
        self.backend.describe()
    }

    /// The collections' names, sorted.
    fn names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let backend = self.backend.clone();
        detach(py, move || backend.names()).map_err(error::store)
    }

    fn has(&self, py: Python<'_>, name: &str) -> PyResult<bool> {
        Ok(self.names(py)?.iter().any(|n| n == name))
    }

    /// Creates a collection of `dim`-dimensional vectors, of `model`'s vectors, or a mixed
    /// collection of named `spaces` (`{name: model}`, with `routes` `{modality: space}` where two
    /// models read one kind of content); `metric` is cosine, dot (ip) or l2, `index` hnsw or
    /// flat; `text_index` `None` gives a text model's collection (a mixed one's text spaces) a
    /// BM25 index.
    // The arguments are Python's keyword arguments, each with its default.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (name, dim = None, metric = "cosine", index = "hnsw", m = 16, ef_construction = 200, model = None, text_index = None, spaces = None, routes = None))]
    fn create(
        &self,
        py: Python<'_>,
        name: &str,
        dim: Option<usize>,
        metric: &str,
        index: &str,
        m: usize,
        ef_construction: usize,
        model: Option<&str>,
        text_index: Option<bool>,
        spaces: Option<Vec<(String, String)>>,
        routes: Option<Vec<(String, String)>>,
    ) -> PyResult<()> {
        let text_search = self.backend.text_search();
        let holds = documents::Holds { dim, model, spaces, routes: routes.unwrap_or_default(), text_index };
        let mut config = detach(py, || documents::config(name, holds, text_search))?;
        let metric = Metric::from_str(metric).map_err(|e| raise(Kind::InvalidInput, e.to_string()))?;
        let index = match index.to_ascii_lowercase().as_str() {
            "hnsw" => IndexKind::Hnsw,
            "flat" => IndexKind::Flat,
            _ => return Err(raise(Kind::InvalidInput, format!("unknown index {index:?}: expected hnsw or flat"))),
        };
        let tune = |c: &mut kin_store::CollectionConfig| {
            (c.metric, c.index, c.m, c.ef_construction) = (metric, index, m, ef_construction);
        };
        tune(&mut config);
        config.spaces.iter_mut().for_each(|s| tune(&mut s.settings));
        let backend = self.backend.clone();
        detach(py, move || backend.create(config)).map_err(error::store)?;
        Ok(())
    }

    /// Adds files and folders through kin's ingestion pipeline, as `kin add` does: documents cut
    /// into chunks, records one document each, media as their items, unchanged files skipped.
    /// Returns what was added, skipped and failed (with reasons) and the items now stored.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (name, paths, batch_size = 0, chunk_tokens = None, chunk_overlap = None, max_file_mb = None))]
    fn add<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        paths: Vec<PathBuf>,
        batch_size: usize,
        chunk_tokens: Option<usize>,
        chunk_overlap: Option<usize>,
        max_file_mb: Option<u64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let options = kin_ingest::AddOptions { batch_size, chunk_tokens, chunk_overlap, max_file_mb };
        documents::add(py, &self.backend, name, paths, options)
    }

    /// The best documents (or, with `documents=False`, chunks) for each query text: `mode`
    /// dense, text (BM25) or hybrid (fused by reciprocal rank, or weighted by `alpha`). A mixed
    /// collection answers from one `space`, or from every space that reads text, fused with
    /// `space_weights`. Per query a list of dicts: id, doc, score, chunks (matching chunks of the
    /// document), found (each retriever's rank and score), space, payload.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (name, texts, k = 10, mode = "dense", filter = None, ef = None, documents = true, alpha = None, rrf_k = 60.0, space = None, space_weights = None))]
    fn find<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        texts: Vec<String>,
        k: usize,
        mode: &str,
        filter: Option<&str>,
        ef: Option<usize>,
        documents: bool,
        alpha: Option<f32>,
        rrf_k: f32,
        space: Option<&str>,
        space_weights: Option<HashMap<String, f32>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let filter = parse_filter(filter)?;
        let weights = space_weights.unwrap_or_default();
        let how = documents::Find { k, mode, filter: filter.as_ref(), ef, documents, alpha, rrf_k, space, weights };
        documents::find(py, &self.backend, name, &self.models, texts, &how)
    }

    fn drop(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let backend = self.backend.clone();
        detach(py, move || backend.drop_collection(name)).map_err(error::store)
    }

    /// The collection's settings (`collection.json`) as a dict.
    fn config<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        let collection = self.open(py, name)?;
        let value = serde_json::to_value(collection.config())
            .map_err(|e| raise(Kind::Store, format!("collection {name:?}: settings: {e}")))?;
        to_py(py, &value)
    }

    fn count(&self, py: Python<'_>, name: &str) -> PyResult<usize> {
        let collection = self.open(py, name)?;
        detach(py, move || collection.count()).map_err(error::store)
    }

    /// Writes items (replacing those with the same ids): `ids` ints or strings, `vectors` one row
    /// per id, `payloads` one dict per id. Durable when it returns.
    fn upsert(
        &self,
        py: Python<'_>,
        name: &str,
        ids: &Bound<'_, PyAny>,
        vectors: &Bound<'_, PyAny>,
        payloads: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let ids = item_ids(ids)?;
        let vectors = rows(vectors, "vectors")?;
        let payloads: Vec<Value> = payloads
            .try_iter()?
            .enumerate()
            .map(|(i, p)| {
                to_json(&p?, &format!("payload of item {}", ids.get(i).map_or(i.to_string(), |id| id.to_string())))
            })
            .collect::<PyResult<_>>()?;
        if vectors.len() != ids.len() || payloads.len() != ids.len() || (vectors.single && !ids.is_empty()) {
            return Err(raise(
                Kind::InvalidInput,
                format!(
                    "{} ids, {} vectors and {} payloads: one of each per item",
                    ids.len(),
                    vectors.len(),
                    payloads.len()
                ),
            ));
        }
        let items: Vec<Item> = ids
            .into_iter()
            .zip(vectors.iter())
            .zip(payloads)
            .map(|((id, v), p)| Item::new(id, v.to_vec()).with_payload(p))
            .collect();
        let n = items.len();
        let collection = self.open(py, name)?;
        detach(py, move || collection.upsert(items)).map_err(error::store)?;
        Ok(n)
    }

    /// Deletes items by id; returns how many existed.
    fn delete(&self, py: Python<'_>, name: &str, ids: &Bound<'_, PyAny>) -> PyResult<usize> {
        let ids = item_ids(ids)?;
        let collection = self.open(py, name)?;
        detach(py, move || collection.delete(&ids)).map_err(error::store)
    }

    /// `(id, vector, payload)` of each id that exists, in the order asked.
    fn get<'py>(&self, py: Python<'py>, name: &str, ids: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let ids = item_ids(ids)?;
        let collection = self.open(py, name)?;
        let items = detach(py, move || {
            ids.iter().filter_map(|id| collection.get(id).transpose()).collect::<kin_store::Result<Vec<_>>>()
        })
        .map_err(error::store)?;
        item_list(py, items)
    }

    /// The `k` nearest items to each query vector: per query a list of `(id, score, payload)`,
    /// best first. Scores are similarities for cosine and dot, squared distances for l2.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (name, queries, k = 10, filter = None, ef = None, exact = false))]
    fn search<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        queries: &Bound<'py, PyAny>,
        k: usize,
        filter: Option<&str>,
        ef: Option<usize>,
        exact: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let queries = rows(queries, "data")?;
        let filter = parse_filter(filter)?;
        let collection = self.open(py, name)?;
        let results = detach(py, || {
            let params = SearchParams { k, ef, filter: filter.as_ref(), exact };
            queries.iter().map(|q| collection.search(q, &params)).collect::<kin_store::Result<Vec<_>>>()
        })
        .map_err(error::store)?;
        let out = PyList::empty(py);
        for hits in results {
            let row = PyList::empty(py);
            for hit in hits {
                row.append(PyTuple::new(
                    py,
                    [id_to_py(py, &hit.id)?, hit.score.into_pyobject(py)?.into_any(), to_py(py, &hit.payload)?],
                )?)?;
            }
            out.append(row)?;
        }
        Ok(out)
    }

    /// Items whose payload matches `filter` (all without one), in the order they were first
    /// written, at most `limit` after skipping `offset`: `(id, vector, payload)` each.
    #[pyo3(signature = (name, filter = None, limit = None, offset = 0))]
    fn scan<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        filter: Option<&str>,
        limit: Option<usize>,
        offset: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let filter = parse_filter(filter)?;
        let collection = self.open(py, name)?;
        let wanted = limit.map_or(usize::MAX, |l| l.saturating_add(offset));
        let mut found: Vec<Item> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = detach(py, || collection.scan(cursor.as_deref(), SCAN_PAGE)).map_err(error::store)?;
            found.extend(page.into_iter().filter(|item| filter.as_ref().is_none_or(|f| f.matches(&item.payload))));
            if found.len() >= wanted || next.is_none() {
                break;
            }
            cursor = next;
            py.check_signals()?;
        }
        found.truncate(wanted);
        item_list(py, found.into_iter().skip(offset).collect())
    }

    fn __repr__(&self) -> String {
        format!("Store({})", self.backend.describe())
    }
}

impl Store {
    fn open(&self, py: Python<'_>, name: &str) -> PyResult<Arc<dyn CollectionWrite>> {
        let backend = self.backend.clone();
        detach(py, move || backend.collection(name)).map_err(error::store)
    }
}

fn parse_filter(filter: Option<&str>) -> PyResult<Option<Filter>> {
    match filter.map(str::trim) {
        None | Some("") => Ok(None),
        Some(expression) => Filter::parse(expression).map(Some).map_err(|e| error::filter(expression, e)),
    }
}

/// Ids from one int or string, or a list of them.
fn item_ids(value: &Bound<'_, PyAny>) -> PyResult<Vec<ItemId>> {
    if value.is_instance_of::<PyString>() || value.is_instance_of::<PyInt>() {
        return Ok(vec![item_id(value, 0)?]);
    }
    let iter =
        value.try_iter().map_err(|_| raise(Kind::InvalidInput, "ids: expected an int, a string or a list of them"))?;
    iter.enumerate().map(|(i, v)| item_id(&v?, i)).collect()
}

fn item_id(value: &Bound<'_, PyAny>, index: usize) -> PyResult<ItemId> {
    if value.is_instance_of::<PyBool>() {
        return Err(raise(Kind::InvalidInput, format!("id {index}: a bool is not an id")));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(ItemId::Str(s.to_str()?.to_string()));
    }
    if value.is_instance_of::<PyInt>() || value.hasattr("__index__")? {
        return value
            .extract::<i64>()
            .map(ItemId::Int)
            .map_err(|_| raise(Kind::InvalidInput, format!("id {index}: {value} does not fit in 64 bits")));
    }
    let type_name = value.get_type().name()?;
    Err(raise(Kind::InvalidInput, format!("id {index}: expected an int or a string, got {type_name}")))
}

pub(crate) fn id_to_py<'py>(py: Python<'py>, id: &ItemId) -> PyResult<Bound<'py, PyAny>> {
    Ok(match id {
        ItemId::Int(i) => i.into_pyobject(py)?.into_any(),
        ItemId::Str(s) => PyString::new(py, s).into_any(),
    })
}

fn item_list(py: Python<'_>, items: Vec<Item>) -> PyResult<Bound<'_, PyList>> {
    let out = PyList::empty(py);
    for item in items {
        let id = id_to_py(py, &item.id)?;
        let vector = to_numpy1(py, item.vector).into_any();
        out.append(PyTuple::new(py, [id, vector, to_py(py, &item.payload)?])?)?;
    }
    Ok(out)
}
