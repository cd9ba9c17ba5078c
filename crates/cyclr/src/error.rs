//! Validation errors. Every message names the parameter, the bad value and what to change.

use thiserror::Error;

/// Why a schedule's parameters were rejected.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ScheduleError {
    #[error("{name} is {value}, but it must be a finite number (for example 0.001)")]
    NotFinite { name: &'static str, value: f64 },

    #[error("{name} is {value}, but a learning rate cannot be negative: give a value of 0 or more")]
    NegativeRate { name: &'static str, value: f64 },

    #[error("{name} is {value}, but it must be greater than 0")]
    NotPositive { name: &'static str, value: f64 },

    #[error("max_lr ({max_lr}) is below base_lr ({base_lr}): swap them so that base_lr <= max_lr")]
    MaxBelowBase { base_lr: f64, max_lr: f64 },

    #[error("max_lr ({max_lr}) is below min_lr ({min_lr}): swap them so that min_lr <= max_lr")]
    MaxBelowMin { min_lr: f64, max_lr: f64 },

    #[error("{name} is 0, but it must be at least 1 step")]
    ZeroSteps { name: &'static str },

    #[error(
        "gamma is {value}, but it must be in (0, 1] (for example 0.99994): \
         a gamma above 1 makes the rate grow without bound"
    )]
    GammaOutOfRange { value: f64 },

    #[error("the {policy} policy needs gamma (for example --gamma 0.99994)")]
    MissingGamma { policy: &'static str },

    #[error("pct_start is {value}, but it must lie strictly between 0 and 1 (for example 0.3)")]
    PctStartOutOfRange { value: f64 },

    #[error(
        "pct_start is {value}, but with three_phase the warm-up and the way back down take \
         2 * pct_start of the run, so pct_start must be below 0.5"
    )]
    ThreePhasePctStart { value: f64 },

    #[error(
        "phase {phase} of one_cycle is shorter than one step (total_steps {total_steps}, \
         pct_start {pct_start}): raise total_steps or move pct_start away from 0 and 1"
    )]
    PhaseTooShort {
        phase: usize,
        total_steps: u64,
        pct_start: f64,
    },

    #[error("{name} is {value}, but momentum must be in [0, 1) (for example 0.85 and 0.95)")]
    MomentumOutOfRange { name: &'static str, value: f64 },

    #[error(
        "max_momentum ({max_momentum}) is below base_momentum ({base_momentum}): swap them; \
         momentum is highest where the learning rate is lowest"
    )]
    MomentumReversed {
        base_momentum: f64,
        max_momentum: f64,
    },

    #[error("only {given} was given: cyclical momentum needs both base_momentum and max_momentum")]
    MomentumHalf { given: &'static str },

    #[error("{parameter} does not apply to the {policy} policy: remove it")]
    NotApplicable {
        policy: &'static str,
        parameter: &'static str,
    },

    #[error("a sequence needs at least one schedule")]
    EmptySequence,

    #[error(
        "a sequence of {schedules} schedules needs {expected} boundaries (one between each \
         pair), but {given} were given",
        expected = .schedules.saturating_sub(1)
    )]
    BoundaryCount { schedules: usize, given: usize },

    #[error(
        "sequence boundaries must be above 0 and strictly increasing, but boundary {index} is \
         {value} after {previous}"
    )]
    UnorderedBoundaries {
        index: usize,
        value: u64,
        previous: u64,
    },

    #[error(
        "schedule {index} of the sequence {which} momentum but schedule 0 {first}: give every \
         schedule base_momentum and max_momentum, or none of them",
        which = if *.cycles { "cycles" } else { "does not cycle" },
        first = if *.cycles { "does not" } else { "does" }
    )]
    MixedMomentum { index: usize, cycles: bool },

    #[error("schedule {index} of the sequence: {source}")]
    InSequence {
        index: usize,
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
