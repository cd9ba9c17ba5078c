//! The paper's `exp` comparison policy: `base_lr * gamma^step`.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, gamma, rate};
use crate::schedule::LrSchedule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpConfig {
    pub base_lr: f64,
    pub gamma: f64,
}

impl ExpConfig {
    pub fn new(base_lr: f64, gamma: f64) -> Self {
        Self { base_lr, gamma }
    }

    pub fn init(self) -> Result<Exp, ScheduleError> {
        rate("base_lr", self.base_lr)?;
        gamma(self.gamma)?;
        Ok(Exp { config: self })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exp {
    config: ExpConfig,
}

impl Exp {
    pub fn config(&self) -> &ExpConfig {
        &self.config
    }
}

impl LrSchedule for Exp {
    fn lr(&self, step: u64) -> f64 {
        self.config.base_lr * self.config.gamma.powf(step as f64)
    }
}
