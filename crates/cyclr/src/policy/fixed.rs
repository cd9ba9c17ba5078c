//! The paper's baseline: one learning rate throughout.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, rate};
use crate::schedule::LrSchedule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedConfig {
    pub base_lr: f64,
}

impl FixedConfig {
    pub fn new(base_lr: f64) -> Self {
        Self { base_lr }
    }

    pub fn init(self) -> Result<Fixed, ScheduleError> {
        rate("base_lr", self.base_lr)?;
        Ok(Fixed { config: self })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fixed {
    config: FixedConfig,
}

impl Fixed {
    pub fn config(&self) -> &FixedConfig {
        &self.config
    }
}

impl LrSchedule for Fixed {
    fn lr(&self, _step: u64) -> f64 {
        self.config.base_lr
    }
}
