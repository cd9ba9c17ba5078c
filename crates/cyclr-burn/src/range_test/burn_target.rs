//! Any burn model that implements burn-train's `TrainStep` as a range-test target.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::train::{
    ClassificationOutput, MultiLabelClassificationOutput, RegressionOutput, SequenceOutput,
    TrainStep,
};
use cyclr::range_test::HeldOut;

use super::target::{RangeTestTarget, StepLoss};

/// A training step's output that exposes a scalar loss (and, optionally, an accuracy).
///
/// Implemented for burn-train's `ClassificationOutput` (with accuracy),
/// `RegressionOutput`, `MultiLabelClassificationOutput` and `SequenceOutput`; implement it
/// for your own output type in two lines.
pub trait RangeTestOutput {
    /// The mean loss of the batch.
    fn loss(&self) -> Result<f64, LossError>;
    /// The batch's accuracy in [0, 1], when it has one.
    fn accuracy(&self) -> Option<f64> {
        None
    }
}

/// A loss (or a model's state) that could not be read back from the device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("reading the loss: {0}")]
pub struct LossError(pub String);

fn mean_of(loss: &burn::tensor::Tensor<1>) -> Result<f64, LossError> {
    loss.clone()
        .mean()
        .try_into_scalar::<f64>()
        .map_err(|e| LossError(format!("{e:?}")))
}

/// Why [`BurnTarget`] failed.
#[derive(Debug, thiserror::Error)]
pub enum BurnTargetError {
    /// The loss of a step could not be read.
    #[error(transparent)]
    Loss(#[from] LossError),
    /// The model's record could not be loaded back.
    #[error("restoring the model: {0}")]
    Restore(String),
}

impl RangeTestOutput for ClassificationOutput {
    fn loss(&self) -> Result<f64, LossError> {
        mean_of(&self.loss)
    }

    fn accuracy(&self) -> Option<f64> {
        let [n, _] = self.output.dims();
        if n == 0 {
            return None;
        }
        let predicted = self.output.clone().argmax(1).reshape([n]);
        let correct = predicted
            .equal(self.targets.clone())
            .int()
            .sum()
            .try_into_scalar::<i64>()
            .ok()?;
        Some(correct as f64 / n as f64)
    }
}

impl RangeTestOutput for RegressionOutput {
    fn loss(&self) -> Result<f64, LossError> {
        mean_of(&self.loss)
    }
}

impl RangeTestOutput for MultiLabelClassificationOutput {
    fn loss(&self) -> Result<f64, LossError> {
        mean_of(&self.loss)
    }
}

impl RangeTestOutput for SequenceOutput {
    fn loss(&self) -> Result<f64, LossError> {
        mean_of(&self.loss)
    }
}

/// A held-out measurement of the model, for the paper's accuracy rule.
type HeldOutFn<M> = Box<dyn FnMut(&M) -> HeldOut>;

/// A burn `TrainStep` model with its optimizer, as a range-test target: any batch type
/// (`M::Input`), any output with a loss ([`RangeTestOutput`]), any optimizer, any backend.
///
/// Gradient accumulation sums gradients as burn-train's `Learner` does. The model's
/// snapshot is its record, not a clone: clones share batch norm's running statistics,
/// which training updates in place. The optimizer's is a clone (its state is immutable
/// tensors).
///
/// The README's "Use it in your burn project" and `examples/own_model.rs` show it in use.
pub struct BurnTarget<M> {
    model: M,
    optim: ModuleOptimizer,
    held_out: Option<HeldOutFn<M>>,
}

impl<M> BurnTarget<M>
where
    M: TrainStep + Module,
    M::Output: RangeTestOutput,
{
    /// The model to test and the optimizer it will train with.
    pub fn new(model: M, optim: ModuleOptimizer) -> Self {
        Self {
            model,
            optim,
            held_out: None,
        }
    }

    /// Measures held-out data with `f` every `eval_every` updates of the test.
    pub fn with_held_out(mut self, f: impl FnMut(&M) -> HeldOut + 'static) -> Self {
        self.held_out = Some(Box::new(f));
        self
    }

    /// The model now (after a test: as it was before).
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The model and the optimizer back.
    pub fn into_parts(self) -> (M, ModuleOptimizer) {
        (self.model, self.optim)
    }
}

impl<M> RangeTestTarget for BurnTarget<M>
where
    M: TrainStep + Module,
    M::Output: RangeTestOutput,
{
    type Batch = M::Input;
    type Snapshot = (ModuleRecord, ModuleOptimizer);
    type Error = BurnTargetError;

    fn seed(&mut self, seed: u64) {
        for device in self.model.devices() {
            device.seed(seed);
        }
    }

    fn snapshot(&self) -> Result<Self::Snapshot, BurnTargetError> {
        Ok((self.model.clone().into_record(), self.optim.clone()))
    }

    fn restore(&mut self, (model, optim): Self::Snapshot) -> Result<(), BurnTargetError> {
        self.model = self
            .model
            .clone()
            .try_load_record(model)
            .map_err(|e| BurnTargetError::Restore(format!("{e:?}")))?;
        self.optim = optim;
        Ok(())
    }

    fn train_step(&mut self, batches: Vec<M::Input>, lr: f64) -> Result<StepLoss, BurnTargetError> {
        let n = batches.len().max(1) as f64;
        let (mut loss_sum, mut acc_sum, mut all_acc) = (0.0, 0.0, true);
        let mut accumulator = GradientsAccumulator::<M>::new();
        let mut single: Option<GradientsParams> = None;
        let count = batches.len();
        for batch in batches {
            let out = self.model.step(batch);
            loss_sum += out.item.loss()?;
            match out.item.accuracy() {
                Some(a) => acc_sum += a,
                None => all_acc = false,
            }
            if count == 1 {
                single = Some(out.grads);
            } else {
                accumulator.accumulate(&self.model, out.grads);
            }
        }
        let loss = loss_sum / n;
        if loss.is_finite() {
            let grads = single.unwrap_or_else(|| accumulator.grads());
            self.model = self
                .model
                .clone()
                .optimize(&mut self.optim, lr.into(), grads);
        }
        Ok(StepLoss {
            loss,
            accuracy: all_acc.then_some(acc_sum / n),
        })
    }

    fn held_out(&mut self) -> Option<HeldOut> {
        let f = self.held_out.as_mut()?;
        Some(f(&self.model))
    }
}

/// Epoch after epoch of a burn data loader, for a range test longer than one epoch: each
/// epoch is a fresh `iter()` (in a shuffled loader, a new order). Ends when an epoch
/// yields nothing, so an empty loader ends the test instead of spinning.
pub fn epochs<B>(
    loader: &dyn burn::data::dataloader::DataLoader<B>,
) -> impl Iterator<Item = Result<B, burn::data::dataset::DatasetError>> + '_ {
    let mut current = loader.iter();
    let mut yielded = false;
    std::iter::from_fn(move || {
        loop {
            if let Some(item) = current.next() {
                yielded = true;
                return Some(item);
            }
            if !yielded {
                return None;
            }
            yielded = false;
            current = loader.iter();
        }
    })
}
