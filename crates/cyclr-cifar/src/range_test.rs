//! The LR range test on CIFAR-10 with the reference CNN: `cyclr-burn`'s one driver over
//! the [`Engine`] (fused kernels or burn's ops), and the files `cyclr range-test` writes.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use cyclr::range_test::{HeldOut, Ramp, RangePoint, RangeTestConfig};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_burn::range_test::{
    RangeTest, RangeTestOutcome, RangeTestProgress, RangeTestTarget, StepLoss,
};
use serde::{Deserialize, Serialize};

use crate::data::{Batch, Dataset, Prefetcher, Split, epoch_order};
use crate::engine::{Backend, Engine, EngineKind};
use crate::environment::{Hardware, Versions};
use crate::error::AppResult;
use crate::io::write_atomic;
use crate::observer::{BatchProgress, Observer};
use crate::run_record::DataInfo;
use crate::settings;

/// The largest `range_test.json` read (a ramp of 100,000 iterations writes about 25 MB).
const MAX_RESULT_BYTES: u64 = 256 << 20;

/// A range test on CIFAR-10.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeTestSettings {
    /// The ramp.
    pub ramp: RangeTestConfig,
    /// The optimizer the ramp trains with.
    pub optimizer: OptimizerConfig,
    /// Images per batch (one batch per update).
    pub batch_size: usize,
    /// Seed of the weights and of the batch order.
    pub seed: u64,
    /// Measure held-out accuracy every this many iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
    /// The burn backend.
    #[serde(default)]
    pub backend: Backend,
    /// Fused kernels or burn's ops.
    #[serde(default)]
    pub engine: EngineKind,
}

impl RangeTestSettings {
    /// Everything that can be wrong before the ramp starts, said as what to change.
    pub fn validate(&self) -> AppResult<()> {
        settings::batch_size(self.batch_size)?;
        settings::eval_every(self.eval_every)?;
        self.ramp.validate()?;
        self.engine.check(self.backend)?;
        Ok(self.optimizer.validate()?)
    }

    fn driver(&self, iterations_per_epoch: u64) -> RangeTest {
        let mut test = RangeTest::new(self.ramp.clone())
            .with_iterations_per_epoch(iterations_per_epoch.max(1));
        if let Some(k) = self.eval_every {
            test = test.with_eval_every(k);
        }
        test
    }
}

/// `range_test.json`: the settings, the data and machine, and the outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RangeTestResult {
    /// What ran.
    pub settings: RangeTestSettings,
    /// On which images.
    pub data: DataInfo,
    /// cyclr's and burn's versions.
    pub versions: Versions,
    /// The machine.
    pub hardware: Hardware,
    /// The points, analysis and stepsize advice.
    #[serde(flatten)]
    pub outcome: RangeTestOutcome,
}

impl RangeTestResult {
    /// Reads a `range_test.json` written by `cyclr range-test`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        use std::io::Read as _;
        let meta =
            std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
        // A FIFO would block in open(), a device never end: only a regular file is read,
        // and no more of it than a range test writes.
        if !meta.is_file() {
            anyhow::bail!(
                "{} is not a regular file (a folder, device or pipe): give the range_test.json \
                 a range test wrote",
                path.display()
            );
        }
        let mut text = String::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_RESULT_BYTES + 1).read_to_string(&mut text))
            .with_context(|| format!("reading {}", path.display()))?;
        if text.len() as u64 > MAX_RESULT_BYTES {
            anyhow::bail!(
                "{} is larger than {} MB: not a range_test.json a range test wrote",
                path.display(),
                MAX_RESULT_BYTES >> 20
            );
        }
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a range_test.json written by `cyclr range-test`",
                path.display()
            )
        })
    }

    /// The paper's middle stepsize (5 epochs of iterations) for the data it ran on.
    pub fn suggested_stepsize(&self) -> u64 {
        self.outcome.stepsize.as_ref().map_or_else(
            || {
                5 * self
                    .data
                    .train_images
                    .div_ceil(self.settings.batch_size.max(1))
                    .max(1) as u64
            },
            |s| s.suggested,
        )
    }

    /// The chart's title: the ramp and the optimizer.
    pub fn title(&self) -> String {
        format!(
            "LR range test ({} ramp, {})",
            match self.settings.ramp.ramp {
                Ramp::Linear => "linear",
                Ramp::Exponential => "exponential",
            },
            self.settings.optimizer.name()
        )
    }
}

/// Why the engine failed as a range-test target.
#[derive(Debug, thiserror::Error)]
enum EngineTargetError {
    /// Saving or restoring the model and optimizer.
    #[error("{0:#}")]
    State(anyhow::Error),
    /// More than one batch per update.
    #[error("the CIFAR engine trains one batch per update (no accumulation), but {0} were given")]
    Accumulation(usize),
}

/// The reference CNN's engine as a range-test target, with the test split for held-out
/// measurements.
struct EngineTarget<'a> {
    engine: &'a mut Engine,
    test: &'a Split,
}

impl RangeTestTarget for EngineTarget<'_> {
    type Batch = Batch;
    type Snapshot = (Vec<u8>, Vec<u8>);
    type Error = EngineTargetError;

    fn snapshot(&self) -> Result<Self::Snapshot, EngineTargetError> {
        self.engine.save().map_err(EngineTargetError::State)
    }

    fn restore(&mut self, (model, optim): Self::Snapshot) -> Result<(), EngineTargetError> {
        self.engine
            .load(model, optim)
            .map_err(EngineTargetError::State)
    }

    fn train_step(&mut self, batches: Vec<Batch>, lr: f64) -> Result<StepLoss, EngineTargetError> {
        let [batch] = <[Batch; 1]>::try_from(batches)
            .map_err(|b| EngineTargetError::Accumulation(b.len()))?;
        let r = self.engine.train_batch(&batch, lr);
        Ok(StepLoss {
            loss: r.loss,
            accuracy: Some(r.correct as f64 / r.size.max(1) as f64),
        })
    }

    fn held_out(&mut self) -> Option<HeldOut> {
        let e = self.engine.evaluate(self.test, 500);
        Some(HeldOut {
            accuracy: Some(e.accuracy),
            loss: Some(e.loss),
        })
    }
}

/// The app's [`Observer`] hearing a range test.
struct Progress<'a> {
    observer: &'a mut dyn Observer,
    per_epoch: u64,
    batch_size: usize,
    start: Instant,
}

impl RangeTestProgress for Progress<'_> {
    fn on_point(&mut self, p: &RangePoint, total: u64) {
        let done = p.iteration + 1;
        self.observer.on_batch(&BatchProgress {
            step: done,
            total_steps: total,
            epoch: p.iteration / self.per_epoch.max(1) + 1,
            lr: p.lr,
            loss: p.smoothed_loss,
            accuracy: p.smoothed_accuracy.unwrap_or(f64::NAN),
            images_per_s: done as f64 * self.batch_size as f64
                / self.start.elapsed().as_secs_f64().max(1e-9),
        });
    }

    fn message(&mut self, text: &str) {
        self.observer.message(text);
    }

    fn should_stop(&self) -> bool {
        self.observer.should_stop()
    }
}

/// Runs the ramp on `engine` as it is, then puts its model and optimizer back as they were
/// (library use: test a model mid-project without disturbing it).
pub fn run_on_engine(
    engine: &mut Engine,
    settings: &RangeTestSettings,
    data: &dyn Dataset,
    observer: &mut dyn Observer,
) -> AppResult<RangeTestOutcome> {
    settings.validate()?;
    let per_epoch = data.train().steps_per_epoch(settings.batch_size);
    let train = data.train().clone();
    let (len, seed, batch_size) = (train.len(), settings.seed, settings.batch_size);
    // Epoch after epoch, each in its own shuffled order, for a ramp longer than one.
    let batches = (0..).flat_map(move |epoch| {
        Prefetcher::new(train.clone(), epoch_order(len, seed, epoch), batch_size, 0)
    });
    observer.on_start(0, settings.ramp.iterations);
    let mut progress = Progress {
        observer,
        per_epoch,
        batch_size,
        start: Instant::now(),
    };
    let mut target = EngineTarget {
        engine,
        test: data.test(),
    };
    Ok(settings
        .driver(per_epoch)
        .run(&mut target, batches, &mut progress)?)
}

/// The whole range test on a fresh model: ramp, analysis, stepsize advice.
pub fn run_range_test(
    settings: &RangeTestSettings,
    data: &dyn Dataset,
    observer: &mut dyn Observer,
) -> AppResult<RangeTestResult> {
    settings.validate()?;
    let device = settings.backend.device()?;
    let mut engine = Engine::new(&settings.optimizer, settings.seed, device, settings.engine);
    let outcome = run_on_engine(&mut engine, settings, data, observer)?;
    Ok(RangeTestResult {
        settings: settings.clone(),
        data: data.info(),
        versions: Versions::current(),
        hardware: Hardware::current(settings.backend, settings.engine),
        outcome,
    })
}

/// Writes `range_test.csv`, `range_test.json`, `range_test.png` and `range_test.svg`.
pub fn write_outputs(result: &RangeTestResult, out: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let context = || format!("writing the range test's files in {}", out.display());
    result.outcome.write_csv(out).with_context(context)?;
    // The JSON holds the settings, data and machine besides the outcome.
    write_atomic(
        &out.join("range_test.json"),
        serde_json::to_string_pretty(result)?.as_bytes(),
    )?;
    result
        .outcome
        .write_charts(out, &result.title())
        .with_context(context)?;
    Ok(())
}
