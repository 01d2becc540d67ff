//! The one place kin's errors become Python exceptions.
//!
//! The classes live in `kin/exceptions.py`, where each can inherit both `KinError` and the
//! built-in a Python caller already catches (`ValueError`, `FileNotFoundError`, `OSError`);
//! the message is always kin's own.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The exception classes of `kin.exceptions`, by the kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad arguments: shapes, dtypes, NaN, names, settings.
    InvalidInput,
    /// A file the caller named is not there.
    NotFound,
    /// No model by that name or path, or not obtainable offline.
    ModelNotFound,
    /// A model that exists but cannot be loaded or run.
    Model,
    CollectionNotFound,
    CollectionExists,
    /// A filter expression that does not parse.
    Filter,
    /// The store on disk: I/O, corruption, a lock held by another process, a server.
    Store,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Kind::InvalidInput => "InvalidInputError",
            Kind::NotFound => "NotFoundError",
            Kind::ModelNotFound => "ModelNotFoundError",
            Kind::Model => "ModelError",
            Kind::CollectionNotFound => "CollectionNotFoundError",
            Kind::CollectionExists => "CollectionExistsError",
            Kind::Filter => "FilterError",
            Kind::Store => "StoreError",
        }
    }
}

/// An error of this kind with kin's message.
pub fn raise(kind: Kind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| match class(py, kind) {
        Ok(class) => PyErr::from_type(class.clone(), message),
        Err(e) => PyRuntimeError::new_err(format!("{message} (kin.exceptions could not be imported: {e})")),
    })
}

fn class(py: Python<'_>, kind: Kind) -> PyResult<&Bound<'_, PyType>> {
    static CLASSES: [PyOnceLock<Py<PyType>>; 8] = [const { PyOnceLock::new() }; 8];
    let cell = &CLASSES[kind as usize];
    cell.import(py, "kin.exceptions", kind.class_name())
}

pub fn embed(e: kin_embed::Error) -> PyErr {
    use kin_embed::Error as E;
    let kind = match &e {
        E::Model(m) => return model(m, e.to_string()),
        E::Tokenize { .. }
        | E::Image(_)
        | E::ImageSize { .. }
        | E::AudioShape { .. }
        | E::InputShape { .. }
        | E::UnsupportedModality { .. } => Kind::InvalidInput,
        E::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Kind::NotFound,
        _ => Kind::Model,
    };
    raise(kind, e.to_string())
}

fn model(e: &kin_models::Error, message: String) -> PyErr {
    use kin_models::Error as M;
    let kind = match e {
        M::UnknownModel { .. } | M::NotAvailableOffline { .. } | M::NotAModelDir { .. } | M::FetchFailed { .. } => {
            Kind::ModelNotFound
        }
        M::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Kind::ModelNotFound,
        M::Config { .. } => Kind::InvalidInput,
        _ => Kind::Model,
    };
    raise(kind, message)
}

pub fn store(e: kin_store::Error) -> PyErr {
    use kin_store::Error as E;
    let kind = match &e {
        E::UnknownCollection { .. } => Kind::CollectionNotFound,
        E::CollectionExists(_) => Kind::CollectionExists,
        E::InvalidName { .. }
        | E::InvalidSettings(_)
        | E::DimensionMismatch { .. }
        | E::NonFinite { .. }
        | E::ZeroVector { .. }
        | E::QueryDimension { .. }
        | E::ModelMismatch { .. }
        | E::InvalidSearch(_)
        | E::EmptyTextQuery
        | E::TextQueryTooLong { .. }
        | E::NoTextIndex { .. }
        | E::StaleCursor { .. }
        | E::UnknownSpace { .. } => Kind::InvalidInput,
        _ => Kind::Store,
    };
    raise(kind, e.to_string())
}

pub fn ingest(e: kin_ingest::IngestError) -> PyErr {
    use kin_ingest::IngestError as E;
    match e {
        E::Embed(e) => embed(e),
        E::Store(e) => store(e),
        E::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            raise(Kind::NotFound, e.to_string())
        }
        E::Io { .. } => raise(Kind::Store, e.to_string()),
        E::Settings(_) | E::Route(_) | E::NoModel { .. } => raise(Kind::InvalidInput, e.to_string()),
        E::VectorCount { .. } => raise(Kind::Model, e.to_string()),
    }
}

pub fn filter(expression: &str, e: kin_core::filter::FilterError) -> PyErr {
    raise(Kind::Filter, format!("filter {expression:?}: {e}"))
}
