//! The range test's recording and analysis for Python: the Keras and PyTorch loops feed
//! each batch's loss here, and the core decides when to stop and reads the curve.

use std::time::Instant;

use cyclr::range_test::{
    AccuracyCurve, Analysis, EarlyStop, HeldOut, Ramp, RangePoint, RangeTestConfig,
    RangeTestOutcome, Recorder,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde::Deserialize;

use crate::json::{serialize_to_py, to_value};
use crate::steps::one_step;

fn ramp_of(name: &str) -> PyResult<Ramp> {
    match name.trim().to_ascii_lowercase().as_str() {
        "linear" => Ok(Ramp::Linear),
        "exponential" | "exp" => Ok(Ramp::Exponential),
        _ => Err(PyValueError::new_err(format!(
            "ramp = {name:?}: expected \"exponential\" (fastai's and torch-lr-finder's) or \
             \"linear\" (the paper's)"
        ))),
    }
}

fn curve_of(name: &str) -> PyResult<AccuracyCurve> {
    [
        AccuracyCurve::Auto,
        AccuracyCurve::Training,
        AccuracyCurve::HeldOut,
    ]
    .into_iter()
    .find(|c| c.name() == name.trim().to_ascii_lowercase().replace('-', "_"))
    .ok_or_else(|| {
        PyValueError::new_err(format!(
            "curve = {name:?}: expected \"auto\" (held-out accuracy when measured, else \
                 the training batches'), \"training\" or \"held_out\""
        ))
    })
}

/// A range test being recorded: the rising learning rate (``lr(i)``), each update's loss
/// and accuracy (``record``), held-out figures (``record_held_out``), and at the end the
/// outcome (``outcome()``), read by the same rules as cyclr's Rust range test.
#[pyclass(module = "cyclr._core", name = "RangeTest")]
pub struct PyRangeTest {
    recorder: Recorder,
    started: Instant,
}

#[pymethods]
impl PyRangeTest {
    /// A ramp from `min_lr` to `max_lr` over `iterations` updates (100 when not given) (``"exponential"`` or
    /// ``"linear"``), smoothing the loss by a bias-corrected moving average of factor
    /// `smoothing`, stopping once the smoothed loss passes `diverge_factor` times its best;
    /// the paper's rule reads the accuracy curve `curve` names (``"auto"``, ``"training"``
    /// or ``"held_out"``).
    #[new]
    #[pyo3(signature = (min_lr=1e-7, max_lr=10.0, iterations=None, ramp="exponential", smoothing=0.98, diverge_factor=4.0, curve="auto"))]
    fn new(
        min_lr: f64,
        max_lr: f64,
        iterations: Option<&Bound<'_, PyAny>>,
        ramp: &str,
        smoothing: f64,
        diverge_factor: f64,
        curve: &str,
    ) -> PyResult<Self> {
        // Any integer: a negative count reads as 0 and a huge one as u64::MAX, which the
        // core refuses with its own message (too few, too many).
        // 100 updates unless given (fastai's default).
        let iterations = match iterations.map_or(Ok(100), |i| i.extract::<i128>()) {
            Ok(i) if i < 0 => 0,
            Ok(i) => u64::try_from(i).unwrap_or(u64::MAX),
            Err(_) => {
                return Err(PyValueError::new_err(format!(
                    "iterations must be an integer of 2 or more, got {}",
                    iterations.map_or(Ok(String::new()), |i| i.repr().map(|r| r.to_string()))?
                )));
            }
        };
        let mut config = RangeTestConfig::new(min_lr, max_lr, iterations, ramp_of(ramp)?);
        config.smoothing = smoothing;
        config.diverge_factor = diverge_factor;
        config.curve = curve_of(curve)?;
        config
            .validate()
            .map_err(|e| PyValueError::new_err(e.describe(&|n| n.to_string())))?;
        Ok(Self {
            recorder: Recorder::new(config),
            started: Instant::now(),
        })
    }

    /// The learning rate of update `i` (0-based): `min_lr` at 0, `max_lr` at the last.
    fn lr(&self, i: &Bound<'_, PyAny>) -> PyResult<f64> {
        Ok(self.recorder.config.lr(one_step(i)?))
    }

    /// The update the next ``record`` is for (the points recorded so far).
    #[getter]
    fn iteration(&self) -> u64 {
        self.recorder.points.len() as u64
    }

    /// Updates in the ramp.
    #[getter]
    fn iterations(&self) -> u64 {
        self.recorder.config.iterations
    }

    /// Whether the test is over: the ramp is done, or it stopped early.
    #[getter]
    fn is_done(&self) -> bool {
        self.recorder.is_done()
    }

    /// Records the next update: its learning rate, its training loss and, when the model
    /// reports one, its training accuracy in [0, 1]. Returns False when the test must stop
    /// (the loss diverged or was not finite).
    #[pyo3(signature = (lr, loss, accuracy=None))]
    fn record(&mut self, lr: f64, loss: f64, accuracy: Option<f64>) -> PyResult<bool> {
        if self.recorder.is_done() {
            return Err(PyValueError::new_err(
                "the range test is over: record() after it stopped or after its last update",
            ));
        }
        if let Some(a) = accuracy.filter(|a| !(0.0..=1.0).contains(a)) {
            return Err(PyValueError::new_err(format!(
                "accuracy {a} is outside [0, 1]: pass a fraction, not a percentage"
            )));
        }
        Ok(self.recorder.record(lr, loss, accuracy))
    }

    /// Attaches a held-out accuracy (in [0, 1]) and/or loss to the latest update.
    #[pyo3(signature = (accuracy=None, loss=None))]
    fn record_held_out(&mut self, accuracy: Option<f64>, loss: Option<f64>) -> PyResult<()> {
        if self.recorder.points.is_empty() {
            return Err(PyValueError::new_err(
                "record_held_out() before the first record(): there is no update to attach it to",
            ));
        }
        if let Some(a) = accuracy.filter(|a| !(0.0..=1.0).contains(a)) {
            return Err(PyValueError::new_err(format!(
                "held-out accuracy {a} is outside [0, 1]: pass a fraction, not a percentage"
            )));
        }
        self.recorder.record_held_out(HeldOut { accuracy, loss });
        Ok(())
    }

    /// Marks the test as stopped by the user (Ctrl-C) at the current update.
    fn interrupted(&mut self) {
        if self.recorder.stop.is_none() {
            let iteration = self.recorder.points.len() as u64;
            self.recorder.stop = Some(EarlyStop::Interrupted { iteration });
        }
    }

    /// Marks the test as stopped because the data ran out before the end of the ramp.
    fn out_of_data(&mut self) {
        if self.recorder.stop.is_none() && !self.recorder.is_done() {
            let iteration = self.recorder.points.len() as u64;
            self.recorder.stop = Some(EarlyStop::OutOfData { iteration });
        }
    }

    /// Why the test stopped early, in a sentence, or None.
    #[getter]
    fn stop_reason(&self) -> Option<String> {
        self.recorder.stop.as_ref().map(EarlyStop::describe)
    }

    /// The outcome, as cyclr's Rust range test writes it to ``range_test.json``: ``ramp``,
    /// ``accumulation``, ``early_stop``, ``analysis`` (each rule's suggestion, the
    /// recommendation, the warnings), ``stepsize`` (when `iterations_per_epoch`, updates
    /// per epoch, is given), ``wall_s`` and ``points``.
    #[pyo3(signature = (iterations_per_epoch=None, accumulation=1))]
    fn outcome<'py>(
        &self,
        py: Python<'py>,
        iterations_per_epoch: Option<u64>,
        accumulation: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        if accumulation == 0 {
            return Err(PyValueError::new_err(
                "accumulation must be 1 or more (batches per update)",
            ));
        }
        let outcome = RangeTestOutcome::from_recording(
            self.recorder.config.clone(),
            accumulation,
            self.recorder.points.clone(),
            self.recorder.stop.clone(),
            iterations_per_epoch,
            self.started.elapsed().as_secs_f64(),
        );
        serialize_to_py(py, &outcome)
    }
}

/// The analysis of a recorded curve: `points` is a list of dicts with cyclr's point fields
/// (``iteration``, ``lr``, ``loss``, ``smoothed_loss``, and optionally ``accuracy``,
/// ``smoothed_accuracy``, ``test_accuracy``, ``test_loss``), as in ``range_test.json``;
/// `early_stop` is its ``early_stop`` entry. Returns the ``analysis`` dict.
#[pyfunction]
#[pyo3(signature = (points, early_stop=None))]
pub fn analyze<'py>(
    py: Python<'py>,
    points: &Bound<'py, PyAny>,
    early_stop: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let points = Vec::<RangePoint>::deserialize(to_value(points, "points")?)
        .map_err(|e| PyValueError::new_err(format!("points: {e}")))?;
    let stop = match early_stop {
        Some(s) if !s.is_none() => Some(
            EarlyStop::deserialize(to_value(s, "early_stop")?)
                .map_err(|e| PyValueError::new_err(format!("early_stop: {e}")))?,
        ),
        _ => None,
    };
    serialize_to_py(py, &cyclr::range_test::analyze(&points, stop.as_ref()))
}

/// The paper's stepsize advice (2-10 epochs of updates) for `iterations_per_epoch` updates
/// per epoch, as a dict.
#[pyfunction]
pub fn stepsize_advice<'py>(
    py: Python<'py>,
    iterations_per_epoch: u64,
) -> PyResult<Bound<'py, PyAny>> {
    serialize_to_py(
        py,
        &cyclr::range_test::stepsize_advice(iterations_per_epoch),
    )
}

/// The warnings of an ``analysis`` dict (from ``outcome()["analysis"]``) as sentences that
/// name the problem and what to do.
#[pyfunction]
pub fn warning_messages(analysis: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let analysis = Analysis::deserialize(to_value(analysis, "analysis")?)
        .map_err(|e| PyValueError::new_err(format!("analysis: {e}")))?;
    Ok(analysis.warnings.iter().map(ToString::to_string).collect())
}

/// Writes an outcome (a dict from ``outcome()``) as ``range_test.csv`` and
/// ``range_test.json`` into `directory` (created if missing), each file atomically, as
/// cyclr's Rust range test writes them.
#[pyfunction]
pub fn save_outcome(outcome: &Bound<'_, PyAny>, directory: std::path::PathBuf) -> PyResult<()> {
    let outcome = RangeTestOutcome::deserialize(to_value(outcome, "outcome")?)
        .map_err(|e| PyValueError::new_err(format!("outcome: {e}")))?;
    // The core's own writer (charts only with its `plot` feature, off here: Python draws
    // them with matplotlib).
    outcome.save(&directory, "LR range test").map_err(|e| {
        pyo3::exceptions::PyOSError::new_err(format!(
            "cannot write the range test into {}: {e}",
            directory.display()
        ))
    })
}
