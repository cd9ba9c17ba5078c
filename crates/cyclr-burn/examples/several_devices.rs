//! The own-model example launched under burn-train's strategies: one device, `MultiDevice`
//! on two devices (runs on a CPU), and DDP on two GPUs (`--features cuda`, two NVIDIA
//! GPUs). The same schedule config gives the same learning-rate curve, update by update,
//! under each; `UpdatePlan` sizes what depends on the strategy (updates per epoch, 1cycle's
//! total steps, the stepsize in epochs).
//!
//! `cargo run --release -p cyclr-burn --example several_devices`

#[path = "own_model.rs"]
#[allow(dead_code)]
mod own_model;

use std::path::Path;
use std::sync::{Arc, Mutex};

use burn::tensor::{Device, TensorReadError};
use burn::train::metric::{Metric, MetricMetadata, MetricName, SerializedEntry};
use burn::train::{ExecutionStrategy, Learner, MultiDeviceOptim, SupervisedTraining};
use cyclr::{CyclicConfig, LrSchedule, Schedule, ScheduleConfig};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_burn::scheduler::CyclrScheduler;
use cyclr_burn::update_plan::{Strategy, UpdatePlan};
use own_model::{EpochLines, RingNet, loader, rings};

/// Writes down the learning rate burn reports with each batch, one entry per update.
#[derive(Clone)]
struct LrLog {
    rates: Arc<Mutex<Vec<f64>>>,
    /// Batches reported per update (one per device).
    per_update: usize,
    seen: Arc<Mutex<usize>>,
}

impl Metric for LrLog {
    type Input = ();

    fn name(&self) -> MetricName {
        Arc::new("learning rate log".into())
    }

    fn update(
        &mut self,
        _: &(),
        metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let mut seen = self.seen.lock().unwrap();
        if (*seen).is_multiple_of(self.per_update)
            && let Some(lr) = &metadata.lr
        {
            self.rates.lock().unwrap().push(lr.base());
        }
        *seen += 1;
        Ok(SerializedEntry {
            formatted: String::new(),
            serialized: String::new(),
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

/// One training of the ring net under `strategy` with `schedule` for `epochs`; the rate
/// of every update, in order.
pub fn rates_under(
    strategy: ExecutionStrategy,
    devices: usize,
    schedule: &Schedule,
    epochs: usize,
    dir: &Path,
) -> Vec<f64> {
    let device = Device::flex().autodiff();
    device.seed(42);
    let model = RingNet::new(32, 2, &device);
    let (optim, momentum) = OptimizerConfig::sgd().init();
    let learner = Learner::new(
        model,
        optim,
        CyclrScheduler::with_momentum(schedule.clone(), momentum),
    );
    let log = LrLog {
        rates: Arc::default(),
        per_update: devices,
        seen: Arc::default(),
    };
    SupervisedTraining::new(
        dir,
        loader(rings(1200, 1), 50, &device),
        loader(rings(100, 2), 50, &device),
    )
    .num_epochs(epochs)
    .with_application_logger(None)
    .renderer(Box::new(EpochLines))
    .metric_train(log.clone())
    .with_training_strategy(strategy.into())
    .launch(learner);
    log.rates.lock().unwrap().clone()
}

/// The schedule of this example: triangular2 with momentum, stepsize 6 updates.
pub fn schedule() -> Schedule {
    ScheduleConfig::Triangular2(CyclicConfig::new(0.005, 0.05, 6).with_momentum(0.85, 0.95))
        .init()
        .unwrap()
}

#[allow(dead_code)] // also compiled as a module of the tests
fn main() {
    let dir = std::env::temp_dir().join(format!("cyclr-several-devices-{}", std::process::id()));
    let s = schedule();
    let d = Device::flex().autodiff();
    let mut runs = vec![
        (
            "one device",
            rates_under(
                ExecutionStrategy::SingleDevice(d.clone()),
                1,
                &s,
                2,
                &dir.join("one"),
            ),
            Strategy::SingleDevice,
        ),
        (
            "MultiDevice x2",
            rates_under(
                ExecutionStrategy::multi(vec![d.clone(), d], MultiDeviceOptim::OptimMainDevice),
                2,
                &s,
                2,
                &dir.join("multi"),
            ),
            Strategy::MultiDevice { devices: 2 },
        ),
    ];
    #[cfg(feature = "cuda")]
    {
        let gpus = vec![Device::cuda(0).autodiff(), Device::cuda(1).autodiff()];
        let config = burn::tensor::distributed::DistributedConfig {
            all_reduce_op: burn::tensor::distributed::ReduceOperation::Mean,
        };
        runs.push((
            "DDP x2 (CUDA)",
            rates_under(
                ExecutionStrategy::ddp(gpus, config),
                2,
                &s,
                2,
                &dir.join("ddp"),
            ),
            Strategy::Ddp { devices: 2 },
        ));
    }
    for (name, rates, strategy) in &mut runs {
        let plan = UpdatePlan::new(*strategy, 1200, 50, 2);
        println!(
            "{name:>15}: {} updates ({} per epoch as planned), 1cycle for this launch: total_steps {}",
            rates.len(),
            plan.updates_per_epoch().unwrap(),
            plan.total_updates().unwrap()
        );
    }
    let shortest = runs.iter().map(|r| r.1.len()).min().unwrap_or(0);
    println!(
        "\nupdate  {}",
        runs.iter()
            .map(|r| format!("{:>15}", r.0))
            .collect::<String>()
    );
    for k in 0..shortest {
        let row: String = runs.iter().map(|r| format!("{:>15.5}", r.1[k])).collect();
        println!("{k:>6}  {row}   schedule.lr({k}) = {:.5}", s.lr(k as u64));
    }
    let same = runs
        .iter()
        .all(|r| r.1[..shortest] == runs[0].1[..shortest]);
    println!(
        "\nthe same curve under every strategy: {}",
        if same { "yes" } else { "NO" }
    );
    let _ = std::fs::remove_dir_all(&dir);
}
