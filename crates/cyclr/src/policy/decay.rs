//! The paper's `decay` comparison policy: linear from `max_lr` down to `base_lr` over one
//! stepsize, then fixed at `base_lr`.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, rate_range, steps};
use crate::registry::{Horizon, PolicySchedule};
use crate::schedule::LrSchedule;

/// Parameters of the decay policy, as written in a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecayConfig {
    /// The base learning rate: where the decay ends and stays, 0 or more.
    pub base_lr: f64,
    /// The max learning rate: where the decay starts, at least `base_lr`.
    pub max_lr: f64,
    /// Steps from max to base learning rate: the paper's stepsize, at least 1.
    #[serde(alias = "step_size_up")]
    pub step_size: u64,
}

impl DecayConfig {
    /// Linear from `max_lr` down to `base_lr` over `step_size` steps.
    pub fn new(base_lr: f64, max_lr: f64, step_size: u64) -> Self {
        Self {
            base_lr,
            max_lr,
            step_size,
        }
    }

    /// Validates the parameters and builds the schedule.
    pub fn init(self) -> Result<Decay, ScheduleError> {
        rate_range(self.base_lr, self.max_lr)?;
        steps("step_size", self.step_size)?;
        Ok(Decay { config: self })
    }
}

/// A validated decay schedule. Build it with [`DecayConfig::init`].
///
/// ```
/// use cyclr::{DecayConfig, LrSchedule};
///
/// // From max_lr 0.006 down to base_lr 0.001 over a stepsize of 2000 steps.
/// let s = DecayConfig::new(0.001, 0.006, 2000).init().unwrap();
/// assert_eq!(s.lr(0), 0.006);
/// assert!((s.lr(1000) - 0.0035).abs() < 1e-12); // half way down
/// assert!((s.lr(2000) - 0.001).abs() < 1e-12);
/// assert_eq!(s.lr(10_000), s.lr(2000)); // then fixed at base_lr
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Decay {
    config: DecayConfig,
}

impl Decay {
    /// The parameters it was built from.
    pub fn config(&self) -> &DecayConfig {
        &self.config
    }
}

impl PolicySchedule for Decay {
    type Config = DecayConfig;
    fn config(&self) -> &DecayConfig {
        &self.config
    }
    /// Goes on (holds base_lr); the decay and as long again.
    fn horizon(&self) -> Horizon {
        Horizon::open(self.config.step_size.saturating_mul(2))
    }
    /// Every rate it gives lies here.
    fn lr_range(&self) -> (f64, f64) {
        (self.config.base_lr, self.config.max_lr)
    }
}

impl LrSchedule for Decay {
    fn lr(&self, step: u64) -> f64 {
        let c = &self.config;
        let t = step.min(c.step_size) as f64 / c.step_size as f64;
        c.max_lr - (c.max_lr - c.base_lr) * t
    }
}
