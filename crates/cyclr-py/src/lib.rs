//! `cyclr._core`: the Rust core of the `cyclr` Python package (PyO3, abi3).
//!
//! Every value and every decision comes from the `cyclr` crate: a schedule is a
//! [`cyclr::Schedule`] built through its config's serde, so each policy of the registry is
//! here without binding code of its own, and a range test is recorded by
//! [`cyclr::range_test::Recorder`] and read by [`cyclr::range_test::RangeTestOutcome`]. The
//! Python side (`python/cyclr/`) only drives Keras and PyTorch.

use pyo3::prelude::*;

mod json;
mod range_test;
mod schedule;
mod steps;

/// The extension module, imported as `cyclr._core`.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<schedule::PySchedule>()?;
    m.add_class::<range_test::PyRangeTest>()?;
    m.add_function(wrap_pyfunction!(schedule::policies, m)?)?;
    m.add_function(wrap_pyfunction!(range_test::analyze, m)?)?;
    m.add_function(wrap_pyfunction!(range_test::stepsize_advice, m)?)?;
    m.add_function(wrap_pyfunction!(range_test::warning_messages, m)?)?;
    m.add_function(wrap_pyfunction!(range_test::save_outcome, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("CSV_COLUMNS", cyclr::range_test::CSV_COLUMNS.to_vec())?;
    Ok(())
}
