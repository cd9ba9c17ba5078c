//! A function of the step applied to one step (an int) or to an array of them (numpy, a
//! list), keeping the array's shape.

use numpy::{IntoPyArray, PyArrayDyn, PyReadonlyArrayDyn};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};

/// `f` of the step `step` as a float, or of every step of an array as a float64 array of
/// the same shape. Steps are integers of 0 or more; anything else is a `ValueError`.
pub fn map_steps<'py>(
    step: &Bound<'py, PyAny>,
    f: impl Fn(u64) -> f64,
) -> PyResult<Bound<'py, PyAny>> {
    let py = step.py();
    if step.is_instance_of::<PyInt>() && !step.is_instance_of::<PyBool>() {
        return Ok(f(one_step(step)?).into_pyobject(py)?.into_any());
    }
    let np = py.import("numpy")?;
    let array = np.call_method1("asarray", (step,))?;
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    if kind != "i" && kind != "u" {
        return Err(PyValueError::new_err(format!(
            "steps must be integers of 0 or more, got an array of dtype {}",
            array.getattr("dtype")?.str()?
        )));
    }
    if array.getattr("ndim")?.extract::<usize>()? == 0 {
        return map_steps(&array.call_method0("item")?, f);
    }
    // Unsigned arrays are read as u64 (every value fits); signed ones as i64, checked for
    // negatives.
    let values = if kind == "u" {
        let steps: PyReadonlyArrayDyn<'_, u64> =
            array.call_method1("astype", ("uint64",))?.extract()?;
        steps.as_array().mapv(&f)
    } else {
        let steps: PyReadonlyArrayDyn<'_, i64> =
            array.call_method1("astype", ("int64",))?.extract()?;
        let view = steps.as_array();
        if let Some(bad) = view.iter().find(|s| **s < 0) {
            return Err(negative(*bad));
        }
        view.mapv(|s| f(s as u64))
    };
    let out: Bound<'py, PyArrayDyn<f64>> = values.into_pyarray(py);
    Ok(out.into_any())
}

/// One step, an int of 0 or more.
pub fn one_step(step: &Bound<'_, PyAny>) -> PyResult<u64> {
    match step.extract::<i128>() {
        Ok(s) if s < 0 => Err(negative(s)),
        Ok(s) => u64::try_from(s)
            .map_err(|_| PyValueError::new_err(format!("step {s} is beyond 2^64 - 1"))),
        Err(_) => Err(PyValueError::new_err(format!(
            "a step must be an integer of 0 or more, got {}",
            step.repr()?
        ))),
    }
}

fn negative(s: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!(
        "step {s} is negative: steps count optimizer updates from 0"
    ))
}
