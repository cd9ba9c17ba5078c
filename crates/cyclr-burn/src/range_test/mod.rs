//! The LR range test for any model: one driver ([`RangeTest::run`]) over a small trait,
//! [`RangeTestTarget`] (one optimizer update on one or more batches, returning the loss).
//!
//! burn models that implement burn-train's `TrainStep` are a target through
//! [`BurnTarget`], with any batch type, any optimizer and any backend; the CIFAR
//! application's fused engine is another. The ramp, smoothing, divergence stop and the
//! analysis (cyclr's [`cyclr::range_test`]) are the same for all. The model and optimizer
//! are put back as they were afterwards, and the [`RangeTestOutcome`] holds the points,
//! the analysis and the stepsize advice as plain values.

mod burn_target;
mod driver;
mod error;
mod supervised;
mod target;

pub use burn_target::{BurnTarget, BurnTargetError, LossError, RangeTestOutput, epochs};
pub use cyclr::range_test::{CSV_COLUMNS, RangeTestOutcome};
pub use driver::{RangeTest, RangeTestProgress};
pub use error::{RangeTestError, RangeTestSettingsError, TargetError};
pub use supervised::RangeTestInput;
pub use target::{RangeTestTarget, StepLoss};

pub use cyclr::range_test::{HeldOut, Ramp, RangeTestConfig};
