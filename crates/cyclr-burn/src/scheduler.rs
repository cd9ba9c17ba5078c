//! Any cyclr schedule as a burn [`LrScheduler`], so it drops into burn's own training loop
//! (`Learner::new(model, optim, scheduler)`).

use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use cyclr::{LrSchedule, Schedule};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::optim::MomentumHandle;

/// A cyclr schedule driving burn. Each `step()` returns the rate for the next optimizer
/// update, from update 0 on, and sets the optimizer's momentum from the schedule when the
/// schedule cycles it.
///
/// Generic over any [`LrSchedule`]: the config [`Schedule`] (the default), a
/// [`Join`](cyclr::Join) of schedules, a range test's ramp, or a user's own, as long as it
/// can be cloned and shared between threads as burn requires.
///
/// Its record holds just the step, because the schedule is a pure function of it: a burn
/// checkpoint restores the position exactly.
///
/// ```
/// use cyclr::{CyclicConfig, ScheduleConfig};
/// use cyclr_burn::optim::OptimizerConfig;
/// use cyclr_burn::scheduler::{CyclrScheduler, SchedulerError};
///
/// let cycling = ScheduleConfig::Triangular(
///     CyclicConfig::new(0.001, 0.006, 100).with_momentum(0.85, 0.95),
/// )
/// .init()
/// .unwrap();
/// // A schedule that cycles momentum needs the optimizer's handle...
/// assert!(matches!(
///     CyclrScheduler::new(cycling.clone()),
///     Err(SchedulerError::MomentumNotAttached)
/// ));
/// let (optim, momentum) = OptimizerConfig::sgd().init();
/// let scheduler = CyclrScheduler::with_momentum(cycling, momentum);
/// // ...and how many updates it made can be read after burn consumed it.
/// let updates = scheduler.update_count();
/// assert_eq!(updates.get(), 0);
/// # let _ = optim;
/// ```
#[derive(Clone)]
pub struct CyclrScheduler<S = Schedule> {
    schedule: S,
    next_step: u64,
    momentum: Option<MomentumHandle>,
    ignore_momentum: bool,
    updates: UpdateCount,
}

/// Why a [`CyclrScheduler`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchedulerError {
    /// The schedule cycles momentum but no optimizer's momentum was attached, so it would
    /// silently stay fixed.
    #[error(
        "the schedule cycles momentum (base_momentum / max_momentum) but no optimizer momentum \
         is attached: build the scheduler with CyclrScheduler::with_momentum(schedule, handle) \
         using the handle of cyclr_burn's OptimizerConfig::init, or with \
         CyclrScheduler::ignoring_momentum(schedule) to keep the optimizer's momentum fixed"
    )]
    MomentumNotAttached,
}

/// The number of optimizer updates a [`CyclrScheduler`] (and every clone of it) has made,
/// readable after burn's `launch` has consumed the learner.
#[derive(Debug, Clone, Default)]
pub struct UpdateCount(Arc<AtomicU64>);

impl UpdateCount {
    /// Updates made so far: the furthest step any clone reached (under DDP every worker's
    /// clone makes the same updates, so they are not added up).
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn reach(&self, step: u64) {
        self.0.fetch_max(step, Ordering::Relaxed);
    }
}

impl<S: LrSchedule> CyclrScheduler<S> {
    fn build(schedule: S, momentum: Option<MomentumHandle>, ignore_momentum: bool) -> Self {
        Self {
            schedule,
            next_step: 0,
            momentum,
            ignore_momentum,
            updates: UpdateCount::default(),
        }
    }

    /// Starts `schedule` at step 0, setting the learning rate only. A schedule that cycles
    /// momentum is refused ([`SchedulerError::MomentumNotAttached`]): use
    /// [`with_momentum`](Self::with_momentum) or [`ignoring_momentum`](Self::ignoring_momentum).
    pub fn new(schedule: S) -> Result<Self, SchedulerError> {
        if schedule.momentum(0).is_some() {
            return Err(SchedulerError::MomentumNotAttached);
        }
        Ok(Self::build(schedule, None, false))
    }

    /// Starts `schedule` at step 0, also setting momentum (Adam's beta1) through `handle`
    /// at every step when the schedule cycles it.
    pub fn with_momentum(schedule: S, handle: MomentumHandle) -> Self {
        Self::build(schedule, Some(handle), false)
    }

    /// Starts `schedule` at step 0, setting the learning rate only, on purpose: the
    /// schedule's momentum, if it cycles one, is not applied (burn's own optimizers).
    pub fn ignoring_momentum(schedule: S) -> Self {
        Self::build(schedule, None, true)
    }

    /// Start from `step` (the number of updates already made).
    pub fn at_step(mut self, step: u64) -> Self {
        self.next_step = step;
        self.updates.reach(step);
        self
    }

    /// The schedule it follows.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    /// The number of `step()` calls so far: the index of the next update.
    pub fn next_step(&self) -> u64 {
        self.next_step
    }

    /// A handle that reads the number of updates made, shared with every clone (burn-train
    /// clones the scheduler into the learner): keep it before `launch`.
    pub fn update_count(&self) -> UpdateCount {
        self.updates.clone()
    }

    /// Whether momentum is set from the schedule.
    pub fn sets_momentum(&self) -> bool {
        self.momentum.is_some() && !self.ignore_momentum
    }
}

const STEP_KEY: &str = "next_step";

/// burn-train's `Learner` wraps its scheduler in a one-group `ModuleLrScheduler`, which
/// saves the scheduler's record under the group's index: its checkpointer's file holds
/// `0/next_step`.
const GROUP_PREFIX: &str = "0";

impl<S> LrScheduler for CyclrScheduler<S>
where
    S: LrSchedule + Clone + Send + Sync + 'static,
{
    fn step(&mut self) -> f64 {
        let step = self.next_step;
        if let (Some(handle), Some(m)) = (&self.momentum, self.schedule.momentum(step)) {
            handle.set(m);
        }
        self.next_step = self.next_step.saturating_add(1);
        self.updates.reach(self.next_step);
        self.schedule.lr(step)
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar(STEP_KEY, self.next_step)
    }

    /// Reads the step from its own record or from the one burn-train's checkpointer saves
    /// for a `Learner` (nested under its parameter group). A record with neither leaves the
    /// step where it was: burn's `load_record` cannot fail.
    fn load_record(&mut self, record: LrSchedulerRecord) {
        let step = record
            .scalar::<u64>(STEP_KEY)
            .or_else(|| record.record(GROUP_PREFIX).scalar::<u64>(STEP_KEY));
        if let Some(step) = step {
            self.next_step = step;
            self.updates.reach(step);
        }
    }
}
