//! Why a range test could not run or finish.

use cyclr::range_test::RangeTestConfigError;

/// A target's error, kept as the source of a [`RangeTestError`].
pub type TargetError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a range test could not run or finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RangeTestError {
    /// The settings cannot work; the error says what to change.
    #[error(transparent)]
    Settings(#[from] RangeTestSettingsError),
    /// burn-train cannot run the strategy on its devices.
    #[error(transparent)]
    Strategy(#[from] crate::update_plan::StrategyError),
    /// The model failed on a training step.
    #[error("training step {iteration} failed: {source}")]
    Step {
        /// The update that failed.
        iteration: u64,
        /// The target's error.
        #[source]
        source: TargetError,
    },
    /// A batch could not be loaded.
    #[error("loading the batches of update {iteration} failed: {message}")]
    Data {
        /// The update whose batches failed.
        iteration: u64,
        /// What went wrong.
        message: String,
    },
    /// The model and optimizer could not be saved before the test.
    #[error("saving the model and optimizer before the range test failed: {source}")]
    Snapshot {
        /// The target's error.
        #[source]
        source: TargetError,
    },
    /// The model and optimizer could not be put back after the test.
    #[error("restoring the model and optimizer after the range test failed: {source}")]
    Restore {
        /// The target's error.
        #[source]
        source: TargetError,
    },
}

/// Range-test settings that cannot work. Settings are named as in
/// [`RangeTest`](super::RangeTest) and [`RangeTestConfig`](cyclr::range_test::RangeTestConfig).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeTestSettingsError {
    /// The ramp's own settings.
    #[error(transparent)]
    Ramp(#[from] RangeTestConfigError),
    /// `accumulation` is 0.
    #[error("accumulation is 0: give 1 (no accumulation) or more")]
    ZeroAccumulation,
    /// `eval_every` is 0.
    #[error("eval_every is 0: give a number of iterations, or leave it out")]
    ZeroEvalEvery,
    /// `iterations_per_epoch` is 0.
    #[error("iterations_per_epoch is 0: give at least 1")]
    ZeroIterationsPerEpoch,
    /// Gradient accumulation under burn-train with a ramp from 0.
    #[error(
        "with gradient accumulation under burn-train, start the ramp above 0 (min_lr > 0): \
         the first update's batches cannot be told apart otherwise"
    )]
    AccumulationFromZero,
    /// Held-out measurements asked of burn-train's strategies.
    #[error(
        "held-out measurements are not taken under burn-train's strategies: leave \
         eval_every out (one device with BurnTarget has them)"
    )]
    HeldOutUnderStrategy,
}
