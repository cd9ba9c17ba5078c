//! cyclr on your own burn model and data: a small residual net with batch norm on a
//! dataset made here (three noisy concentric rings), from the range test to CLR training
//! with cycled momentum in burn-train's `SupervisedTraining`, checkpointed and resumed by
//! burn's own checkpointer.
//!
//! `cargo run --release -p cyclr-burn --example own_model`
//!
//! The same code runs in the tests (`tests/own_model.rs`) on a smaller setting, which assert
//! what it prints: the range test finds bounds, the loss falls, and a run stopped and
//! resumed from its checkpoint ends with exactly the weights of an uninterrupted one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use burn::train::checkpoint::KeepLastNCheckpoints;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{AccuracyMetric, LossMetric};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};
use burn::train::{
    ClassificationOutput, ExecutionStrategy, InferenceStep, Learner, SupervisedTraining,
    TrainOutput, TrainStep,
};
use cyclr::range_test::{HeldOut, Ramp, RangeTestConfig};
use cyclr::{CyclicConfig, LrSchedule, Schedule, ScheduleConfig};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_burn::range_test::{BurnTarget, RangeTest, RangeTestOutcome, epochs};
use cyclr_burn::scheduler::CyclrScheduler;

// ---- the data: three rings, one class each ------------------------------------------------

/// One point and its ring.
#[derive(Debug, Clone)]
pub struct Point {
    xy: [f32; 2],
    class: i64,
}

/// `n` points, a third on each ring (radius 1, 2, 3) with noise, from `seed`.
pub fn rings(n: usize, seed: u64) -> Vec<Point> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f32 / (1u64 << 53) as f32
    };
    (0..n)
        .map(|i| {
            let class = (i % 3) as i64;
            let angle = uniform() * std::f32::consts::TAU;
            let radius = 1.0 + class as f32 + 0.6 * (uniform() - 0.5);
            Point {
                xy: [radius * angle.cos(), radius * angle.sin()],
                class,
            }
        })
        .collect()
}

/// A batch of points.
#[derive(Debug, Clone)]
pub struct RingBatch {
    xy: Tensor<2>,
    classes: Tensor<1, Int>,
}

/// Makes [`RingBatch`]es from [`Point`]s.
#[derive(Clone)]
pub struct RingBatcher;

impl Batcher<Point, RingBatch> for RingBatcher {
    fn batch(&self, items: Vec<Point>, device: &Device) -> RingBatch {
        let n = items.len();
        let xy: Vec<f32> = items.iter().flat_map(|p| p.xy).collect();
        let classes: Vec<i64> = items.iter().map(|p| p.class).collect();
        RingBatch {
            xy: Tensor::from_data(TensorData::new(xy, [n, 2]), device),
            classes: Tensor::from_data(TensorData::new(classes, [n]), device),
        }
    }
}

/// A data loader over `points` in a fixed order (a resumed run must see the same batches).
pub fn loader(
    points: Vec<Point>,
    batch_size: usize,
    device: &Device,
) -> Arc<dyn DataLoader<RingBatch>> {
    DataLoaderBuilder::new(RingBatcher)
        .batch_size(batch_size)
        .set_device(device.clone())
        .build(InMemDataset::new(points))
}

// ---- the model: a residual MLP with batch norm ----------------------------------------

/// `relu(x + norm(linear(x)))`.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    linear: Linear,
    norm: BatchNorm,
}

/// Input layer, residual blocks, classifier.
#[derive(Module, Debug)]
pub struct RingNet {
    input: Linear,
    blocks: Vec<ResidualBlock>,
    output: Linear,
}

impl RingNet {
    /// A fresh net of `width` units and `depth` residual blocks.
    pub fn new(width: usize, depth: usize, device: &Device) -> Self {
        Self {
            input: LinearConfig::new(2, width).init(device),
            blocks: (0..depth)
                .map(|_| ResidualBlock {
                    linear: LinearConfig::new(width, width).init(device),
                    norm: BatchNormConfig::new(width).init(device),
                })
                .collect(),
            output: LinearConfig::new(width, 3).init(device),
        }
    }

    fn forward(&self, batch: RingBatch) -> ClassificationOutput {
        let mut x = relu(self.input.forward(batch.xy));
        for block in &self.blocks {
            x = relu(x.clone() + block.norm.forward(block.linear.forward(x)));
        }
        let logits = self.output.forward(x);
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), batch.classes.clone());
        ClassificationOutput {
            loss,
            output: logits,
            targets: batch.classes,
        }
    }
}

impl TrainStep for RingNet {
    type Input = RingBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: RingBatch) -> TrainOutput<ClassificationOutput> {
        let out = self.forward(batch);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl InferenceStep for RingNet {
    type Input = RingBatch;
    type Output = ClassificationOutput;

    fn step(&self, batch: RingBatch) -> ClassificationOutput {
        self.forward(batch)
    }
}

/// Mean loss and accuracy of `model` (in evaluation mode) over `data`.
pub fn evaluate(model: &RingNet, data: &dyn DataLoader<RingBatch>) -> (f64, f64) {
    let model = model.clone().valid();
    let (mut loss, mut correct, mut n) = (0.0, 0, 0);
    for batch in data.iter() {
        let batch = batch.expect("the rings are in memory");
        let size = batch.classes.dims()[0];
        let out = model.forward(batch);
        loss += out.loss.into_scalar::<f32>() as f64 * size as f64;
        let predicted = out.output.argmax(1).reshape([size]);
        correct += predicted
            .equal(out.targets)
            .int()
            .sum()
            .into_scalar::<i64>() as usize;
        n += size;
    }
    (loss / n as f64, correct as f64 / n as f64)
}

/// Every weight of the model (batch-norm statistics included), to compare two runs.
pub fn weights(model: &RingNet) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.extend(param.val().into_data().iter::<f32>());
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

// ---- the range test under burn-train's strategies (tests/range_test_strategies.rs, remote_devices) ----

/// A ring net of `width` units and `depth` blocks, from seed 42.
pub fn seeded_net(width: usize, depth: usize, device: &Device) -> RingNet {
    device.seed(42);
    RingNet::new(width, depth, device)
}

/// The range test through burn-train under `strategy`, on a fresh seeded net of `depth`
/// residual blocks; the outcome and the net's weights before and after.
pub fn range_test_under(
    strategy: ExecutionStrategy,
    depth: usize,
    points: Vec<Point>,
    batch: usize,
    scale: f64,
    dir: &std::path::Path,
) -> (RangeTestOutcome, Vec<f32>, Vec<f32>) {
    let device = Device::flex().autodiff();
    let model = seeded_net(32, depth, &device);
    let (optim, _) = OptimizerConfig::sgd().init();
    let before = weights(&model);
    let train = loader(points, batch, &device);
    let valid = loader(rings(100, 2), batch, &device);
    let ramp = RangeTestConfig::new(1e-3 * scale, 3.0 * scale, 120, Ramp::Exponential);
    let outcome = RangeTest::new(ramp)
        .run_supervised(&model, &optim, strategy, train, valid, dir, &mut ())
        .expect("the range test runs");
    (outcome, before, weights(&model))
}

/// The same global batches in one device's order: burn gives `MultiDevice`'s first device
/// the first half of the items and the second the rest, one batch of each per update.
pub fn as_global_batches(points: &[Point], per_device: usize) -> Vec<Point> {
    let half = points.len() / 2;
    let (first, second) = points.split_at(half);
    first
        .chunks(per_device)
        .zip(second.chunks(per_device))
        .flat_map(|(a, b)| a.iter().chain(b).cloned())
        .collect()
}

// ---- range test -> bounds -> CLR ------------------------------------------------------

/// The sizes of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Training points (validation: a fifth of it).
    pub train_points: usize,
    /// Points per batch.
    pub batch_size: usize,
    /// Iterations of the range test's ramp.
    pub range_iterations: u64,
    /// Epochs of CLR training.
    pub epochs: usize,
    /// Where burn writes checkpoints and logs.
    pub dir: PathBuf,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            train_points: 3000,
            batch_size: 50,
            range_iterations: 200,
            epochs: 8,
            dir: PathBuf::from("runs/own-model"),
        }
    }
}

/// What the example found.
pub struct Outcome {
    /// The range test.
    pub range_test: RangeTestOutcome,
    /// The schedule the bounds gave.
    pub schedule: Schedule,
    /// Validation loss and accuracy before and after training.
    pub before: (f64, f64),
    /// After training.
    pub after: (f64, f64),
    /// The trained model.
    pub model: RingNet,
}

/// One line per epoch instead of burn's per-batch progress.
pub struct EpochLines;

impl MetricsRendererTraining for EpochLines {
    fn update_train(&mut self, _: MetricState) {}
    fn update_valid(&mut self, _: MetricState) {}
}
impl MetricsRendererEvaluation for EpochLines {
    fn update_test(&mut self, _: EvaluationName, _: MetricState) {}
}
impl TrainingProgressLogger for EpochLines {
    fn start(&mut self, total: usize, starting: usize, _: Option<usize>, _: Option<&str>) {
        println!("training epochs {starting}..={total}");
    }
    fn update_epoch(&mut self, epoch: usize) {
        println!("  epoch {epoch}");
    }
    fn start_split(&mut self, _: &str, _: usize) {}
    fn update_split(&mut self, _: usize) {}
    fn end_split(&mut self) {}
    fn end(&mut self) {}
    fn log_event_training(&mut self, _: String) {}
}
impl EvaluationProgressLogger for EpochLines {
    fn start_global_progress(&mut self, _: usize) {}
    fn start_test(&mut self, _: &str, _: usize) {}
    fn update_test_progress(&mut self, _: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _: String) {}
}
impl MetricsRenderer for EpochLines {
    fn manual_close(&mut self) {}
    fn register_metric(&mut self, _: burn::train::metric::MetricDefinition) {}
}

/// A fresh model (seeded) with its optimizer and a momentum-cycling scheduler.
pub fn learner(schedule: &Schedule, device: &Device) -> Learner<RingNet> {
    device.seed(42);
    let model = RingNet::new(32, 2, device);
    let (optim, momentum) = OptimizerConfig::sgd().init();
    Learner::new(
        model,
        optim,
        CyclrScheduler::with_momentum(schedule.clone(), momentum),
    )
}

/// CLR training in `SupervisedTraining` for `epochs`, from the checkpoint of epoch
/// `resume_from` when given, with burn's file checkpointer in `dir`.
pub fn train(
    schedule: &Schedule,
    settings: &Settings,
    dir: &Path,
    epochs: usize,
    resume_from: Option<usize>,
    device: &Device,
) -> RingNet {
    let strategy = ExecutionStrategy::SingleDevice(device.clone());
    train_under(
        schedule,
        settings,
        dir,
        epochs,
        resume_from,
        device,
        strategy,
    )
}

/// [`train`] under any of burn-train's strategies; the model and the data loaders start on
/// `device`, and burn moves them to the strategy's devices.
pub fn train_under(
    schedule: &Schedule,
    settings: &Settings,
    dir: &Path,
    epochs: usize,
    resume_from: Option<usize>,
    device: &Device,
    strategy: ExecutionStrategy,
) -> RingNet {
    let train_data = loader(rings(settings.train_points, 1), settings.batch_size, device);
    let valid_data = loader(
        rings(settings.train_points / 5, 2),
        settings.batch_size,
        device,
    );
    let mut training = SupervisedTraining::new(dir, train_data, valid_data)
        .num_epochs(epochs)
        .with_default_checkpointers()
        .with_checkpointing_strategy(KeepLastNCheckpoints::new(settings.epochs.max(1)))
        .metric_train_numeric(LossMetric::new())
        .metric_valid_numeric(LossMetric::new())
        .metric_valid_numeric(AccuracyMetric::new())
        .with_application_logger(None)
        .renderer(Box::new(EpochLines))
        .with_training_strategy(strategy.into());
    if let Some(epoch) = resume_from {
        training = training.checkpoint(epoch);
    }
    training.launch(learner(schedule, device)).model
}

/// The whole example: range test, bounds, CLR training.
pub fn run(settings: &Settings) -> Result<Outcome, Box<dyn std::error::Error>> {
    let device = Device::flex().autodiff();
    let train_data = loader(
        rings(settings.train_points, 1),
        settings.batch_size,
        &device,
    );
    let valid_data = loader(
        rings(settings.train_points / 5, 2),
        settings.batch_size,
        &device,
    );
    let per_epoch = settings.train_points.div_ceil(settings.batch_size) as u64;

    // 1. The range test: an exponential ramp over a few epochs, with held-out accuracy.
    device.seed(42);
    let (optim, _) = OptimizerConfig::sgd().init();
    let valid = valid_data.clone();
    let mut target = BurnTarget::new(RingNet::new(32, 2, &device), optim)
        .with_held_out(move |m: &RingNet| HeldOut::accuracy(evaluate(m, valid.as_ref()).1));
    let test = RangeTest::new(RangeTestConfig::new(
        1e-3,
        3.0,
        settings.range_iterations,
        Ramp::Exponential,
    ))
    .with_eval_every(5)
    .with_iterations_per_epoch(per_epoch);
    let range_test = test.run_fallible(&mut target, epochs(train_data.as_ref()), &mut ())?;
    let rec = range_test.analysis.recommendation.clone().ok_or_else(|| {
        format!(
            "the range test gave no bounds: {:?}",
            range_test.analysis.warnings
        )
    })?;
    println!(
        "range test: {} points; recommended base {:.2e}, max {:.2e} ({}); {}",
        range_test.points.len(),
        rec.base_lr,
        rec.max_lr,
        rec.source,
        rec.agreement
    );

    // 2. The bounds become a triangular schedule with cycled momentum (0.95 at the base
    //    rate, 0.85 at the top), stepsize 2 epochs.
    let schedule = ScheduleConfig::Triangular(
        CyclicConfig::new(rec.base_lr, rec.max_lr, 2 * per_epoch).with_momentum(0.85, 0.95),
    )
    .init()?;
    let (model, _) = target.into_parts();
    let before = evaluate(&model, valid_data.as_ref());

    // 3. CLR training in burn-train, checkpointed every epoch.
    let trained = train(
        &schedule,
        settings,
        &settings.dir,
        settings.epochs,
        None,
        &device,
    );
    let after = evaluate(&trained, valid_data.as_ref());
    println!(
        "validation loss {:.3} -> {:.3}, accuracy {:.1}% -> {:.1}% after {} epochs of triangular CLR",
        before.0,
        after.0,
        before.1 * 100.0,
        after.1 * 100.0,
        settings.epochs
    );
    let lr: Vec<String> = (0..4 * per_epoch)
        .step_by(per_epoch as usize / 2)
        .map(|s| format!("{:.2e}", schedule.lr(s)))
        .collect();
    println!("learning rate every half epoch: {}", lr.join(" "));
    Ok(Outcome {
        range_test,
        schedule,
        before,
        after,
        model: trained,
    })
}

#[allow(dead_code)] // also compiled as a module of the tests, which call `run`
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = Settings::default();
    run(&settings)?;
    println!("checkpoints and logs: {}", settings.dir.display());
    Ok(())
}
