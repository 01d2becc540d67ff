//! Payloads between Python objects and JSON values: dicts, lists, strings, numbers, booleans
//! and `None`, as `json.dumps` would take them (NaN and infinity refused, keys strings).

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::error::{raise, Kind};

/// Deepest nesting accepted, so that a cyclic structure is an error, not a stack overflow.
const MAX_DEPTH: usize = 64;

/// A Python value as JSON; `what` names it in errors (`"payload of item 3"`).
pub fn to_json(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Value> {
    convert(value, what, 0)
}

fn convert(value: &Bound<'_, PyAny>, what: &str, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(raise(Kind::InvalidInput, format!("{what}: nested more than {MAX_DEPTH} deep (is it cyclic?)")));
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(value.extract()?));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = value.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(raise(Kind::InvalidInput, format!("{what}: integer {value} does not fit in 64 bits")));
    }
    if value.is_instance_of::<PyFloat>() {
        let f: f64 = value.extract()?;
        return Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| raise(Kind::InvalidInput, format!("{what}: {f} is not a JSON number")));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_string()));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in dict.iter() {
            let Ok(key) = k.cast::<PyString>() else {
                return Err(raise(Kind::InvalidInput, format!("{what}: key {k:?} is not a string")));
            };
            let key = key.to_str()?.to_string();
            let inner = convert(&v, &format!("{what}, field {key:?}"), depth + 1)?;
            map.insert(key, inner);
        }
        return Ok(Value::Object(map));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for (i, v) in value.try_iter()?.enumerate() {
            items.push(convert(&v?, &format!("{what}[{i}]"), depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    // numpy scalars and arrays, and anything else with `tolist()` (numpy's own conversion).
    if let Ok(plain) = value.call_method0("tolist") {
        if !plain.is(value) && !plain.get_type().is(value.get_type()) {
            return convert(&plain, what, depth + 1);
        }
    }
    let type_name = value.get_type().name()?;
    Err(raise(Kind::InvalidInput, format!("{what}: a {type_name} cannot be stored (JSON values only)")))
}

/// A JSON value as Python objects.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}
