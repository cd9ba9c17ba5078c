//! The paper's `exp` comparison policy: `base_lr * gamma^step`.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, gamma, rate};
use crate::registry::{Horizon, PolicySchedule};
use crate::schedule::LrSchedule;

/// Parameters of the exp policy, as written in a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpConfig {
    /// The learning rate at step 0, 0 or more.
    pub base_lr: f64,
    /// The factor applied every step, in (0, 1].
    pub gamma: f64,
}

impl ExpConfig {
    /// `base_lr * gamma^step`.
    pub fn new(base_lr: f64, gamma: f64) -> Self {
        Self { base_lr, gamma }
    }

    /// Validates the parameters and builds the schedule.
    pub fn init(self) -> Result<Exp, ScheduleError> {
        rate("base_lr", self.base_lr)?;
        gamma(self.gamma)?;
        Ok(Exp { config: self })
    }
}

/// A validated exp schedule. Build it with [`ExpConfig::init`].
///
/// ```
/// use cyclr::{ExpConfig, LrSchedule};
///
/// let s = ExpConfig::new(0.01, 0.9).init().unwrap();
/// assert_eq!(s.lr(0), 0.01);
/// assert!((s.lr(2) - 0.0081).abs() < 1e-12); // 0.01 * 0.9^2
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Exp {
    config: ExpConfig,
}

impl Exp {
    /// The parameters it was built from.
    pub fn config(&self) -> &ExpConfig {
        &self.config
    }
}

impl PolicySchedule for Exp {
    type Config = ExpConfig;
    fn config(&self) -> &ExpConfig {
        &self.config
    }
    /// Goes on; a round 10,000 steps.
    fn horizon(&self) -> Horizon {
        Horizon::open(10_000)
    }
    /// Every rate it gives lies here.
    fn lr_range(&self) -> (f64, f64) {
        (0.0, self.config.base_lr)
    }
}

impl LrSchedule for Exp {
    fn lr(&self, step: u64) -> f64 {
        self.config.base_lr * self.config.gamma.powf(step as f64)
    }
}
