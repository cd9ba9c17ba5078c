//! The paper's baseline: one learning rate throughout.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, rate};
use crate::registry::{Horizon, PolicySchedule};
use crate::schedule::LrSchedule;

/// Parameters of the fixed policy, as written in a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedConfig {
    /// The learning rate at every step, 0 or more.
    pub base_lr: f64,
}

impl FixedConfig {
    /// One learning rate, `base_lr`, throughout.
    pub fn new(base_lr: f64) -> Self {
        Self { base_lr }
    }

    /// Validates the parameters and builds the schedule.
    pub fn init(self) -> Result<Fixed, ScheduleError> {
        rate("base_lr", self.base_lr)?;
        Ok(Fixed { config: self })
    }
}

/// A validated fixed schedule. Build it with [`FixedConfig::init`].
///
/// ```
/// use cyclr::{FixedConfig, LrSchedule};
///
/// let s = FixedConfig::new(0.01).init().unwrap();
/// assert_eq!(s.lr(0), 0.01);
/// assert_eq!(s.lr(1_000_000), 0.01);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fixed {
    config: FixedConfig,
}

impl Fixed {
    /// The parameters it was built from.
    pub fn config(&self) -> &FixedConfig {
        &self.config
    }
}

impl PolicySchedule for Fixed {
    type Config = FixedConfig;
    fn config(&self) -> &FixedConfig {
        &self.config
    }
    /// Goes on; nothing to show past any step, so a round 10,000.
    fn horizon(&self) -> Horizon {
        Horizon::open(10_000)
    }
    /// Every rate it gives lies here.
    fn lr_range(&self) -> (f64, f64) {
        (self.config.base_lr, self.config.base_lr)
    }
}

impl LrSchedule for Fixed {
    fn lr(&self, _step: u64) -> f64 {
        self.config.base_lr
    }
}
