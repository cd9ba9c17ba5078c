//! The [`LrSchedule`] trait, and [`Schedule`], the serializable value for every policy
//! (generated from the policy table, see [`crate::registry`]).

use std::fmt;
use std::str::FromStr;

use crate::error::ScheduleError;
use crate::policy::cyclic::{CyclicConfig, CyclicMode};
use crate::policy::fixed::FixedConfig;

/// A learning-rate schedule: a pure function of the 0-based batch index.
///
/// Because nothing depends on call history, resuming at step `k` gives exactly the values an
/// uninterrupted run would, and a schedule is fully described by its config.
pub trait LrSchedule {
    /// The learning rate while batch `step` trains.
    fn lr(&self, step: u64) -> f64;

    /// Momentum (or Adam's beta1) while batch `step` trains, when the schedule cycles it.
    fn momentum(&self, _step: u64) -> Option<f64> {
        None
    }
}

impl<S: LrSchedule + ?Sized> LrSchedule for &S {
    fn lr(&self, step: u64) -> f64 {
        (**self).lr(step)
    }
    fn momentum(&self, step: u64) -> Option<f64> {
        (**self).momentum(step)
    }
}

impl<S: LrSchedule + ?Sized> LrSchedule for Box<S> {
    fn lr(&self, step: u64) -> f64 {
        (**self).lr(step)
    }
    fn momentum(&self, step: u64) -> Option<f64> {
        (**self).momentum(step)
    }
}

pub use crate::policy::{Policy, Schedule, ScheduleConfig};

impl Policy {
    /// The cyclical mode of triangular, triangular2 and exp_range; `None` for the others.
    pub fn cyclic_mode(self) -> Option<CyclicMode> {
        CyclicMode::ALL
            .into_iter()
            .find(|&m| Policy::from(m) == self)
    }

    /// Every policy's name, comma-separated, in the order of the table: for help texts and
    /// messages.
    pub fn names() -> String {
        Policy::ALL.map(Policy::name).join(", ")
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown policy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown policy '{0}': expected one of {names}", names = Policy::names())]
pub struct UnknownPolicy(
    /// The name as given.
    pub String,
);

impl FromStr for Policy {
    type Err = UnknownPolicy;

    /// Accepts `-` for `_` (`exp-range`, `one-cycle`) and any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('-', "_");
        Policy::ALL
            .into_iter()
            .find(|p| p.name() == wanted)
            .ok_or_else(|| UnknownPolicy(s.to_string()))
    }
}

impl Schedule {
    /// Smith's triangular policy: `base_lr` to `max_lr` and back every `2 * step_size` steps.
    pub fn triangular(base_lr: f64, max_lr: f64, step_size: u64) -> Result<Self, ScheduleError> {
        ScheduleConfig::Triangular(CyclicConfig::new(base_lr, max_lr, step_size)).init()
    }

    /// Triangular with the amplitude halved every cycle.
    pub fn triangular2(base_lr: f64, max_lr: f64, step_size: u64) -> Result<Self, ScheduleError> {
        ScheduleConfig::Triangular2(CyclicConfig::new(base_lr, max_lr, step_size)).init()
    }

    /// Triangular with the amplitude scaled by `gamma^step`.
    pub fn exp_range(
        base_lr: f64,
        max_lr: f64,
        step_size: u64,
        gamma: f64,
    ) -> Result<Self, ScheduleError> {
        ScheduleConfig::ExpRange(CyclicConfig::new(base_lr, max_lr, step_size).with_gamma(gamma))
            .init()
    }

    /// One learning rate throughout.
    pub fn fixed(base_lr: f64) -> Result<Self, ScheduleError> {
        ScheduleConfig::Fixed(FixedConfig::new(base_lr)).init()
    }

    /// The step at which the schedule is over, for those that end: 1cycle's `total_steps`
    /// (PyTorch refuses to step past it; here it holds its final rate), and a sequence whose
    /// last schedule ends. `None` for schedules that go on (cyclical, SGDR, decays).
    pub fn length(&self) -> Option<u64> {
        self.horizon().end
    }

    /// This schedule after a linear warm-up from 0 to its first rate over `warmup_steps`
    /// (see [`SequenceConfig::warmup`](crate::SequenceConfig::warmup)).
    pub fn with_warmup(self, warmup_steps: u64) -> Result<Self, ScheduleError> {
        ScheduleConfig::Sequence(crate::SequenceConfig::warmup(warmup_steps, self.config())).init()
    }

    /// Whether [`LrSchedule::momentum`] gives values, so a trainer should set momentum too.
    pub fn cycles_momentum(&self) -> bool {
        self.momentum(0).is_some()
    }
}

impl LrSchedule for Schedule {
    #[inline]
    fn lr(&self, step: u64) -> f64 {
        self.inner().lr(step)
    }

    #[inline]
    fn momentum(&self, step: u64) -> Option<f64> {
        self.inner().momentum(step)
    }
}
