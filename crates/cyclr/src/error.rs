//! Validation errors. Every message names the parameter, the bad value and what to change.

use std::fmt;

use thiserror::Error;

/// A number as a message shows it: as Rust writes it when that is short, in scientific
/// notation when its decimal would be long (`1e300`, not three hundred digits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Num(pub f64);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = self.0.to_string();
        if plain.len() > 16 {
            write!(f, "{:e}", self.0)
        } else {
            f.write_str(&plain)
        }
    }
}

/// Why a schedule's parameters were rejected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScheduleError {
    /// A parameter is NaN or infinite.
    #[error("{name} is {value_}, but it must be a finite number (for example 0.001)", value_ = Num(*.value))]
    NotFinite {
        /// The parameter, by its config name (e.g. `base_lr`).
        name: &'static str,
        /// The value given.
        value: f64,
    },

    /// A learning rate is below 0.
    #[error("{name} is {value_}, but a learning rate cannot be negative: give a value of 0 or more", value_ = Num(*.value))]
    NegativeRate {
        /// The parameter, by its config name (e.g. `max_lr`).
        name: &'static str,
        /// The value given.
        value: f64,
    },

    /// A parameter that must be above 0 is 0 or less (e.g. 1cycle's `div_factor`).
    #[error("{name} is {value_}, but it must be greater than 0", value_ = Num(*.value))]
    NotPositive {
        /// The parameter, by its config name.
        name: &'static str,
        /// The value given.
        value: f64,
    },

    /// The max learning rate is below the base learning rate.
    #[error("max_lr ({max_lr_}) is below base_lr ({base_lr_}): swap them so that base_lr <= max_lr", max_lr_ = Num(*.max_lr), base_lr_ = Num(*.base_lr))]
    MaxBelowBase {
        /// The base learning rate given.
        base_lr: f64,
        /// The max learning rate given.
        max_lr: f64,
    },

    /// SGDR's max learning rate is below its floor `min_lr`.
    #[error("max_lr ({max_lr_}) is below min_lr ({min_lr_}): swap them so that min_lr <= max_lr", max_lr_ = Num(*.max_lr), min_lr_ = Num(*.min_lr))]
    MaxBelowMin {
        /// The floor given (PyTorch's `eta_min`).
        min_lr: f64,
        /// The max learning rate given.
        max_lr: f64,
    },

    /// A number of steps (a stepsize, a cycle length, a run length) is 0.
    #[error("{name} is 0, but it must be at least 1 step")]
    ZeroSteps {
        /// The parameter, by its config name (e.g. `step_size_up`).
        name: &'static str,
    },

    /// A growth factor (SGDR's `t_mult`) is 0.
    #[error("{name} is 0, but it is a factor on the cycle length and must be at least 1")]
    ZeroFactor {
        /// The parameter, by its config name.
        name: &'static str,
    },

    /// `gamma` is outside (0, 1].
    #[error(
        "gamma is {value_}, but it must be in (0, 1] (for example 0.99994): {why}",
        value_ = Num(*.value),
        why = if *.value > 1.0 {
            "a gamma above 1 makes the rate grow without bound"
        } else {
            "a gamma of 0 or less is no decay: the amplitude vanishes or flips sign"
        }
    )]
    GammaOutOfRange {
        /// The gamma given.
        value: f64,
    },

    /// A policy that needs `gamma` (exp_range) was given none.
    #[error(
        "the {policy} policy needs gamma, the amplitude's decay per step (for example 0.99994)"
    )]
    MissingGamma {
        /// The policy's name.
        policy: &'static str,
    },

    /// 1cycle's `pct_start` is not strictly between 0 and 1.
    #[error("pct_start is {value_}, but it must lie strictly between 0 and 1 (for example 0.3)", value_ = Num(*.value))]
    PctStartOutOfRange {
        /// The pct_start given.
        value: f64,
    },

    /// 1cycle's `pct_start` is 0.5 or more with `three_phase`.
    #[error(
        "pct_start is {value_}, but with three_phase the warm-up and the way back down take \
         2 * pct_start of the run, so pct_start must be below 0.5",
        value_ = Num(*.value)
    )]
    ThreePhasePctStart {
        /// The pct_start given.
        value: f64,
    },

    /// A phase of 1cycle would span less than one step.
    #[error(
        "phase {phase} of one_cycle is shorter than one step (total_steps {total_steps}, \
         pct_start {pct_start_}): raise total_steps or move pct_start away from 0 and 1",
        pct_start_ = Num(*.pct_start)
    )]
    PhaseTooShort {
        /// The phase, 1-based (1 is the warm-up).
        phase: usize,
        /// The run length given.
        total_steps: u64,
        /// The pct_start given.
        pct_start: f64,
    },

    /// A momentum is outside [0, 1).
    #[error("{name} is {value_}, but momentum must be in [0, 1) (for example 0.85 and 0.95)", value_ = Num(*.value))]
    MomentumOutOfRange {
        /// `base_momentum` or `max_momentum`.
        name: &'static str,
        /// The value given.
        value: f64,
    },

    /// `max_momentum` is below `base_momentum`.
    #[error(
        "max_momentum ({max_momentum_}) is below base_momentum ({base_momentum_}): swap them; \
         momentum is highest where the learning rate is lowest",
        max_momentum_ = Num(*.max_momentum), base_momentum_ = Num(*.base_momentum)
    )]
    MomentumReversed {
        /// The base momentum given (used where the learning rate peaks).
        base_momentum: f64,
        /// The max momentum given (used at the base learning rate).
        max_momentum: f64,
    },

    /// Only one of `base_momentum` and `max_momentum` was given.
    #[error("only {given} was given: cyclical momentum needs both base_momentum and max_momentum")]
    MomentumHalf {
        /// The one that was given.
        given: &'static str,
    },

    /// A parameter was given to a policy that does not use it (e.g. `gamma` for triangular).
    #[error("{parameter} does not apply to the {policy} policy: remove it")]
    NotApplicable {
        /// The policy's name.
        policy: &'static str,
        /// The parameter, by its config name.
        parameter: &'static str,
    },

    /// A sequence or join was given no schedule.
    #[error("a sequence needs at least one schedule")]
    EmptySequence,

    /// A sequence does not have one boundary fewer than schedules.
    #[error(
        "a sequence of {schedules} schedules needs {expected} boundaries (one between each \
         pair), but {given} were given",
        expected = .schedules.saturating_sub(1)
    )]
    BoundaryCount {
        /// The number of schedules.
        schedules: usize,
        /// The number of boundaries given.
        given: usize,
    },

    /// A sequence boundary is 0 or not above the one before it.
    #[error(
        "sequence boundaries must be above 0 and strictly increasing, but boundary {index} is \
         {value} after {previous}"
    )]
    UnorderedBoundaries {
        /// The boundary's index, 0-based.
        index: usize,
        /// Its step.
        value: u64,
        /// The step of the boundary before it (0 for the first).
        previous: u64,
    },

    /// Some schedules of a sequence cycle momentum and others do not.
    #[error(
        "schedule {index} of the sequence {which} momentum but schedule 0 {first}: give every \
         schedule base_momentum and max_momentum, or none of them",
        which = if *.cycles { "cycles" } else { "does not cycle" },
        first = if *.cycles { "does not" } else { "does" }
    )]
    MixedMomentum {
        /// The first schedule, 0-based, that differs from schedule 0.
        index: usize,
        /// Whether that schedule cycles momentum.
        cycles: bool,
    },

    /// A schedule inside a sequence was rejected.
    #[error("schedule {index} of the sequence: {source}")]
    InSequence {
        /// The schedule's index in the sequence, 0-based.
        index: usize,
        /// Why it was rejected.
        #[source]
        source: Box<ScheduleError>,
    },
}

pub(crate) fn finite(name: &'static str, value: f64) -> Result<f64, ScheduleError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ScheduleError::NotFinite { name, value })
    }
}

/// A learning rate: finite and not negative.
pub(crate) fn rate(name: &'static str, value: f64) -> Result<f64, ScheduleError> {
    finite(name, value)?;
    if value < 0.0 {
        return Err(ScheduleError::NegativeRate { name, value });
    }
    Ok(value)
}

pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64, ScheduleError> {
    finite(name, value)?;
    if value <= 0.0 {
        return Err(ScheduleError::NotPositive { name, value });
    }
    Ok(value)
}

pub(crate) fn rate_range(base_lr: f64, max_lr: f64) -> Result<(), ScheduleError> {
    rate("base_lr", base_lr)?;
    rate("max_lr", max_lr)?;
    if max_lr < base_lr {
        return Err(ScheduleError::MaxBelowBase { base_lr, max_lr });
    }
    Ok(())
}

pub(crate) fn steps(name: &'static str, value: u64) -> Result<u64, ScheduleError> {
    if value == 0 {
        return Err(ScheduleError::ZeroSteps { name });
    }
    Ok(value)
}

pub(crate) fn gamma(value: f64) -> Result<f64, ScheduleError> {
    finite("gamma", value)?;
    if value <= 0.0 || value > 1.0 {
        return Err(ScheduleError::GammaOutOfRange { value });
    }
    Ok(value)
}
