//! The rate and momentum the optimizer actually receives at each update, under each of
//! burn-train's strategies, equal `schedule.lr(k)` and `schedule.momentum(k)`, and the
//! number of updates is what `UpdatePlan` says.
//!
//! One device, gradient accumulation of 2 and `MultiDevice` on two devices run here on the
//! CPU (burn's Flex backend accepts the same device twice). DDP cannot run on a CPU with
//! burn 0.22.1: Flex and NdArray implement no collective operations (`all_reduce` is
//! `unimplemented!()` there) and have a single device; of burn's GPU runtimes only CUDA
//! implements them (on wgpu the all-reduce panics in cubecl). Its test is the same code on
//! two NVIDIA GPUs: `cargo test --release -p cyclr-burn --features cuda --test strategies --
//! --ignored`.

use std::path::Path;

#[path = "../examples/support/recording_sgd.rs"]
mod recording_sgd;
use std::sync::Arc;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};
use burn::train::{
    ExecutionStrategy, InferenceStep, Learner, MultiDeviceOptim, RegressionOutput,
    SupervisedTraining, TrainOutput, TrainStep,
};
use cyclr::{CyclicConfig, LrSchedule, Schedule, ScheduleConfig};
use cyclr_burn::optim::MomentumHandle;
use cyclr_burn::scheduler::CyclrScheduler;
use cyclr_burn::silent_renderer::InProcess;
use cyclr_burn::update_plan::{Strategy, UpdatePlan};
use recording_sgd::RecordingSgd;

/// One parameter tensor, so each update is exactly one optimizer `step` call.
#[derive(Module, Debug)]
struct Scale {
    w: Param<Tensor<1>>,
}

#[derive(Clone, Debug)]
struct Pairs {
    x: Tensor<1>,
    y: Tensor<1>,
}

#[derive(Clone)]
struct PairBatcher;

impl Batcher<(f32, f32), Pairs> for PairBatcher {
    fn batch(&self, items: Vec<(f32, f32)>, device: &Device) -> Pairs {
        let n = items.len();
        let (x, y): (Vec<f32>, Vec<f32>) = items.into_iter().unzip();
        Pairs {
            x: Tensor::from_data(TensorData::new(x, [n]), device),
            y: Tensor::from_data(TensorData::new(y, [n]), device),
        }
    }
}

impl Scale {
    fn forward(&self, p: Pairs) -> RegressionOutput {
        let n = p.x.dims()[0];
        let out = p.x * self.w.val();
        let loss = (out.clone() - p.y.clone()).square().mean();
        RegressionOutput {
            loss,
            output: out.reshape([n, 1]),
            targets: p.y.reshape([n, 1]),
        }
    }
}

impl TrainStep for Scale {
    type Input = Pairs;
    type Output = RegressionOutput;
    fn step(&self, p: Pairs) -> TrainOutput<RegressionOutput> {
        let out = self.forward(p);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl InferenceStep for Scale {
    type Input = Pairs;
    type Output = RegressionOutput;
    fn step(&self, p: Pairs) -> RegressionOutput {
        self.forward(p)
    }
}

const ITEMS: usize = 96;
const BATCH: usize = 8;
const EPOCHS: usize = 3;

fn schedule() -> Schedule {
    ScheduleConfig::Triangular2(CyclicConfig::new(0.001, 0.02, 3).with_momentum(0.8, 0.95))
        .init()
        .unwrap()
}

fn loader(device: &Device) -> Arc<dyn DataLoader<Pairs>> {
    let items: Vec<(f32, f32)> = (0..ITEMS)
        .map(|i| (i as f32 / ITEMS as f32, 2.0 * i as f32 / ITEMS as f32))
        .collect();
    DataLoaderBuilder::new(PairBatcher)
        .batch_size(BATCH)
        .set_device(device.clone())
        .build(InMemDataset::new(items))
}

/// Trains under `strategy` (with `accumulation`), returns what the optimizer received, one
/// entry per update (DDP workers share the optimizer: one entry per worker per update).
fn received(
    strategy: Option<ExecutionStrategy>,
    accumulation: usize,
    devices: usize,
    dir: &Path,
) -> Vec<(f64, f64)> {
    let device = Device::flex().autodiff();
    device.seed(1);
    let model = Scale {
        w: Param::from_tensor(Tensor::from_data(
            TensorData::new(vec![0.5f32], [1]),
            &device,
        )),
    };
    let momentum = MomentumHandle::new(0.9);
    let (optim, log) = RecordingSgd::optimizer(&momentum);
    let scheduler = CyclrScheduler::with_momentum(schedule(), momentum);
    // Read after `launch` has consumed the learner.
    let updates = scheduler.update_count();
    let learner = Learner::new(model, optim, scheduler);
    // Several trainings run in this one test process.
    let mut training = SupervisedTraining::new(dir, loader(&device), loader(&device))
        .num_epochs(EPOCHS)
        .in_process();
    if accumulation > 1 {
        training = training.grads_accumulation(accumulation);
    }
    if let Some(s) = strategy {
        training = training.with_training_strategy(s.into());
    }
    training.launch(learner);
    let log = log.lock().unwrap().clone();
    // Every worker writes each update; keep one entry per update.
    let got: Vec<(f64, f64)> = log.chunks(devices).map(|c| c[0]).collect();
    assert_eq!(
        updates.get(),
        got.len() as u64,
        "the scheduler's update count"
    );
    got
}

fn assert_follows(name: &str, got: &[(f64, f64)], plan: &UpdatePlan) {
    let s = schedule();
    assert_eq!(
        got.len() as u64,
        plan.total_updates().unwrap(),
        "{name}: updates"
    );
    for (k, &(lr, m)) in got.iter().enumerate() {
        assert_eq!(lr, s.lr(k as u64), "{name}: lr at update {k}");
        assert_eq!(
            m,
            s.momentum(k as u64).unwrap(),
            "{name}: momentum at update {k}"
        );
    }
}

#[test]
fn one_device_and_gradient_accumulation() {
    let tmp = tempfile::tempdir().unwrap();
    let got = received(None, 1, 1, &tmp.path().join("single"));
    let plan = UpdatePlan::new(
        Strategy::SingleDevice,
        ITEMS as u64,
        BATCH as u64,
        EPOCHS as u64,
    );
    assert_eq!(plan.updates_per_epoch().unwrap(), 12);
    assert_follows("single device", &got, &plan);

    // lr_step once per update, not per micro-batch: 6 updates per epoch.
    let got = received(None, 2, 1, &tmp.path().join("accumulation"));
    let plan = plan.with_accumulation(2);
    assert_eq!(plan.updates_per_epoch().unwrap(), 6);
    assert_follows("gradient accumulation 2", &got, &plan);
}

#[test]
fn multi_device_on_two_devices() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Device::flex().autodiff();
    let strategy = ExecutionStrategy::multi(vec![d.clone(), d], MultiDeviceOptim::OptimMainDevice);
    // The plan reads the strategy from burn's own value: nothing to keep in sync by hand.
    let planned = Strategy::from(&strategy);
    assert_eq!(planned, Strategy::MultiDevice { devices: 2 });
    let got = received(Some(strategy), 1, 1, tmp.path());
    let plan = UpdatePlan::new(planned, ITEMS as u64, BATCH as u64, EPOCHS as u64);
    assert_eq!(
        plan.updates_per_epoch().unwrap(),
        6,
        "two devices: half the updates per epoch"
    );
    assert_follows("MultiDevice on 2 devices", &got, &plan);
}

/// Needs two GPUs and a GPU backend: see the module's documentation.
#[test]
#[ignore = "needs two GPUs: cargo test --release -p cyclr-burn --features cuda --test strategies -- --ignored"]
fn ddp_on_two_devices() {
    let devices = gpu_devices();
    let tmp = tempfile::tempdir().unwrap();
    let config = burn::tensor::distributed::DistributedConfig {
        all_reduce_op: burn::tensor::distributed::ReduceOperation::Mean,
    };
    let got = received(
        Some(ExecutionStrategy::ddp(devices, config)),
        1,
        2,
        tmp.path(),
    );
    let plan = UpdatePlan::new(
        Strategy::Ddp { devices: 2 },
        ITEMS as u64,
        BATCH as u64,
        EPOCHS as u64,
    );
    assert_follows("DDP on 2 devices", &got, &plan);
}

#[allow(unreachable_code)]
fn gpu_devices() -> Vec<Device> {
    #[cfg(feature = "cuda")]
    return vec![Device::cuda(0).autodiff(), Device::cuda(1).autodiff()];
    panic!("DDP in burn 0.22.1 needs two NVIDIA GPUs: run with --features cuda")
}
