//! The ramp: how the learning rate rises over a range test, and its settings.

use serde::{Deserialize, Serialize};

use crate::error::Num;

/// The longest ramp a range test records (each point is kept in memory and in the CSV).
pub const MAX_ITERATIONS: u64 = 10_000_000;

/// How the learning rate rises from `min_lr` to `max_lr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ramp {
    /// Straight line: the paper's ramp.
    Linear,
    /// Geometric: fastai's and torch-lr-finder's, spanning decades evenly.
    Exponential,
}

/// Which curve the paper's accuracy rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccuracyCurve {
    /// Held-out accuracy when it was measured at 8 points or more (it says what the rate
    /// does to the model, not to one batch), else the training batches' accuracy, else the
    /// held-out loss.
    #[default]
    Auto,
    /// The training batches' accuracy.
    Training,
    /// Held-out accuracy, or held-out loss where no accuracy was measured.
    HeldOut,
}

impl AccuracyCurve {
    /// The name in settings and on the command line: `auto`, `training` or `held_out`.
    pub fn name(self) -> &'static str {
        match self {
            AccuracyCurve::Auto => "auto",
            AccuracyCurve::Training => "training",
            AccuracyCurve::HeldOut => "held_out",
        }
    }
}

/// The parameters of a range test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeTestConfig {
    /// The learning rate of the first iteration, 0 or more (above 0 for an exponential ramp).
    pub min_lr: f64,
    /// The learning rate of the last iteration, above `min_lr`.
    pub max_lr: f64,
    /// Number of iterations of the ramp (the half cycle); the last one runs at `max_lr`.
    pub iterations: u64,
    /// How the rate rises from `min_lr` to `max_lr`.
    pub ramp: Ramp,
    /// EMA factor of the smoothing (fastai: 0.98), with bias correction.
    pub smoothing: f64,
    /// Stop when the smoothed loss exceeds this multiple of its best (fastai: 4).
    pub diverge_factor: f64,
    /// Which curve the paper's accuracy rule reads.
    #[serde(default)]
    pub curve: AccuracyCurve,
}

impl RangeTestConfig {
    /// A ramp from `min_lr` to `max_lr` over `iterations`, with fastai's smoothing (0.98)
    /// and divergence factor (4).
    pub fn new(min_lr: f64, max_lr: f64, iterations: u64, ramp: Ramp) -> Self {
        Self {
            min_lr,
            max_lr,
            iterations,
            ramp,
            smoothing: 0.98,
            diverge_factor: 4.0,
            curve: AccuracyCurve::Auto,
        }
    }

    /// Checks the parameters; the error names the parameter and what to change.
    pub fn validate(&self) -> Result<(), RangeTestConfigError> {
        use RangeTestConfigError as E;
        for (name, value) in [("min_lr", self.min_lr), ("max_lr", self.max_lr)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(E::BadRate { name, value });
            }
        }
        if self.max_lr <= self.min_lr {
            return Err(E::MaxNotAboveMin {
                min_lr: self.min_lr,
                max_lr: self.max_lr,
            });
        }
        if self.ramp == Ramp::Exponential && self.min_lr <= 0.0 {
            return Err(E::ExponentialFromZero);
        }
        if self.ramp == Ramp::Exponential && !(self.max_lr / self.min_lr).is_finite() {
            return Err(E::ExponentialSpan {
                min_lr: self.min_lr,
                max_lr: self.max_lr,
            });
        }
        if self.iterations > MAX_ITERATIONS {
            return Err(E::TooManyIterations {
                iterations: self.iterations,
            });
        }
        if self.iterations < 2 {
            return Err(E::TooFewIterations {
                iterations: self.iterations,
            });
        }
        if !(self.smoothing.is_finite() && (0.0..1.0).contains(&self.smoothing)) {
            return Err(E::Smoothing {
                value: self.smoothing,
            });
        }
        if !(self.diverge_factor.is_finite() && self.diverge_factor > 1.0) {
            return Err(E::DivergeFactor {
                value: self.diverge_factor,
            });
        }
        Ok(())
    }

    /// The learning rate of iteration `i`: `min_lr` at 0, `max_lr` at `iterations - 1`
    /// (torch-lr-finder's ramp).
    pub fn lr(&self, i: u64) -> f64 {
        let t = if self.iterations < 2 {
            1.0
        } else {
            i.min(self.iterations - 1) as f64 / (self.iterations - 1) as f64
        };
        match self.ramp {
            Ramp::Linear => self.min_lr + (self.max_lr - self.min_lr) * t,
            Ramp::Exponential => self.min_lr * (self.max_lr / self.min_lr).powf(t),
        }
    }
}

/// The ramp as a schedule: a range test can be driven by anything that takes an
/// [`LrSchedule`](crate::LrSchedule), burn's `Learner` included. The exponential ramp is
/// `min_lr * q^step` with `q > 1`, which no decaying policy can express.
impl crate::schedule::LrSchedule for RangeTestConfig {
    fn lr(&self, step: u64) -> f64 {
        RangeTestConfig::lr(self, step)
    }
}

/// Why a range test's settings were rejected. Parameters are named as in
/// [`RangeTestConfig`] (`min_lr`, `max_lr`, `iterations`, ...); a front-end that calls them
/// otherwise (a command line's flags) renders the message with
/// [`describe`](Self::describe).
#[derive(Debug, Clone, PartialEq)]
pub enum RangeTestConfigError {
    /// A rate is negative, NaN or infinite.
    BadRate {
        /// `min_lr` or `max_lr`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The ramp does not rise.
    MaxNotAboveMin {
        /// The first rate given.
        min_lr: f64,
        /// The last rate given.
        max_lr: f64,
    },
    /// An exponential ramp from 0.
    ExponentialFromZero,
    /// An exponential ramp whose ratio overflows.
    ExponentialSpan {
        /// The first rate given.
        min_lr: f64,
        /// The last rate given.
        max_lr: f64,
    },
    /// Fewer than two iterations.
    TooFewIterations {
        /// The iterations given.
        iterations: u64,
    },
    /// More iterations than a range test can record.
    TooManyIterations {
        /// The iterations given.
        iterations: u64,
    },
    /// The smoothing factor is outside [0, 1).
    Smoothing {
        /// The value given.
        value: f64,
    },
    /// The divergence factor is not above 1.
    DivergeFactor {
        /// The value given.
        value: f64,
    },
}

impl RangeTestConfigError {
    /// The message, with each parameter called what `name` calls it.
    pub fn describe(&self, name: &dyn Fn(&str) -> String) -> String {
        use RangeTestConfigError as E;
        let (min, max) = (name("min_lr"), name("max_lr"));
        match self {
            E::BadRate { name: n, value } => {
                format!(
                    "{} is {}, but it must be a finite number >= 0",
                    name(n),
                    Num(*value)
                )
            }
            E::MaxNotAboveMin { min_lr, max_lr } => format!(
                "{max} ({}) must be above {min} ({}): the range test raises the \
                 rate from one to the other",
                Num(*max_lr),
                Num(*min_lr)
            ),
            E::ExponentialFromZero => {
                format!("an exponential ramp cannot start at 0: give {min} above 0 (e.g. 1e-7)")
            }
            E::ExponentialSpan { min_lr, max_lr } => format!(
                "an exponential ramp from {min} {} to {max} {} spans more than a \
                 float can hold: give a larger {min} (e.g. 1e-7)",
                Num(*min_lr),
                Num(*max_lr)
            ),
            E::TooFewIterations { iterations } => format!(
                "{} is {iterations}: give at least 2 iterations for the ramp (100 or more \
                 for a curve worth reading)",
                name("iterations")
            ),
            E::TooManyIterations { iterations } => format!(
                "{} is {iterations}: give at most {MAX_ITERATIONS} (a range test keeps every \
                 point; a few thousand read well)",
                name("iterations")
            ),
            E::Smoothing { value } => {
                format!(
                    "{} is {}, but it must be in [0, 1)",
                    name("smoothing"),
                    Num(*value)
                )
            }
            E::DivergeFactor { value } => {
                format!(
                    "{} is {}, but it must be above 1",
                    name("diverge_factor"),
                    Num(*value)
                )
            }
        }
    }
}

impl std::fmt::Display for RangeTestConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(&|n| n.to_string()))
    }
}

impl std::error::Error for RangeTestConfigError {}
