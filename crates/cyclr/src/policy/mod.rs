//! One file per policy, and the table that registers them. Each file has a `...Config`
//! (plain, serializable parameters with PyTorch's names) whose `init()` validates and builds
//! the schedule, which implements [`LrSchedule`](crate::LrSchedule) and
//! [`PolicySchedule`](crate::registry::PolicySchedule). The table below generates
//! [`Policy`], [`ScheduleConfig`] and [`Schedule`] (see [`crate::registry`]).

pub mod cyclic;
pub mod decay;
pub mod exp;
pub mod fixed;
pub mod join;
pub mod linear;
pub mod one_cycle;
pub mod sequence;
pub mod sgdr;
pub mod step_decay;

use self::cyclic::{Cyclic, CyclicConfig, CyclicMode};
use self::decay::{Decay, DecayConfig};
use self::exp::{Exp, ExpConfig};
use self::fixed::{Fixed, FixedConfig};
use self::linear::{Linear, LinearConfig};
use self::one_cycle::{OneCycle, OneCycleConfig};
use self::sequence::{Sequence, SequenceConfig};
use self::sgdr::{Sgdr, SgdrConfig};
use self::step_decay::{StepDecay, StepDecayConfig};

// The policy table: one row per policy (name, aliases, config, schedule, how to build it, a
// typical config). Everything else about a policy is generated from it.
crate::registry::policies! {
    /// Smith's triangular policy: base to max learning rate and back, every cycle alike.
    Triangular = "triangular" (): CyclicConfig => Cyclic,
        init: |c| c.init(CyclicMode::Triangular),
        example: CyclicConfig::new(0.001, 0.006, 100);
    /// Triangular with the amplitude halved every cycle.
    Triangular2 = "triangular2" (): CyclicConfig => Cyclic,
        init: |c| c.init(CyclicMode::Triangular2),
        example: CyclicConfig::new(0.001, 0.006, 100);
    /// Triangular with the amplitude scaled by `gamma^step`; needs `gamma`.
    ExpRange = "exp_range" ("exp-range"): CyclicConfig => Cyclic,
        init: |c| c.init(CyclicMode::ExpRange),
        example: CyclicConfig::new(0.001, 0.006, 100).with_gamma(0.999);
    /// 1cycle (PyTorch's `OneCycleLR`).
    OneCycle = "one_cycle" ("one-cycle"): OneCycleConfig => OneCycle,
        init: OneCycleConfig::init,
        example: OneCycleConfig::new(0.01, 1000).with_momentum(0.85, 0.95);
    /// SGDR: cosine annealing with warm restarts.
    Sgdr = "sgdr" (): SgdrConfig => Sgdr,
        init: SgdrConfig::init,
        example: SgdrConfig::new(0.1, 100).with_t_mult(2).with_min_lr(0.001);
    /// One learning rate throughout: the paper's baseline.
    Fixed = "fixed" (): FixedConfig => Fixed,
        init: FixedConfig::init,
        example: FixedConfig::new(0.001);
    /// The paper's `decay`: linear from max to base learning rate, then fixed.
    Decay = "decay" (): DecayConfig => Decay,
        init: DecayConfig::init,
        example: DecayConfig::new(0.001, 0.006, 200);
    /// The paper's `exp`: `base_lr * gamma^step`.
    Exp = "exp" (): ExpConfig => Exp,
        init: ExpConfig::init,
        example: ExpConfig::new(0.006, 0.999);
    /// Step decay (PyTorch's `StepLR`).
    Step = "step" (): StepDecayConfig => StepDecay,
        init: StepDecayConfig::init,
        example: StepDecayConfig::new(0.01, 100, 0.5);
    /// A straight line from one rate to another, then held.
    Linear = "linear" (): LinearConfig => Linear,
        init: LinearConfig::init,
        example: LinearConfig::new(0.0, 0.001, 100);
    /// Schedules joined end to end at step boundaries.
    Sequence = "sequence" (): SequenceConfig => Sequence,
        init: SequenceConfig::init,
        example: SequenceConfig::warmup(
            50,
            ScheduleConfig::Triangular2(CyclicConfig::new(0.001, 0.006, 100)),
        );
}

/// `value` if finite, else the bound it overflowed past. The policies keep PyTorch's
/// float operations, so values agree to the last digit; with rates near `f64::MAX` those
/// operations can round one ulp past the top, which is infinity.
pub(crate) fn finite_within(value: f64, a: f64, b: f64) -> f64 {
    if value.is_finite() {
        value
    } else {
        value.clamp(a.min(b), a.max(b))
    }
}
