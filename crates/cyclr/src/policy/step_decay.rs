//! Step decay (PyTorch's `StepLR`): `base_lr * gamma^floor(step / step_size)`.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, gamma, rate, steps};
use crate::schedule::LrSchedule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDecayConfig {
    pub base_lr: f64,
    pub step_size: u64,
    pub gamma: f64,
}

impl StepDecayConfig {
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Self {
        Self {
            base_lr,
            step_size,
            gamma,
        }
    }

    pub fn init(self) -> Result<StepDecay, ScheduleError> {
        rate("base_lr", self.base_lr)?;
        steps("step_size", self.step_size)?;
        gamma(self.gamma)?;
        Ok(StepDecay { config: self })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepDecay {
    config: StepDecayConfig,
}

impl StepDecay {
    pub fn config(&self) -> &StepDecayConfig {
        &self.config
    }
}

impl LrSchedule for StepDecay {
    fn lr(&self, step: u64) -> f64 {
        let c = &self.config;
        c.base_lr * c.gamma.powf((step / c.step_size) as f64)
    }
}
