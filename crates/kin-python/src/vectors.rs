//! Vectors from Python: numpy arrays of a float dtype, or lists of numbers, one row or many.
//! Vectors to Python: float32 numpy arrays that own kin's buffer (no copy).

use numpy::ndarray::Array2;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};

use crate::error::{raise, Kind};

/// Rows of equal length, flattened.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub data: Vec<f32>,
    pub dim: usize,
    /// The input was one vector (1-D), not a list of them.
    pub single: bool,
}

impl Rows {
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim.max(1))
    }
}

/// One vector or a list of vectors, as a numpy array (1-D or 2-D, any float dtype) or lists of
/// numbers (a list of numpy rows too). `what` names the argument in errors.
pub fn rows(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Rows> {
    if let Ok(array) = value.cast::<PyUntypedArray>() {
        return array_rows(array, what);
    }
    if value.is_instance_of::<PyString>() {
        return Err(raise(Kind::InvalidInput, format!("{what}: expected vectors, got a string")));
    }
    let items: Vec<Bound<'_, PyAny>> = match value.try_iter() {
        Ok(iter) => iter.collect::<PyResult<_>>()?,
        Err(_) => {
            let type_name = value.get_type().name()?;
            return Err(raise(
                Kind::InvalidInput,
                format!("{what}: expected a list or numpy array of vectors, got {type_name}"),
            ));
        }
    };
    if items.is_empty() {
        return Ok(Rows { data: Vec::new(), dim: 0, single: false });
    }
    if is_number(&items[0]) {
        let data = numbers(&items, what)?;
        return Ok(Rows { dim: data.len(), data, single: true });
    }
    let mut data = Vec::new();
    let mut dim = None;
    for (i, item) in items.iter().enumerate() {
        let label = format!("{what}[{i}]");
        let row = one_row(item, &label)?;
        match dim {
            None => dim = Some(row.len()),
            Some(d) if d != row.len() => {
                return Err(raise(
                    Kind::InvalidInput,
                    format!(
                        "{label} has {} values, the rows before it {d}: every vector needs the same length",
                        row.len()
                    ),
                ))
            }
            Some(_) => {}
        }
        data.extend_from_slice(&row);
    }
    Ok(Rows { data, dim: dim.unwrap_or(0), single: false })
}

/// Exactly one vector (1-D).
pub fn one_row(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<f32>> {
    let rows = rows(value, what)?;
    if !rows.single {
        return Err(raise(Kind::InvalidInput, format!("{what}: expected one vector (1-D), got {} rows", rows.len())));
    }
    Ok(rows.data)
}

fn is_number(value: &Bound<'_, PyAny>) -> bool {
    (value.is_instance_of::<PyFloat>() || value.is_instance_of::<PyInt>()) && !value.is_instance_of::<PyBool>()
        || value.cast::<PyUntypedArray>().is_ok_and(|a| a.ndim() == 0)
}

fn numbers(items: &[Bound<'_, PyAny>], what: &str) -> PyResult<Vec<f32>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            if !is_number(item) {
                let type_name = item.get_type().name()?;
                return Err(raise(Kind::InvalidInput, format!("{what}[{i}]: expected a number, got {type_name}")));
            }
            let v: f64 = item.extract()?;
            Ok(v as f32)
        })
        .collect()
}

fn array_rows(array: &Bound<'_, PyUntypedArray>, what: &str) -> PyResult<Rows> {
    let dtype = array.dtype();
    if dtype.kind() != b'f' {
        return Err(raise(
            Kind::InvalidInput,
            format!("{what}: numpy dtype {} is not a float type (float32, float64 or float16 are taken)", dtype.str()?),
        ));
    }
    let floats = if dtype.is_equiv_to(&numpy::dtype::<f32>(array.py())) {
        array.clone().into_any()
    } else {
        array.call_method1("astype", ("float32",))?
    };
    let floats = floats.cast_into::<PyArrayDyn<f32>>()?;
    let shape = floats.shape().to_vec();
    let (dim, single) = match shape.as_slice() {
        [d] => (*d, true),
        [_, d] => (*d, false),
        _ => {
            return Err(raise(Kind::InvalidInput, format!("{what}: expected a 1-D or 2-D array, got shape {shape:?}")))
        }
    };
    let readonly = floats.readonly();
    let data = match readonly.as_slice() {
        Ok(slice) => slice.to_vec(),
        Err(_) => readonly.as_array().iter().copied().collect(),
    };
    Ok(Rows { data, dim, single })
}

/// `rows` × `dim` values as a float32 array that owns the buffer.
pub fn to_numpy2(py: Python<'_>, data: Vec<f32>, dim: usize) -> PyResult<Bound<'_, PyArray2<f32>>> {
    let rows = data.len().checked_div(dim).unwrap_or(0);
    let matrix = Array2::from_shape_vec((rows, dim), data)
        .map_err(|e| raise(Kind::InvalidInput, format!("vectors of unequal length: {e}")))?;
    Ok(matrix.into_pyarray(py))
}

/// One vector as a float32 array that owns the buffer.
pub fn to_numpy1(py: Python<'_>, data: Vec<f32>) -> Bound<'_, PyArray1<f32>> {
    data.into_pyarray(py)
}
