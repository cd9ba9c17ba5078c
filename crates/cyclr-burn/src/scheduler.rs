//! Any cyclr schedule as a burn [`LrScheduler`], so it drops into burn's own training loop
//! (`Learner::new(model, optim, scheduler)`).

use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use cyclr::{LrSchedule, Schedule};

use crate::optim::MomentumHandle;

/// A cyclr schedule driving burn. Each `step()` returns the rate for the next optimizer
/// update, from update 0 on, and (when attached) sets the optimizer's momentum from the
/// schedule.
///
/// Generic over any [`LrSchedule`]: the config [`Schedule`] (the default), a
/// [`Join`](cyclr::Join) of schedules, a range test's ramp, or a user's own, as long as it
/// can be cloned and shared between threads as burn requires.
///
/// Its record holds just the step, because the schedule is a pure function of it: a burn
/// checkpoint restores the position exactly.
#[derive(Clone)]
pub struct CyclrScheduler<S = Schedule> {
    schedule: S,
    next_step: u64,
    momentum: Option<MomentumHandle>,
}

impl<S: LrSchedule> CyclrScheduler<S> {
    /// Starts `schedule` at step 0.
    pub fn new(schedule: S) -> Self {
        Self {
            schedule,
            next_step: 0,
            momentum: None,
        }
    }

    /// Also set momentum (Adam's beta1) from the schedule at every step, when it cycles it.
    pub fn with_momentum(mut self, handle: MomentumHandle) -> Self {
        self.momentum = Some(handle);
        self
    }

    /// Start from `step` (the number of updates already made).
    pub fn at_step(mut self, step: u64) -> Self {
        self.next_step = step;
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
}

const STEP_KEY: &str = "next_step";

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
        self.schedule.lr(step)
    }

    fn to_record(&self) -> LrSchedulerRecord {
        LrSchedulerRecord::new().with_scalar(STEP_KEY, self.next_step)
    }

    fn load_record(&mut self, record: LrSchedulerRecord) {
        if let Some(step) = record.scalar::<u64>(STEP_KEY) {
            self.next_step = step;
        }
    }
}
