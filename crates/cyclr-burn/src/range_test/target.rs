//! What the range-test driver needs of a model: one optimizer update, and putting its
//! state back afterwards.

use cyclr::range_test::HeldOut;

/// The loss (and, when the model reports one, the accuracy) of one update's batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepLoss {
    /// Mean training loss over the update's batches, before the update.
    pub loss: f64,
    /// Training accuracy over the update's batches, in [0, 1], when the model has one.
    pub accuracy: Option<f64>,
}

/// A model with its optimizer, as the range test drives it.
///
/// Implement this to range-test anything: a burn model ([`BurnTarget`](super::BurnTarget)
/// does it for every `TrainStep` model), a hand-written engine, or a model from another
/// framework behind an FFI.
pub trait RangeTestTarget {
    /// One batch of training data.
    type Batch;
    /// Everything [`restore`](Self::restore) needs to undo the test.
    type Snapshot;
    /// The target's own error (as ripgrep's `Sink::Error`): the driver keeps it as the
    /// source of its [`RangeTestError`](super::RangeTestError), so callers can downcast.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Seeds whatever randomness the model uses (dropout and the like).
    fn seed(&mut self, _seed: u64) {}

    /// The model and optimizer state now.
    fn snapshot(&self) -> Result<Self::Snapshot, Self::Error>;

    /// Puts back what [`snapshot`](Self::snapshot) took.
    fn restore(&mut self, snapshot: Self::Snapshot) -> Result<(), Self::Error>;

    /// Forward and backward passes over `batches` (more than one with gradient
    /// accumulation), then one optimizer update at `lr`. A non-finite loss must leave the
    /// weights as they were.
    fn train_step(&mut self, batches: Vec<Self::Batch>, lr: f64) -> Result<StepLoss, Self::Error>;

    /// A measurement on held-out data, for the paper's accuracy rule; `None` when there is
    /// no held-out data.
    fn held_out(&mut self) -> Option<HeldOut> {
        None
    }
}
