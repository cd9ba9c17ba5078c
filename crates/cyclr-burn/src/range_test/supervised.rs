//! The range test run by burn-train itself, under any `ExecutionStrategy`: one device,
//! `MultiDevice` or DDP. The ramp is a schedule on the update count, so every device's
//! optimizer gets `ramp.lr(k)` at update `k`; each update's loss is the mean over every
//! device's batches; the model and optimizer handed in are never touched, so they are as
//! they were on every device afterwards.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::data::dataloader::DataLoader;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::TensorReadError;
use burn::train::metric::{Adaptor, Metric, MetricMetadata, MetricName, SerializedEntry};
use burn::train::{
    ClassificationOutput, ExecutionStrategy, InferenceStep, Interrupter, Learner,
    MultiLabelClassificationOutput, RegressionOutput, SequenceOutput, SupervisedTraining,
    TrainStep,
};
use cyclr::range_test::{RangeTestOutcome, Recorder};

use super::burn_target::LossError;
use super::burn_target::RangeTestOutput;
use super::driver::{RangeTest, RangeTestProgress};
use super::error::{RangeTestError, RangeTestSettingsError};
use crate::scheduler::CyclrScheduler;
use crate::silent_renderer::SilentRenderer;

/// What burn-train hands the range test for each batch: its loss and accuracy.
///
/// burn-train's outputs adapt to it already; for your own output type, implement
/// `Adaptor<RangeTestInput>` with [`RangeTestInput::of`]:
///
/// ```
/// use burn::train::metric::Adaptor;
/// use cyclr_burn::range_test::{LossError, RangeTestInput, RangeTestOutput};
///
/// struct MyOutput {
///     loss: f64,
/// }
/// impl RangeTestOutput for MyOutput {
///     fn loss(&self) -> Result<f64, LossError> {
///         Ok(self.loss)
///     }
/// }
/// impl Adaptor<RangeTestInput> for MyOutput {
///     fn adapt(&self) -> RangeTestInput {
///         RangeTestInput::of(self)
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct RangeTestInput {
    loss: Result<f64, LossError>,
    accuracy: Option<f64>,
}

impl RangeTestInput {
    /// Reads the loss and accuracy of any [`RangeTestOutput`].
    pub fn of<O: RangeTestOutput>(output: &O) -> Self {
        Self {
            loss: output.loss(),
            accuracy: output.accuracy(),
        }
    }
}

macro_rules! adapt_outputs {
    ($($t:ty),*) => {$(
        impl Adaptor<RangeTestInput> for $t {
            fn adapt(&self) -> RangeTestInput {
                RangeTestInput::of(self)
            }
        }
    )*};
}
adapt_outputs!(
    ClassificationOutput,
    RegressionOutput,
    MultiLabelClassificationOutput,
    SequenceOutput
);

/// The batches seen so far, grouped into updates as they arrive.
struct Collector {
    recorder: Recorder,
    /// The ramp's rate of each update, to tell which update a batch belongs to.
    update_of: HashMap<u64, u64>,
    /// Batches (per device, per update) whose rate label names their own update.
    devices: usize,
    pending: Vec<(f64, Option<f64>)>,
    finals: usize,
    error: Option<RangeTestError>,
    done: bool,
    interrupter: Interrupter,
}

impl Collector {
    fn push(&mut self, input: &RangeTestInput, lr: Option<f64>) {
        if self.done {
            return;
        }
        let next = self.recorder.points.len() as u64;
        let loss = match &input.loss {
            Ok(l) => *l,
            Err(e) => {
                self.error = Some(RangeTestError::Step {
                    iteration: next,
                    source: Box::new(e.clone()),
                });
                self.finish("the range test could not read a loss");
                return;
            }
        };
        self.pending.push((loss, input.accuracy));
        // burn labels each batch with the rate of the last update: the batches of update k
        // that complete it carry ramp.lr(k); those accumulated before carry the previous one.
        if lr.and_then(|lr| self.update_of.get(&lr.to_bits())) == Some(&next) {
            self.finals += 1;
        }
        if self.finals < self.devices {
            return;
        }
        let n = self.pending.len() as f64;
        let mean_loss = self.pending.iter().map(|p| p.0).sum::<f64>() / n;
        let accuracy = self
            .pending
            .iter()
            .map(|p| p.1)
            .sum::<Option<f64>>()
            .map(|a| a / n);
        self.pending.clear();
        self.finals = 0;
        let lr = self.recorder.config.lr(next);
        let go_on = self.recorder.record(lr, mean_loss, accuracy);
        if !go_on || self.recorder.is_done() {
            self.finish("the range test is complete");
        }
    }

    fn finish(&mut self, why: &str) {
        self.done = true;
        self.interrupter.stop(Some(why));
    }
}

/// The burn-train metric that feeds the range test.
#[derive(Clone)]
struct RangeTestMetric {
    name: MetricName,
    collector: Arc<Mutex<Collector>>,
}

impl Metric for RangeTestMetric {
    type Input = RangeTestInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn update(
        &mut self,
        item: &RangeTestInput,
        metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let lr = metadata.lr.as_ref().map(|l| l.base());
        self.collector
            .lock()
            .expect("range-test collector")
            .push(item, lr);
        let text = match &item.loss {
            Ok(l) => format!("{l:.4}"),
            Err(_) => "-".into(),
        };
        Ok(SerializedEntry {
            formatted: text.clone(),
            serialized: text,
        })
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(SerializedEntry {
            formatted: String::new(),
            serialized: String::new(),
        })
    }

    fn clear(&mut self) {}
}

impl RangeTest {
    /// Runs the range test through burn-train's `SupervisedTraining` under `strategy`
    /// (one device, `MultiDevice` or DDP), on clones of `model` and `optim`, which are
    /// left as they were. burn writes its logs under `dir`.
    ///
    /// Update `k` trains at `ramp.lr(k)` on every device, whatever the strategy; its loss
    /// is the mean over the batches of every device (the global batch). With gradient
    /// accumulation ([`with_accumulation`](RangeTest::with_accumulation)) the ramp must
    /// start above 0. Held-out measurements are not taken here (burn validates per epoch):
    /// [`BurnTarget`](super::BurnTarget) on one device has them.
    ///
    /// Gradients: burn's `MultiDevice` sums the devices' gradients, so its rates act like
    /// `devices` times as large as one device's on the global batch; DDP with
    /// `ReduceOperation::Mean` averages them, like one device. See the README's "Several
    /// devices".
    #[allow(clippy::too_many_arguments)]
    pub fn run_supervised<M>(
        &self,
        model: &M,
        optim: &ModuleOptimizer,
        strategy: ExecutionStrategy,
        train: Arc<dyn DataLoader<<M as TrainStep>::Input>>,
        valid: Arc<dyn DataLoader<<M as InferenceStep>::Input>>,
        dir: &Path,
        progress: &mut dyn RangeTestProgress,
    ) -> Result<RangeTestOutcome, RangeTestError>
    where
        M: TrainStep + InferenceStep + Module + std::fmt::Display + 'static,
        <M as TrainStep>::Output: Adaptor<RangeTestInput>,
    {
        self.validate()?;
        if self.accumulation > 1 && self.ramp.min_lr == 0.0 {
            return Err(RangeTestSettingsError::AccumulationFromZero.into());
        }
        if self.eval_every.is_some() {
            return Err(RangeTestSettingsError::HeldOutUnderStrategy.into());
        }
        // Before burn-train starts: DDP on a backend without collectives panics mid-run.
        let devices = crate::update_plan::check_strategy(&strategy)?.devices();
        // The ramp's rates are distinct until it reaches max_lr: each names its update.
        let mut update_of = HashMap::new();
        for k in 0..self.ramp.iterations {
            update_of.entry(self.ramp.lr(k).to_bits()).or_insert(k);
        }
        let training = SupervisedTraining::new(dir, train, valid.slice(0, 0))
            // At least one update per epoch: enough epochs for the whole ramp, which the
            // collector stops when done.
            .num_epochs(self.ramp.iterations as usize)
            .with_application_logger(None)
            .renderer(Box::new(SilentRenderer));
        let collector = Arc::new(Mutex::new(Collector {
            recorder: Recorder::new(self.ramp.clone()),
            update_of,
            devices,
            pending: Vec::new(),
            finals: 0,
            error: None,
            done: false,
            interrupter: training.interrupter(),
        }));
        let metric = RangeTestMetric {
            name: Arc::new("range test loss".into()),
            collector: collector.clone(),
        };
        let mut training = training
            .metric_train(metric)
            .with_training_strategy(strategy.into());
        if self.accumulation > 1 {
            training = training.grads_accumulation(self.accumulation as usize);
        }
        if let Some(seed) = self.seed {
            for device in model.devices() {
                device.seed(seed);
            }
        }
        let start = Instant::now();
        // Batch norm's running statistics are shared between clones and updated in place:
        // keep them to put back afterwards.
        let record = model.clone().into_record();
        let learner = Learner::new(
            model.clone(),
            optim.clone(),
            CyclrScheduler::ignoring_momentum(self.ramp.clone()),
        );
        // Progress is reported once burn returns: its metrics run on another thread.
        training.launch(learner);
        model
            .clone()
            .try_load_record(record)
            .map_err(|e| RangeTestError::Restore {
                source: Box::new(LossError(format!("{e:?}"))),
            })?;
        let mut c = collector.lock().expect("range-test collector");
        if let Some(e) = c.error.take() {
            return Err(e);
        }
        let total = self.ramp.iterations;
        for p in &c.recorder.points {
            progress.on_point(p, total);
        }
        let stop = c.recorder.stop.clone();
        if let Some(s) = &stop {
            progress.message(&s.describe());
        }
        let points = std::mem::take(&mut c.recorder.points);
        Ok(RangeTestOutcome::from_recording(
            self.ramp.clone(),
            self.accumulation,
            points,
            stop,
            self.iterations_per_epoch,
            start.elapsed().as_secs_f64(),
        ))
    }
}
