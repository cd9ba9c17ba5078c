//! `cyclr.Schedule`: any policy of the registry, by name, with PyTorch's keyword names.

use std::str::FromStr;

use cyclr::{LrSchedule, Parameter, Policy, Schedule, ScheduleConfig};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString, PyTuple};
use serde::Deserialize;

use crate::json::{serialize_to_py, to_py, to_value};
use crate::steps::map_steps;

/// A learning-rate schedule: a pure function of the optimizer step, built from a policy
/// name and its parameters (PyTorch's names), validated by cyclr's Rust core.
///
/// ``Schedule("triangular", base_lr=0.001, max_lr=0.006, step_size_up=2000)``
///
/// ``cyclr.policies()`` lists every policy with its parameters.
#[pyclass(module = "cyclr._core", name = "Schedule", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PySchedule {
    pub(crate) inner: Schedule,
}

fn invalid(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// The config of a JSON value, naming the policy when it is unknown.
fn config_of(value: serde_json::Value) -> PyResult<ScheduleConfig> {
    match value.get("policy") {
        None => {
            return Err(PyValueError::new_err(format!(
                "a schedule's config needs a 'policy' key: one of {}",
                Policy::names()
            )));
        }
        Some(serde_json::Value::String(name)) => {
            Policy::from_str(name).map_err(invalid)?;
        }
        Some(other) => {
            return Err(PyValueError::new_err(format!(
                "'policy' must be a name (one of {}), got {other}",
                Policy::names()
            )));
        }
    }
    ScheduleConfig::deserialize(value).map_err(invalid)
}

fn schedule_of(value: serde_json::Value) -> PyResult<PySchedule> {
    let config = config_of(value)?;
    let policy = config.policy();
    let inner = config
        .init()
        .map_err(|e| PyValueError::new_err(format!("{policy}: {e}")))?;
    Ok(PySchedule { inner })
}

/// A keyword argument as a core parameter, when it is a plain value.
fn parameter_of(value: &Bound<'_, PyAny>) -> PyResult<Option<Parameter>> {
    Ok(if value.is_instance_of::<PyBool>() {
        Some(Parameter::Bool(value.extract()?))
    } else if value.is_instance_of::<PyInt>() {
        match value.extract::<u64>() {
            Ok(v) => Some(Parameter::Int(v)),
            // A negative count is refused by the config with its name; a negative rate is
            // a float to the policy's own check.
            Err(_) => Some(Parameter::Float(value.extract::<f64>()?)),
        }
    } else if value.is_instance_of::<PyFloat>() {
        Some(Parameter::Float(value.extract()?))
    } else if value.is_instance_of::<PyString>() {
        Some(Parameter::Text(value.extract()?))
    } else {
        None
    })
}

#[pymethods]
impl PySchedule {
    /// A schedule of `policy` (e.g. ``"triangular2"``, ``"one_cycle"``, ``"sgdr"``) with its
    /// parameters as keywords. Raises ``ValueError`` with the core's message for an unknown
    /// policy, a missing or unknown parameter, or a bad value.
    #[new]
    #[pyo3(signature = (policy, **parameters))]
    fn new(py: Python<'_>, policy: &str, parameters: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let policy = Policy::from_str(policy).map_err(invalid)?;
        let mut plain = Vec::new();
        let mut nested = false;
        if let Some(parameters) = parameters {
            for (k, v) in parameters.iter() {
                let name: String = k.extract()?;
                match parameter_of(&v)? {
                    Some(p) => plain.push((name, p)),
                    None => nested = true,
                }
            }
        }
        if nested {
            // A sequence's schedules: the whole config goes through serde.
            let dict = PyDict::new(py);
            dict.set_item("policy", policy.name())?;
            if let Some(parameters) = parameters {
                dict.update(parameters.as_mapping())?;
            }
            return schedule_of(to_value(dict.as_any(), "config")?);
        }
        let inner =
            Schedule::from_parameters(policy, plain.iter().map(|(k, v)| (k.as_str(), v.clone())))
                .map_err(invalid)?;
        Ok(Self { inner })
    }

    /// A schedule from its config as a dict (``{"policy": "triangular", "base_lr": ...}``);
    /// a sequence's ``schedules`` may hold dicts or ``Schedule`` objects.
    #[staticmethod]
    fn from_dict(config: &Bound<'_, PyAny>) -> PyResult<Self> {
        if !config.is_instance_of::<PyDict>() {
            return Err(PyValueError::new_err(format!(
                "from_dict takes a dict, got a {}",
                config.get_type().name()?
            )));
        }
        schedule_of(to_value(config, "config")?)
    }

    /// A schedule from its config in JSON (what ``to_json`` writes).
    #[staticmethod]
    fn from_json(text: &str) -> PyResult<Self> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| PyValueError::new_err(format!("not valid JSON: {e}")))?;
        schedule_of(value)
    }

    /// A schedule from its config in TOML (what ``to_toml`` writes, or cyclr's config files).
    #[staticmethod]
    fn from_toml(text: &str) -> PyResult<Self> {
        let value: serde_json::Value = toml::from_str(text)
            .map_err(|e| PyValueError::new_err(format!("not valid TOML: {e}")))?;
        schedule_of(value)
    }

    /// A valid schedule of `policy` with typical values (the registry's example).
    #[staticmethod]
    fn example(policy: &str) -> PyResult<Self> {
        let policy = Policy::from_str(policy).map_err(invalid)?;
        schedule_of(serde_json::to_value(policy.example()).map_err(invalid)?)
    }

    /// The config as a dict of plain values; ``Schedule.from_dict`` reads it back.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serialize_to_py(py, &self.inner.config())
    }

    /// The config as JSON; floats round-trip exactly.
    fn to_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.config()).map_err(invalid)
    }

    /// The config as TOML, the format of cyclr's config files.
    fn to_toml(&self) -> PyResult<String> {
        toml::to_string(&self.inner.config()).map_err(invalid)
    }

    /// The policy's name, e.g. ``"triangular"``.
    #[getter]
    fn policy(&self) -> &'static str {
        self.inner.policy().name()
    }

    /// The learning rate at `step` (an int, or an array of ints: a float64 array of the
    /// same shape comes back).
    fn lr<'py>(&self, step: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        map_steps(step, |s| self.inner.lr(s))
    }

    /// The momentum at `step` (an int or an array of ints), or None when the schedule does
    /// not cycle momentum. In an array, steps without a momentum are NaN.
    fn momentum<'py>(&self, step: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        if !self.inner.cycles_momentum() {
            // Still check the steps, so bad input is refused the same way.
            map_steps(step, |_| 0.0)?;
            return Ok(step.py().None().into_bound(step.py()));
        }
        map_steps(step, |s| self.inner.momentum(s).unwrap_or(f64::NAN))
    }

    /// Whether the schedule sets momentum (Adam's ``beta_1``) as well as the rate.
    #[getter]
    fn cycles_momentum(&self) -> bool {
        self.inner.cycles_momentum()
    }

    /// The step at which the schedule is over (1cycle's ``total_steps``), or None for
    /// schedules that go on.
    #[getter]
    fn end(&self) -> Option<u64> {
        self.inner.horizon().end
    }

    /// Steps that show the schedule's whole shape (three cycles, a 1cycle run): what a plot
    /// shows by default.
    #[getter]
    fn span(&self) -> u64 {
        self.inner.horizon().span
    }

    /// The lowest and highest learning rate the schedule can give: ``(low, high)``.
    fn lr_range(&self) -> (f64, f64) {
        self.inner.lr_range()
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let from_json = py.get_type::<PySchedule>().getattr("from_json")?;
        let json = slf.get().to_json()?;
        PyTuple::new(py, [from_json, PyTuple::new(py, [json])?.into_any()])
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let value = serde_json::to_value(self.inner.config()).map_err(invalid)?;
        let serde_json::Value::Object(map) = &value else {
            return Ok(format!("Schedule.from_json({:?})", self.to_json()?));
        };
        let mut args = vec![format!("{:?}", self.policy())];
        for (k, v) in map.iter().filter(|(k, _)| *k != "policy") {
            if v.is_array() || v.is_object() {
                return Ok(format!(
                    "Schedule.from_dict({})",
                    to_py(py, &value)?.repr()?
                ));
            }
            args.push(format!("{k}={}", to_py(py, v)?.repr()?));
        }
        Ok(format!("Schedule({})", args.join(", ")))
    }
}

/// Every policy's name mapped to the parameters its config takes, in the registry's order.
#[pyfunction]
pub fn policies<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for p in Policy::ALL {
        d.set_item(p.name(), p.parameters().to_vec())?;
    }
    Ok(d)
}
