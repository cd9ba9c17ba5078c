//! A straight line from `start_lr` to `end_lr` over `steps`, then held: warm-up, or the
//! paper's range-test ramp.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, rate, steps};
use crate::registry::{Horizon, PolicySchedule};
use crate::schedule::LrSchedule;

/// Parameters of a linear schedule, as written in a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearConfig {
    /// The learning rate at step 0, 0 or more.
    pub start_lr: f64,
    /// The learning rate from step `steps` on, 0 or more; above or below `start_lr`.
    pub end_lr: f64,
    /// Steps from `start_lr` to `end_lr`, at least 1.
    #[serde(alias = "total_steps")]
    pub steps: u64,
}

impl LinearConfig {
    /// A straight line from `start_lr` to `end_lr` over `steps` steps, then held.
    pub fn new(start_lr: f64, end_lr: f64, steps: u64) -> Self {
        Self {
            start_lr,
            end_lr,
            steps,
        }
    }

    /// Validates the parameters and builds the schedule.
    pub fn init(self) -> Result<Linear, ScheduleError> {
        rate("start_lr", self.start_lr)?;
        rate("end_lr", self.end_lr)?;
        steps("steps", self.steps)?;
        Ok(Linear { config: self })
    }
}

/// A validated linear schedule. Build it with [`LinearConfig::init`].
///
/// ```
/// use cyclr::{LinearConfig, LrSchedule};
///
/// // A warm-up from 0 to 0.01 over 100 steps.
/// let s = LinearConfig::new(0.0, 0.01, 100).init().unwrap();
/// assert_eq!(s.lr(0), 0.0);
/// assert!((s.lr(50) - 0.005).abs() < 1e-12);
/// assert!((s.lr(100) - 0.01).abs() < 1e-12);
/// assert_eq!(s.lr(500), s.lr(100)); // then held
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    config: LinearConfig,
}

impl Linear {
    /// The parameters it was built from.
    pub fn config(&self) -> &LinearConfig {
        &self.config
    }
}

impl PolicySchedule for Linear {
    type Config = LinearConfig;
    fn config(&self) -> &LinearConfig {
        &self.config
    }
    /// Goes on (holds end_lr); the ramp and its last value.
    fn horizon(&self) -> Horizon {
        Horizon::open(self.config.steps.saturating_add(1))
    }
    /// Every rate it gives lies here.
    fn lr_range(&self) -> (f64, f64) {
        let c = &self.config;
        (c.start_lr.min(c.end_lr), c.start_lr.max(c.end_lr))
    }
}

impl LrSchedule for Linear {
    fn lr(&self, step: u64) -> f64 {
        let c = &self.config;
        let t = step.min(c.steps) as f64 / c.steps as f64;
        let lr = c.start_lr + (c.end_lr - c.start_lr) * t;
        super::finite_within(lr, c.start_lr, c.end_lr)
    }
}
