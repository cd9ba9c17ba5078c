//! The paper's `decay` comparison policy: linear from `max_lr` down to `base_lr` over one
//! stepsize, then fixed at `base_lr`.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, rate_range, steps};
use crate::schedule::LrSchedule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecayConfig {
    pub base_lr: f64,
    pub max_lr: f64,
    pub step_size: u64,
}

impl DecayConfig {
    pub fn new(base_lr: f64, max_lr: f64, step_size: u64) -> Self {
        Self {
            base_lr,
            max_lr,
            step_size,
        }
    }

    pub fn init(self) -> Result<Decay, ScheduleError> {
        rate_range(self.base_lr, self.max_lr)?;
        steps("step_size", self.step_size)?;
        Ok(Decay { config: self })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decay {
    config: DecayConfig,
}

impl Decay {
    pub fn config(&self) -> &DecayConfig {
        &self.config
    }
}

impl LrSchedule for Decay {
    fn lr(&self, step: u64) -> f64 {
        let c = &self.config;
        let t = step.min(c.step_size) as f64 / c.step_size as f64;
        c.max_lr - (c.max_lr - c.base_lr) * t
    }
}
