//! A straight line from `start_lr` to `end_lr` over `steps`, then held: warm-up, or the
//! paper's range-test ramp.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, rate, steps};
use crate::schedule::LrSchedule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearConfig {
    pub start_lr: f64,
    pub end_lr: f64,
    pub steps: u64,
}

impl LinearConfig {
    pub fn new(start_lr: f64, end_lr: f64, steps: u64) -> Self {
        Self {
            start_lr,
            end_lr,
            steps,
        }
    }

    pub fn init(self) -> Result<Linear, ScheduleError> {
        rate("start_lr", self.start_lr)?;
        rate("end_lr", self.end_lr)?;
        steps("steps", self.steps)?;
        Ok(Linear { config: self })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Linear {
    config: LinearConfig,
}

impl Linear {
    pub fn config(&self) -> &LinearConfig {
        &self.config
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
