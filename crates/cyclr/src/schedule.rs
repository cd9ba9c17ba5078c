//! The [`LrSchedule`] trait and [`Schedule`], the serializable value for every policy.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ScheduleError;
use crate::policy::cyclic::{Cyclic, CyclicConfig, CyclicMode};
use crate::policy::decay::{Decay, DecayConfig};
use crate::policy::exp::{Exp, ExpConfig};
use crate::policy::fixed::{Fixed, FixedConfig};
use crate::policy::linear::{Linear, LinearConfig};
use crate::policy::one_cycle::{OneCycle, OneCycleConfig};
use crate::policy::sequence::{Sequence, SequenceConfig};
use crate::policy::sgdr::{Sgdr, SgdrConfig};
use crate::policy::step_decay::{StepDecay, StepDecayConfig};

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

/// The names of the policies, as written on the command line and in config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// Smith's triangular policy: base to max learning rate and back, every cycle alike.
    Triangular,
    /// Triangular with the amplitude halved every cycle.
    Triangular2,
    /// Triangular with the amplitude scaled by `gamma^step`.
    ExpRange,
    /// 1cycle (PyTorch's `OneCycleLR`).
    OneCycle,
    /// SGDR: cosine annealing with warm restarts.
    Sgdr,
    /// One learning rate throughout: the paper's baseline.
    Fixed,
    /// The paper's `decay`: linear from max to base learning rate, then fixed.
    Decay,
    /// The paper's `exp`: `base_lr * gamma^step`.
    Exp,
    /// Step decay (PyTorch's `StepLR`).
    Step,
    /// A straight line from one rate to another, then held.
    Linear,
    /// Schedules joined end to end at step boundaries.
    Sequence,
}

impl Policy {
    /// Every policy, in the order of the enum.
    pub const ALL: [Policy; 11] = [
        Policy::Triangular,
        Policy::Triangular2,
        Policy::ExpRange,
        Policy::OneCycle,
        Policy::Sgdr,
        Policy::Fixed,
        Policy::Decay,
        Policy::Exp,
        Policy::Step,
        Policy::Linear,
        Policy::Sequence,
    ];

    /// The name in config files and on the command line, e.g. `exp_range`.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Triangular => "triangular",
            Policy::Triangular2 => "triangular2",
            Policy::ExpRange => "exp_range",
            Policy::OneCycle => "one_cycle",
            Policy::Sgdr => "sgdr",
            Policy::Fixed => "fixed",
            Policy::Decay => "decay",
            Policy::Exp => "exp",
            Policy::Step => "step",
            Policy::Linear => "linear",
            Policy::Sequence => "sequence",
        }
    }

    /// The cyclical mode of triangular, triangular2 and exp_range; `None` for the others.
    pub fn cyclic_mode(self) -> Option<CyclicMode> {
        match self {
            Policy::Triangular => Some(CyclicMode::Triangular),
            Policy::Triangular2 => Some(CyclicMode::Triangular2),
            Policy::ExpRange => Some(CyclicMode::ExpRange),
            _ => None,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown policy name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown policy '{0}': expected one of triangular, triangular2, exp_range, one_cycle, sgdr, fixed, decay, exp, step, linear, sequence"
)]
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

/// A schedule's parameters as plain data: what a config file holds. The `policy` key
/// selects the variant, e.g. in TOML
///
/// ```toml
/// policy = "triangular2"
/// base_lr = 0.001
/// max_lr = 0.006
/// step_size_up = 2000
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "snake_case")]
pub enum ScheduleConfig {
    /// `policy = "triangular"`: constant amplitude.
    Triangular(CyclicConfig),
    /// `policy = "triangular2"`: the amplitude halves every cycle.
    Triangular2(CyclicConfig),
    /// `policy = "exp_range"`: the amplitude decays as `gamma^step`; needs `gamma`.
    #[serde(alias = "exp-range")]
    ExpRange(CyclicConfig),
    /// `policy = "one_cycle"`.
    #[serde(alias = "one-cycle")]
    OneCycle(OneCycleConfig),
    /// `policy = "sgdr"`.
    Sgdr(SgdrConfig),
    /// `policy = "fixed"`.
    Fixed(FixedConfig),
    /// `policy = "decay"`.
    Decay(DecayConfig),
    /// `policy = "exp"`.
    Exp(ExpConfig),
    /// `policy = "step"`.
    Step(StepDecayConfig),
    /// `policy = "linear"`.
    Linear(LinearConfig),
    /// `policy = "sequence"`.
    Sequence(SequenceConfig),
}

impl From<CyclicMode> for Policy {
    fn from(mode: CyclicMode) -> Self {
        match mode {
            CyclicMode::Triangular => Policy::Triangular,
            CyclicMode::Triangular2 => Policy::Triangular2,
            CyclicMode::ExpRange => Policy::ExpRange,
        }
    }
}

impl ScheduleConfig {
    /// The config of a cyclical policy in `mode`.
    pub fn cyclic(mode: CyclicMode, config: CyclicConfig) -> Self {
        match mode {
            CyclicMode::Triangular => ScheduleConfig::Triangular(config),
            CyclicMode::Triangular2 => ScheduleConfig::Triangular2(config),
            CyclicMode::ExpRange => ScheduleConfig::ExpRange(config),
        }
    }

    /// The policy this config selects.
    pub fn policy(&self) -> Policy {
        match self {
            ScheduleConfig::Triangular(_) => Policy::Triangular,
            ScheduleConfig::Triangular2(_) => Policy::Triangular2,
            ScheduleConfig::ExpRange(_) => Policy::ExpRange,
            ScheduleConfig::OneCycle(_) => Policy::OneCycle,
            ScheduleConfig::Sgdr(_) => Policy::Sgdr,
            ScheduleConfig::Fixed(_) => Policy::Fixed,
            ScheduleConfig::Decay(_) => Policy::Decay,
            ScheduleConfig::Exp(_) => Policy::Exp,
            ScheduleConfig::Step(_) => Policy::Step,
            ScheduleConfig::Linear(_) => Policy::Linear,
            ScheduleConfig::Sequence(_) => Policy::Sequence,
        }
    }

    /// Validates and builds the schedule.
    pub fn init(self) -> Result<Schedule, ScheduleError> {
        Schedule::try_from(self)
    }
}

/// A validated schedule of any policy. It serializes as its [`ScheduleConfig`], and
/// deserializing validates, so a `Schedule` read from a file is always usable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ScheduleConfig", into = "ScheduleConfig")]
pub enum Schedule {
    /// Triangular, triangular2 or exp_range.
    Cyclic(Cyclic),
    /// 1cycle.
    OneCycle(OneCycle),
    /// SGDR: cosine annealing with warm restarts.
    Sgdr(Sgdr),
    /// One learning rate throughout.
    Fixed(Fixed),
    /// Linear from max to base learning rate, then fixed.
    Decay(Decay),
    /// `base_lr * gamma^step`.
    Exp(Exp),
    /// Step decay.
    Step(StepDecay),
    /// A straight line, then held.
    Linear(Linear),
    /// Schedules joined at step boundaries.
    Sequence(Sequence),
}

impl TryFrom<ScheduleConfig> for Schedule {
    type Error = ScheduleError;

    fn try_from(c: ScheduleConfig) -> Result<Self, ScheduleError> {
        Ok(match c {
            ScheduleConfig::Triangular(c) => Schedule::Cyclic(c.init(CyclicMode::Triangular)?),
            ScheduleConfig::Triangular2(c) => Schedule::Cyclic(c.init(CyclicMode::Triangular2)?),
            ScheduleConfig::ExpRange(c) => Schedule::Cyclic(c.init(CyclicMode::ExpRange)?),
            ScheduleConfig::OneCycle(c) => Schedule::OneCycle(c.init()?),
            ScheduleConfig::Sgdr(c) => Schedule::Sgdr(c.init()?),
            ScheduleConfig::Fixed(c) => Schedule::Fixed(c.init()?),
            ScheduleConfig::Decay(c) => Schedule::Decay(c.init()?),
            ScheduleConfig::Exp(c) => Schedule::Exp(c.init()?),
            ScheduleConfig::Step(c) => Schedule::Step(c.init()?),
            ScheduleConfig::Linear(c) => Schedule::Linear(c.init()?),
            ScheduleConfig::Sequence(c) => Schedule::Sequence(c.init()?),
        })
    }
}

impl From<Schedule> for ScheduleConfig {
    fn from(s: Schedule) -> Self {
        s.config()
    }
}

macro_rules! impl_from_policy {
    ($($variant:ident($ty:ty)),*) => {$(
        impl From<$ty> for Schedule {
            fn from(s: $ty) -> Self {
                Schedule::$variant(s)
            }
        }
    )*};
}
impl_from_policy!(
    Cyclic(Cyclic),
    OneCycle(OneCycle),
    Sgdr(Sgdr),
    Fixed(Fixed),
    Decay(Decay),
    Exp(Exp),
    Step(StepDecay),
    Linear(Linear),
    Sequence(Sequence)
);

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

    /// The policy of this schedule; a cyclical one reports its mode.
    pub fn policy(&self) -> Policy {
        match self {
            Schedule::Cyclic(c) => c.mode().into(),
            Schedule::OneCycle(_) => Policy::OneCycle,
            Schedule::Sgdr(_) => Policy::Sgdr,
            Schedule::Fixed(_) => Policy::Fixed,
            Schedule::Decay(_) => Policy::Decay,
            Schedule::Exp(_) => Policy::Exp,
            Schedule::Step(_) => Policy::Step,
            Schedule::Linear(_) => Policy::Linear,
            Schedule::Sequence(_) => Policy::Sequence,
        }
    }

    /// The plain parameters this schedule was built from.
    pub fn config(&self) -> ScheduleConfig {
        match self {
            Schedule::Cyclic(c) => ScheduleConfig::cyclic(c.mode(), c.config().clone()),
            Schedule::OneCycle(s) => ScheduleConfig::OneCycle(s.config().clone()),
            Schedule::Sgdr(s) => ScheduleConfig::Sgdr(s.config().clone()),
            Schedule::Fixed(s) => ScheduleConfig::Fixed(s.config().clone()),
            Schedule::Decay(s) => ScheduleConfig::Decay(s.config().clone()),
            Schedule::Exp(s) => ScheduleConfig::Exp(s.config().clone()),
            Schedule::Step(s) => ScheduleConfig::Step(s.config().clone()),
            Schedule::Linear(s) => ScheduleConfig::Linear(s.config().clone()),
            Schedule::Sequence(s) => ScheduleConfig::Sequence(s.config().clone()),
        }
    }

    /// The step at which the schedule is over, for those that end: 1cycle's `total_steps`
    /// (PyTorch refuses to step past it; here it holds its final rate), and a sequence whose
    /// last schedule ends. `None` for schedules that go on (cyclical, SGDR, decays).
    pub fn length(&self) -> Option<u64> {
        match self {
            Schedule::OneCycle(s) => Some(s.config().total_steps),
            Schedule::Sequence(s) => {
                let last = s.schedules().last()?.length()?;
                let start = s.config().boundaries.last().copied().unwrap_or(0);
                Some(start.saturating_add(last))
            }
            _ => None,
        }
    }

    /// Whether [`LrSchedule::momentum`] gives values, so a trainer should set momentum too.
    pub fn cycles_momentum(&self) -> bool {
        self.momentum(0).is_some()
    }

    fn inner(&self) -> &dyn LrSchedule {
        match self {
            Schedule::Cyclic(s) => s,
            Schedule::OneCycle(s) => s,
            Schedule::Sgdr(s) => s,
            Schedule::Fixed(s) => s,
            Schedule::Decay(s) => s,
            Schedule::Exp(s) => s,
            Schedule::Step(s) => s,
            Schedule::Linear(s) => s,
            Schedule::Sequence(s) => s,
        }
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
