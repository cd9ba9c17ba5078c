//! Python values to and from serde's data model (through `serde_json::Value`), so that a
//! config crosses the boundary through the core's own `Deserialize` and `Serialize`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::schedule::PySchedule;

/// `obj` (dicts with string keys, lists, tuples, numbers, strings, booleans, None, and
/// `Schedule`s, which stand for their config) as a JSON value; `path` names where it sits,
/// for the error.
pub fn to_value(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(s) = obj.cast::<PySchedule>() {
        return serde_json::to_value(s.get().inner.config())
            .map_err(|e| PyValueError::new_err(e.to_string()));
    }
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.extract()?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(v) = obj.extract::<u64>() {
            return Ok(Value::from(v));
        }
        if let Ok(v) = obj.extract::<i64>() {
            return Ok(Value::from(v));
        }
        return Err(PyValueError::new_err(format!(
            "{path} = {obj}: too large for a 64-bit integer"
        )));
    }
    if obj.is_instance_of::<PyFloat>() {
        let v: f64 = obj.extract()?;
        return Number::from_f64(v).map(Value::Number).ok_or_else(|| {
            PyValueError::new_err(format!(
                "{path} is {v}, but it must be a finite number (for example 0.001)"
            ))
        });
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Value::String(obj.extract()?));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in d.iter() {
            let key: String = k.extract().map_err(|_| {
                PyValueError::new_err(format!("{path}: keys must be strings, got {k:?}"))
            })?;
            let inner = format!("{path}[{key:?}]");
            map.insert(key, to_value(&v, &inner)?);
        }
        return Ok(Value::Object(map));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for (i, v) in obj.try_iter()?.enumerate() {
            items.push(to_value(&v?, &format!("{path}[{i}]"))?);
        }
        return Ok(Value::Array(items));
    }
    // numpy scalars and other number-like objects.
    if let Ok(v) = obj
        .call_method0("__index__")
        .and_then(|i| i.extract::<i64>())
    {
        return Ok(Value::from(v));
    }
    if let Ok(v) = obj
        .call_method0("__float__")
        .and_then(|f| f.extract::<f64>())
    {
        return to_value(&PyFloat::new(obj.py(), v).into_any(), path);
    }
    Err(PyValueError::new_err(format!(
        "{path}: a {} cannot be part of a config; use numbers, strings, lists and dicts",
        obj.get_type().name()?
    )))
}

/// A JSON value as plain Python objects: dicts, lists, floats, ints, strings, None.
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
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

/// Any serializable value of the core as plain Python objects.
pub fn serialize_to_py<'py, T: serde::Serialize>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    let v = serde_json::to_value(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    to_py(py, &v)
}
