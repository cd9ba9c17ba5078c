//! How many optimizer updates a burn-train run makes, whatever the strategy, and the
//! schedule lengths that follow from it.
//!
//! cyclr counts a schedule in **optimizer updates of the global batch**: the rate at
//! update `k` is `schedule.lr(k)`. In burn-train 0.22 that is what each strategy gives a
//! [`CyclrScheduler`](crate::scheduler::CyclrScheduler) (its `lr_step()` comes once per
//! update: per batch on one device, per accumulated group with gradient accumulation,
//! per N-device step under `MultiDevice`, and per local batch on every worker's own clone
//! under DDP). What changes between strategies is how many updates an epoch has: burn
//! splits the data loader across devices, so two devices make half the updates per epoch.
//! A schedule sized for one device (1cycle's `total_steps`, a stepsize in epochs, a range
//! test's length) is wrong on two. [`UpdatePlan`] derives those numbers from the launch.
//!
//! ```
//! use cyclr_burn::update_plan::{Strategy, UpdatePlan};
//!
//! // 50,000 images, batches of 100 per device, 30 epochs, DDP on 4 GPUs.
//! let plan = UpdatePlan::new(Strategy::Ddp { devices: 4 }, 50_000, 100, 30);
//! assert_eq!(plan.updates_per_epoch().unwrap(), 125);
//! assert_eq!(plan.total_updates().unwrap(), 3_750);
//! let one_cycle = plan.one_cycle(0.1).unwrap(); // total_steps = 3,750
//! plan.check(&one_cycle).unwrap();
//! // The same config sized for one device would never finish its anneal:
//! let single = UpdatePlan::new(Strategy::SingleDevice, 50_000, 100, 30).one_cycle(0.1).unwrap();
//! assert!(plan.check(&single).is_err());
//! ```

use cyclr::range_test::{Ramp, RangeTestConfig, StepsizeAdvice, stepsize_advice};
use cyclr::{OneCycleConfig, Schedule, ScheduleConfig, ScheduleError};
use serde::{Deserialize, Serialize};

/// How burn-train runs the training (its `ExecutionStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strategy {
    /// `ExecutionStrategy::SingleDevice`.
    SingleDevice,
    /// `ExecutionStrategy::MultiDevice(devices, ..)`: one batch per device per step, one
    /// update per step (or per `accumulation` steps).
    MultiDevice {
        /// Devices taking part.
        devices: usize,
    },
    /// `ExecutionStrategy::ddp(devices, ..)`: a worker per device, gradients all-reduced,
    /// each worker's optimizer updated once per local batch.
    Ddp {
        /// Devices taking part.
        devices: usize,
    },
}

impl Strategy {
    /// Devices taking part.
    pub fn devices(self) -> usize {
        match self {
            Strategy::SingleDevice => 1,
            Strategy::MultiDevice { devices } | Strategy::Ddp { devices } => devices,
        }
    }
}

/// The strategy of a burn-train launch, read from the `ExecutionStrategy` itself so the
/// two cannot drift apart.
impl From<&burn::train::ExecutionStrategy> for Strategy {
    fn from(strategy: &burn::train::ExecutionStrategy) -> Self {
        use burn::train::ExecutionStrategy as E;
        match strategy {
            E::SingleDevice(_) => Strategy::SingleDevice,
            E::MultiDevice(devices, _) => Strategy::MultiDevice {
                devices: devices.len(),
            },
            E::DistributedDataParallel { devices, .. } => Strategy::Ddp {
                devices: devices.len(),
            },
        }
    }
}

/// Why burn-train cannot run a strategy on its devices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StrategyError {
    /// The strategy lists no device.
    #[error("the {strategy} strategy lists no device: give at least one")]
    NoDevices {
        /// `MultiDevice` or `DDP`.
        strategy: &'static str,
    },
    /// DDP on a backend without collective operations.
    #[error(
        "DDP needs collective operations (an all-reduce of the gradients), which burn 0.22.1 \
         has only on CUDA and on remote devices of one server; device {index} is {device}, \
         where burn would panic mid-run. Use ExecutionStrategy::multi(devices, \
         MultiDeviceOptim::OptimMainDevice) (MultiDevice needs none), or DDP on CUDA devices"
    )]
    NoCollectives {
        /// The first device that has none.
        index: usize,
        /// That device, as burn names it.
        device: String,
    },
    /// DDP over remote devices of more than one server.
    #[error(
        "DDP over remote devices on different servers: burn 0.22.1's remote backend reduces \
         gradients only between devices of one server (\"cross-peer all_reduce is not supported \
         yet\"), and device {index} ({device}) is on another server than device 0 ({first}). \
         Use ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice), which \
         gathers the gradients on the first device"
    )]
    CrossServer {
        /// The first device on another server.
        index: usize,
        /// That device.
        device: String,
        /// Device 0.
        first: String,
    },
}

/// The backend of `device` in burn's own words ("Flex", "Cube(Cuda", "Remote", ...), read
/// from its `Debug` form: matching burn-dispatch's enum here would depend on which backend
/// features cargo happened to unify into the build, and miss the user's own.
fn backend_of(device: &burn::tensor::Device) -> String {
    format!("{:?}", device.clone().without_autodiff().as_dispatch())
}

/// The server part of a remote device's `Debug` form: everything but its device index.
fn server_of(device: &str) -> String {
    match device.find("device_index") {
        Some(i) => device[..i].to_string(),
        None => device.to_string(),
    }
}

/// Checks that DDP can run on `devices`: each has collective operations, and remote ones
/// are all on one server.
fn check_ddp_devices(devices: &[burn::tensor::Device]) -> Result<(), StrategyError> {
    let names: Vec<String> = devices.iter().map(backend_of).collect();
    let Some(first) = names.first() else {
        return Err(StrategyError::NoDevices { strategy: "DDP" });
    };
    for (index, name) in names.iter().enumerate() {
        let collectives = name.starts_with("Cube(Cuda") || name.starts_with("Remote");
        if !collectives {
            return Err(StrategyError::NoCollectives {
                index,
                device: name.clone(),
            });
        }
        if name.starts_with("Remote") && server_of(name) != server_of(first) {
            return Err(StrategyError::CrossServer {
                index,
                device: name.clone(),
                first: first.clone(),
            });
        }
    }
    Ok(())
}

/// burn's `ExecutionStrategy::ddp(devices, config)`, or the reason it cannot run there.
///
/// burn 0.22.1 panics where DDP has no collective operations: in `ExecutionStrategy::ddp`
/// itself on Flex, NdArray, LibTorch, the wgpu and CPU runtimes ("Distributed operations are
/// not supported for device Flex(Cpu)"), and at the first all-reduce on remote devices of
/// several servers. This refuses both first, with what works instead.
///
/// ```
/// use burn::tensor::Device;
/// use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
/// use burn::train::{ExecutionStrategy, MultiDeviceOptim};
/// use cyclr_burn::update_plan::{Strategy, check_strategy, ddp_strategy};
///
/// let d = Device::flex().autodiff();
/// let config = DistributedConfig { all_reduce_op: ReduceOperation::Mean };
/// let refused = ddp_strategy(vec![d.clone(), d.clone()], config).err().unwrap();
/// assert!(refused.to_string().contains("MultiDevice needs none"));
/// let multi = ExecutionStrategy::multi(vec![d.clone(), d], MultiDeviceOptim::OptimMainDevice);
/// assert_eq!(check_strategy(&multi).unwrap(), Strategy::MultiDevice { devices: 2 });
/// ```
pub fn ddp_strategy(
    devices: Vec<burn::tensor::Device>,
    config: burn::tensor::distributed::DistributedConfig,
) -> Result<burn::train::ExecutionStrategy, StrategyError> {
    check_ddp_devices(&devices)?;
    Ok(burn::train::ExecutionStrategy::ddp(devices, config))
}

/// Checks, before a launch, that burn-train can run `strategy` on its devices, and reads
/// its [`Strategy`]: DDP over remote devices of several servers, which burn 0.22.1 would
/// start and then panic on at the first all-reduce, is refused here (build DDP with
/// [`ddp_strategy`], which refuses the backends where burn panics at once); so is a
/// `MultiDevice` without devices. [`UpdatePlan::for_launch`] and
/// `RangeTest::run_supervised` call it.
pub fn check_strategy(
    strategy: &burn::train::ExecutionStrategy,
) -> Result<Strategy, StrategyError> {
    use burn::train::ExecutionStrategy as E;
    match strategy {
        E::SingleDevice(_) => {}
        E::MultiDevice(devices, _) if devices.is_empty() => {
            return Err(StrategyError::NoDevices {
                strategy: "MultiDevice",
            });
        }
        E::MultiDevice(..) => {}
        E::DistributedDataParallel { devices, .. } => check_ddp_devices(devices)?,
    }
    Ok(Strategy::from(strategy))
}

/// Why a plan or a schedule does not fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A size is 0.
    #[error("{what} is 0: give at least 1")]
    Zero {
        /// Which size.
        what: &'static str,
    },
    /// DDP workers would make different numbers of updates per epoch, and wait on each
    /// other forever.
    #[error(
        "DDP on {devices} devices splits {items} items into parts of {first} and {last}, which \
         make {first_updates} and {last_updates} updates per epoch: the workers would wait on \
         each other. Give a number of items that {devices} x {batch_size} divides (drop the \
         last {remainder})"
    )]
    UnevenSplit {
        /// Devices.
        devices: usize,
        /// Items per epoch.
        items: u64,
        /// Items on the first device.
        first: u64,
        /// Items on the last device.
        last: u64,
        /// Updates per epoch on the first device.
        first_updates: u64,
        /// Updates per epoch on the last device.
        last_updates: u64,
        /// Batch size per device.
        batch_size: u64,
        /// Items to drop.
        remainder: u64,
    },
    /// The schedule ends before the training does.
    #[error(
        "the schedule ends at update {length}, but this training makes {total} updates \
         ({per_epoch} per epoch x {epochs} epochs under {strategy}): it would run past its end. \
         Size it with the plan (total_steps = {total})"
    )]
    Overrun {
        /// Where the schedule ends.
        length: u64,
        /// Updates the training makes.
        total: u64,
        /// Updates per epoch.
        per_epoch: u64,
        /// Epochs.
        epochs: u64,
        /// The strategy, in words.
        strategy: String,
    },
    /// The training ends before the schedule does (1cycle's anneal would never happen).
    #[error(
        "the schedule runs to update {length}, but this training makes only {total} updates \
         ({per_epoch} per epoch x {epochs} epochs under {strategy}): it would stop before the \
         schedule ends. Size it with the plan (total_steps = {total})"
    )]
    EndsEarly {
        /// Where the schedule ends.
        length: u64,
        /// Updates the training makes.
        total: u64,
        /// Updates per epoch.
        per_epoch: u64,
        /// Epochs.
        epochs: u64,
        /// The strategy, in words.
        strategy: String,
    },
    /// The derived schedule is invalid.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// burn-train cannot run the strategy on its devices.
    #[error(transparent)]
    Strategy(#[from] StrategyError),
}

/// The sizes of a burn-train run: strategy, items per epoch, batch size per device,
/// gradient accumulation and epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UpdatePlan {
    /// How burn-train runs it.
    pub strategy: Strategy,
    /// Items (not batches) the training data loader holds.
    pub items_per_epoch: u64,
    /// Items per batch on each device.
    pub batch_size: u64,
    /// Batches (per device) accumulated into one update; 1 without accumulation.
    pub accumulation: u64,
    /// Epochs of training.
    pub epochs: u64,
}

impl UpdatePlan {
    /// A plan without gradient accumulation.
    pub fn new(strategy: Strategy, items_per_epoch: u64, batch_size: u64, epochs: u64) -> Self {
        Self {
            strategy,
            items_per_epoch,
            batch_size,
            accumulation: 1,
            epochs,
        }
    }

    /// The plan of a launch under `strategy`, after [`check_strategy`] accepted it.
    pub fn for_launch(
        strategy: &burn::train::ExecutionStrategy,
        items_per_epoch: u64,
        batch_size: u64,
        epochs: u64,
    ) -> Result<Self, PlanError> {
        Ok(Self::new(
            check_strategy(strategy)?,
            items_per_epoch,
            batch_size,
            epochs,
        ))
    }

    /// With `k` batches accumulated per update (`SupervisedTraining::grads_accumulation`).
    pub fn with_accumulation(mut self, k: u64) -> Self {
        self.accumulation = k;
        self
    }

    fn sizes(&self) -> Result<(), PlanError> {
        for (what, v) in [
            ("items per epoch", self.items_per_epoch),
            ("batch size", self.batch_size),
            ("gradient accumulation", self.accumulation),
            ("epochs", self.epochs),
            ("devices", self.strategy.devices() as u64),
        ] {
            if v == 0 {
                return Err(PlanError::Zero { what });
            }
        }
        Ok(())
    }

    /// Optimizer updates in one epoch, as burn-train 0.22 makes them: the data loader split
    /// across devices (the last device takes the remainder), one batch per device per step,
    /// `accumulation` steps per update, a partial group at the end of an epoch still
    /// updating.
    pub fn updates_per_epoch(&self) -> Result<u64, PlanError> {
        self.sizes()?;
        let (items, b, acc) = (self.items_per_epoch, self.batch_size, self.accumulation);
        let n = self.strategy.devices() as u64;
        let first = items / n;
        let last = items - (n - 1) * first;
        let batches = |size: u64| size.div_ceil(b);
        Ok(match self.strategy {
            Strategy::SingleDevice => batches(items).div_ceil(acc),
            // Steps go on while any device still yields a batch: the last one has the most.
            Strategy::MultiDevice { .. } => batches(last).div_ceil(acc),
            Strategy::Ddp { devices } => {
                let (first_updates, last_updates) =
                    (batches(first).div_ceil(acc), batches(last).div_ceil(acc));
                if first_updates != last_updates || first == 0 {
                    return Err(PlanError::UnevenSplit {
                        devices,
                        items,
                        first,
                        last,
                        first_updates,
                        last_updates,
                        batch_size: b,
                        remainder: items % (n * b),
                    });
                }
                first_updates
            }
        })
    }

    /// Updates in the whole training.
    pub fn total_updates(&self) -> Result<u64, PlanError> {
        Ok(self.updates_per_epoch()?.saturating_mul(self.epochs))
    }

    /// `epochs` of training in updates (rounded, at least 1): a stepsize, an SGDR period
    /// or a range test's length given in epochs.
    pub fn updates_in(&self, epochs: f64) -> Result<u64, PlanError> {
        let per_epoch = self.updates_per_epoch()?;
        Ok(((epochs.max(0.0) * per_epoch as f64).round() as u64).max(1))
    }

    /// The paper's stepsize advice (2-10 epochs) in this run's updates.
    pub fn stepsize_advice(&self) -> Result<StepsizeAdvice, PlanError> {
        Ok(stepsize_advice(self.updates_per_epoch()?))
    }

    /// 1cycle over the whole training (PyTorch's defaults otherwise).
    pub fn one_cycle(&self, max_lr: f64) -> Result<Schedule, PlanError> {
        Ok(ScheduleConfig::OneCycle(OneCycleConfig::new(max_lr, self.total_updates()?)).init()?)
    }

    /// A range test over `epochs` of this run's updates.
    pub fn range_test(
        &self,
        min_lr: f64,
        max_lr: f64,
        epochs: f64,
        ramp: Ramp,
    ) -> Result<RangeTestConfig, PlanError> {
        Ok(RangeTestConfig::new(
            min_lr,
            max_lr,
            self.updates_in(epochs)?.max(2),
            ramp,
        ))
    }

    /// Refuses a schedule that ends before or after this training does (1cycle, or a
    /// sequence ending in one); schedules that go on fit any length.
    pub fn check(&self, schedule: &Schedule) -> Result<(), PlanError> {
        let total = self.total_updates()?;
        let Some(length) = schedule.length() else {
            return Ok(());
        };
        let (per_epoch, epochs) = (self.updates_per_epoch()?, self.epochs);
        let strategy = self.describe();
        if length < total {
            return Err(PlanError::Overrun {
                length,
                total,
                per_epoch,
                epochs,
                strategy,
            });
        }
        if length > total {
            return Err(PlanError::EndsEarly {
                length,
                total,
                per_epoch,
                epochs,
                strategy,
            });
        }
        Ok(())
    }

    /// The strategy and sizes, in words.
    pub fn describe(&self) -> String {
        let acc = if self.accumulation > 1 {
            format!(", {} batches accumulated per update", self.accumulation)
        } else {
            String::new()
        };
        let how = match self.strategy {
            Strategy::SingleDevice => "one device".to_string(),
            Strategy::MultiDevice { devices } => format!("MultiDevice on {devices} devices"),
            Strategy::Ddp { devices } => format!("DDP on {devices} devices"),
        };
        format!("{how}, batches of {}{acc}", self.batch_size)
    }
}
