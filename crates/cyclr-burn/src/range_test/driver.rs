//! The one range-test driver: ramp, record, stop, restore, analyse.

use std::time::Instant;

use cyclr::range_test::{EarlyStop, RangePoint, RangeTestConfig, RangeTestOutcome, Recorder};
use serde::{Deserialize, Serialize};

use super::error::{RangeTestError, RangeTestSettingsError};
use super::target::RangeTestTarget;

/// A range test's settings: the ramp, plus how batches make an update and when to measure
/// held-out data.
///
/// ```
/// use cyclr_burn::range_test::{RangeTest, RangeTestConfig, Ramp};
///
/// let test = RangeTest::new(RangeTestConfig::new(1e-6, 1.0, 200, Ramp::Exponential))
///     .with_accumulation(2)
///     .with_eval_every(20)
///     .with_iterations_per_epoch(390)
///     .with_seed(7);
/// assert!(test.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RangeTest {
    /// The ramp: rates, length in optimizer updates, smoothing and divergence factor.
    pub ramp: RangeTestConfig,
    /// Batches per optimizer update (gradient accumulation); 1 without.
    pub accumulation: u32,
    /// Ask the target for a held-out measurement every this many updates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
    /// Optimizer updates per epoch of the real training, for the stepsize advice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations_per_epoch: Option<u64>,
    /// Seed for the model's randomness during the test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl RangeTest {
    /// A test over `ramp`, one batch per update, no held-out measurement.
    pub fn new(ramp: RangeTestConfig) -> Self {
        Self {
            ramp,
            accumulation: 1,
            eval_every: None,
            iterations_per_epoch: None,
            seed: None,
        }
    }

    /// Accumulates the gradients of `k` batches into each update.
    pub fn with_accumulation(mut self, k: u32) -> Self {
        self.accumulation = k;
        self
    }

    /// Measures held-out data every `k` updates.
    pub fn with_eval_every(mut self, k: u64) -> Self {
        self.eval_every = Some(k);
        self
    }

    /// Updates per epoch of the training to come, for the stepsize advice.
    pub fn with_iterations_per_epoch(mut self, n: u64) -> Self {
        self.iterations_per_epoch = Some(n);
        self
    }

    /// Seeds the model's randomness first.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Everything that can be wrong before the ramp starts, said as what to change.
    pub fn validate(&self) -> Result<(), RangeTestSettingsError> {
        self.ramp.validate()?;
        if self.accumulation == 0 {
            return Err(RangeTestSettingsError::ZeroAccumulation);
        }
        if self.eval_every == Some(0) {
            return Err(RangeTestSettingsError::ZeroEvalEvery);
        }
        if self.iterations_per_epoch == Some(0) {
            return Err(RangeTestSettingsError::ZeroIterationsPerEpoch);
        }
        Ok(())
    }

    /// Runs the ramp on `target` with `batches` (each update takes
    /// [`accumulation`](Self::accumulation) of them), then puts the target's model and
    /// optimizer back as they were, whatever happened, and analyses the curve.
    ///
    /// Running out of batches ends the test early ([`EarlyStop::OutOfData`]): pass an
    /// iterator that cycles over epochs for a ramp longer than one.
    pub fn run<T, I>(
        &self,
        target: &mut T,
        batches: I,
        progress: &mut dyn RangeTestProgress,
    ) -> Result<RangeTestOutcome, RangeTestError>
    where
        T: RangeTestTarget,
        I: IntoIterator<Item = T::Batch>,
    {
        self.run_fallible(
            target,
            batches.into_iter().map(Ok::<_, std::convert::Infallible>),
            progress,
        )
    }

    /// [`run`](Self::run) over batches that may fail to load, as burn's data loaders
    /// yield them (see [`epochs`](super::epochs)): a failed batch ends the test with
    /// [`RangeTestError::Data`], after the model and optimizer are put back.
    pub fn run_fallible<T, I, E>(
        &self,
        target: &mut T,
        batches: I,
        progress: &mut dyn RangeTestProgress,
    ) -> Result<RangeTestOutcome, RangeTestError>
    where
        T: RangeTestTarget,
        I: IntoIterator<Item = Result<T::Batch, E>>,
        E: std::fmt::Display,
    {
        self.validate()?;
        let snapshot = target
            .snapshot()
            .map_err(|e| RangeTestError::Snapshot { source: e.into() })?;
        if let Some(seed) = self.seed {
            target.seed(seed);
        }
        let start = Instant::now();
        let ramp_result = self.ramp_on(target, batches.into_iter(), progress);
        target
            .restore(snapshot)
            .map_err(|e| RangeTestError::Restore { source: e.into() })?;
        let recorder = ramp_result?;
        if let Some(stop) = &recorder.stop {
            progress.message(&stop.describe());
        }
        Ok(RangeTestOutcome::from_recording(
            self.ramp.clone(),
            self.accumulation,
            recorder.points,
            recorder.stop,
            self.iterations_per_epoch,
            start.elapsed().as_secs_f64(),
        ))
    }

    fn ramp_on<T: RangeTestTarget, E: std::fmt::Display>(
        &self,
        target: &mut T,
        mut batches: impl Iterator<Item = Result<T::Batch, E>>,
        progress: &mut dyn RangeTestProgress,
    ) -> Result<Recorder, RangeTestError> {
        let mut rec = Recorder::new(self.ramp.clone());
        let total = self.ramp.iterations;
        while !rec.is_done() {
            let i = rec.points.len() as u64;
            let micro = batches
                .by_ref()
                .take(self.accumulation as usize)
                .collect::<Result<Vec<T::Batch>, E>>()
                .map_err(|e| RangeTestError::Data {
                    iteration: i,
                    message: e.to_string(),
                })?;
            // A partial last update would have a different effective batch: stop before it.
            if micro.len() < self.accumulation as usize {
                rec.stop = Some(EarlyStop::OutOfData { iteration: i });
                break;
            }
            let lr = self.ramp.lr(i);
            let step = target
                .train_step(micro, lr)
                .map_err(|e| RangeTestError::Step {
                    iteration: i,
                    source: e.into(),
                })?;
            let go_on = rec.record(lr, step.loss, step.accuracy);
            if go_on
                && let Some(k) = self.eval_every
                && (i + 1).is_multiple_of(k)
                && let Some(h) = target.held_out()
            {
                rec.record_held_out(h);
            }
            if let Some(p) = rec.points.last().filter(|p| p.iteration == i) {
                progress.on_point(p, total);
            }
            if !go_on {
                break;
            }
            if !rec.is_done() && progress.should_stop() {
                rec.stop = Some(EarlyStop::Interrupted { iteration: i + 1 });
                break;
            }
        }
        Ok(rec)
    }
}

/// What a caller hears while a range test runs, and how it stops one (Ctrl-C).
pub trait RangeTestProgress {
    /// A point was recorded (`total`: the ramp's length).
    fn on_point(&mut self, _point: &RangePoint, _total: u64) {}
    /// A sentence for the user (why the test stopped early).
    fn message(&mut self, _text: &str) {}
    /// Polled after every update: true ends the test there, keeping what was recorded.
    fn should_stop(&self) -> bool {
        false
    }
}

/// No progress reports, never stops early.
impl RangeTestProgress for () {}
