//! `kin._kin.Model`: one of kin's embedders, loaded by name or path, run with the GIL released.
//!
//! The Python classes (`kin.Embedder`, `kin.SentenceTransformer`) give it
//! sentence-transformers' `encode`; this side does the work and nothing else: batches in the
//! caller's batch size, longest first (as sentence-transformers orders them), Ctrl-C and the
//! progress callback between batches, vectors back in input order.

use std::path::PathBuf;
use std::sync::Arc;

use kin_embed::Embedder;
use numpy::PyArray2;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::error::{self, raise, Kind};
use crate::pool::detach;
use crate::vectors::to_numpy2;

#[pyclass(frozen, module = "kin._kin")]
pub struct Model {
    inner: Arc<dyn Embedder>,
}

/// An image given by path or by its bytes.
enum ImageInput {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

#[pymethods]
impl Model {
    /// Loads `name_or_path` as `kin embed --model` does: a registry name or alias, a Hugging
    /// Face id, a local folder, or `openai:MODEL`; fetched and cached when not on disk.
    #[new]
    fn new(py: Python<'_>, name_or_path: &str) -> PyResult<Self> {
        let spec = name_or_path.to_string();
        let inner = detach(py, || kin_embed::load(&spec)).map_err(error::embed)?;
        Ok(Model { inner: Arc::from(inner) })
    }

    #[getter]
    fn name(&self) -> &str {
        self.inner.name()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim()
    }

    /// Whether the model's own pipeline returns unit vectors (a `Normalize` module).
    #[getter]
    fn normalized(&self) -> bool {
        self.inner.normalized()
    }

    /// What the model reads: `"text"`, `"image"`, `"audio"`, `"video"`.
    #[getter]
    fn modalities(&self) -> Vec<String> {
        self.inner.modalities().iter().map(|m| m.to_string()).collect()
    }

    /// Tokens a text is cut to, special tokens included; `None` without a local tokenizer.
    #[getter]
    fn max_seq_length(&self) -> Option<usize> {
        self.inner.text_tokenizer().map(|t| t.max_tokens())
    }

    /// Token ids of each text as the model reads them (special tokens added, truncated).
    fn tokenize(&self, py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<Vec<u32>>> {
        let model = self.inner.clone();
        detach(py, move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            model.tokenize(&refs)
        })
        .map_err(error::embed)
    }

    /// Embeds texts, `batch_size` at a time; one row per text, in input order. `on_batch`, when
    /// given, is called with the number of texts done after each batch.
    #[pyo3(signature = (texts, batch_size = 32, on_batch = None))]
    fn embed_text<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        batch_size: usize,
        on_batch: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        check_batch_size(batch_size)?;
        // Longest first, as sentence-transformers batches (by characters, stable).
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(texts[i].chars().count()));
        let texts = Arc::new(texts);
        let rows = self.in_batches(py, &order, batch_size, on_batch.as_ref(), |batch| {
            let refs: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
            self.inner.embed_text(&refs)
        })?;
        to_numpy2(py, rows, self.inner.dim())
    }

    /// Embeds images given as paths (`str` or `os.PathLike`) or as their bytes; the format is
    /// read from the content. One row per image, in input order.
    #[pyo3(signature = (images, batch_size = 32, on_batch = None))]
    fn embed_images<'py>(
        &self,
        py: Python<'py>,
        images: Vec<Bound<'py, PyAny>>,
        batch_size: usize,
        on_batch: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        check_batch_size(batch_size)?;
        if !self.inner.modalities().contains(&kin_core::Modality::Image) {
            let modality = kin_core::Modality::Image;
            return Err(error::embed(kin_embed::Error::UnsupportedModality {
                model: self.inner.name().into(),
                modality,
            }));
        }
        let inputs = images.iter().enumerate().map(|(i, v)| image_input(i, v)).collect::<PyResult<Vec<_>>>()?;
        let order: Vec<usize> = (0..inputs.len()).collect();
        let rows = self.in_batches(py, &order, batch_size, on_batch.as_ref(), |batch| {
            let decoded = batch.iter().map(|&i| decode_image(i, &inputs[i])).collect::<kin_embed::Result<Vec<_>>>()?;
            self.inner.embed_image(&decoded)
        })?;
        to_numpy2(py, rows, self.inner.dim())
    }

    /// One vector per media file (an image; an audio or video file's segments averaged by
    /// duration), judged by content, as `kin embed` and `kin add` embed files. Ctrl-C and
    /// `on_batch` between files.
    #[pyo3(signature = (paths, on_batch = None))]
    fn embed_files<'py>(
        &self,
        py: Python<'py>,
        paths: Vec<PathBuf>,
        on_batch: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let order: Vec<usize> = (0..paths.len()).collect();
        let rows = self.in_batches(py, &order, 1, on_batch.as_ref(), |batch| {
            batch.iter().map(|&i| embed_file(self.inner.as_ref(), &paths[i])).collect()
        })?;
        to_numpy2(py, rows, self.inner.dim())
    }

    fn __repr__(&self) -> String {
        format!("Model(name={:?}, dim={})", self.inner.name(), self.inner.dim())
    }
}

impl Model {
    /// Runs `embed` on `order` in batches with the GIL released, checking for Ctrl-C and
    /// reporting progress between batches; the rows come back in input order, flattened.
    fn in_batches<F>(
        &self,
        py: Python<'_>,
        order: &[usize],
        batch_size: usize,
        on_batch: Option<&Bound<'_, PyAny>>,
        embed: F,
    ) -> PyResult<Vec<f32>>
    where
        F: Fn(&[usize]) -> kin_embed::Result<kin_embed::Embeddings> + Sync,
    {
        let dim = self.inner.dim();
        let mut out = vec![0f32; order.len() * dim];
        let mut done = 0;
        for batch in order.chunks(batch_size) {
            let vectors = detach(py, || embed(batch)).map_err(error::embed)?;
            for (&i, v) in batch.iter().zip(&vectors) {
                if v.len() != dim {
                    return Err(raise(
                        Kind::Model,
                        format!("model returned {} values, its dimension is {dim}", v.len()),
                    ));
                }
                out[i * dim..(i + 1) * dim].copy_from_slice(v);
            }
            done += batch.len();
            if let Some(callback) = on_batch {
                callback.call1((done,))?;
            }
            py.check_signals()?;
        }
        Ok(out)
    }
}

fn check_batch_size(batch_size: usize) -> PyResult<()> {
    if batch_size == 0 {
        return Err(raise(Kind::InvalidInput, "batch_size must be at least 1"));
    }
    Ok(())
}

fn image_input(index: usize, value: &Bound<'_, PyAny>) -> PyResult<ImageInput> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(ImageInput::Bytes(bytes.as_bytes().to_vec()));
    }
    if value.is_instance_of::<PyString>() || value.hasattr("__fspath__")? {
        return Ok(ImageInput::Path(value.extract::<PathBuf>()?));
    }
    let type_name = value.get_type().name()?;
    Err(raise(Kind::InvalidInput, format!("image {index}: expected a path or bytes, got {type_name}")))
}

fn decode_image(index: usize, input: &ImageInput) -> kin_embed::Result<kin_image::Image> {
    let limits = kin_image::Limits::default();
    let bytes = match input {
        ImageInput::Bytes(b) => std::borrow::Cow::Borrowed(b.as_slice()),
        ImageInput::Path(p) => std::borrow::Cow::Owned(
            std::fs::read(p).map_err(|source| kin_embed::Error::Io { path: p.clone(), source })?,
        ),
    };
    kin_image::decode(&bytes, &limits)
        .map_err(|e| kin_embed::Error::InputShape { message: format!("image {index}: {e}") })
}

fn embed_file(model: &dyn Embedder, path: &std::path::Path) -> kin_embed::Result<Vec<f32>> {
    if !path.exists() {
        let source = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        return Err(kin_embed::Error::Io { path: path.to_path_buf(), source });
    }
    kin_media::embed_file(model, path)
        .map_err(|message| kin_embed::Error::InputShape { message: format!("{}: {message}", path.display()) })
}
