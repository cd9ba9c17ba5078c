//! Step decay (PyTorch's `StepLR`): `base_lr * gamma^floor(step / step_size)`.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, gamma, rate, steps};
use crate::registry::{Horizon, PolicySchedule};
use crate::schedule::LrSchedule;

/// Parameters of step decay, as written in a config file (PyTorch's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDecayConfig {
    /// The learning rate of the first `step_size` steps, 0 or more.
    pub base_lr: f64,
    /// Steps between two drops, at least 1.
    #[serde(alias = "step_size_up")]
    pub step_size: u64,
    /// The factor applied at every drop, in (0, 1].
    pub gamma: f64,
}

impl StepDecayConfig {
    /// `base_lr`, multiplied by `gamma` every `step_size` steps.
    pub fn new(base_lr: f64, step_size: u64, gamma: f64) -> Self {
        Self {
            base_lr,
            step_size,
            gamma,
        }
    }

    /// Validates the parameters and builds the schedule.
    pub fn init(self) -> Result<StepDecay, ScheduleError> {
        rate("base_lr", self.base_lr)?;
        steps("step_size", self.step_size)?;
        gamma(self.gamma)?;
        Ok(StepDecay { config: self })
    }
}

/// A validated step decay schedule. Build it with [`StepDecayConfig::init`].
///
/// ```
/// use cyclr::{LrSchedule, StepDecayConfig};
///
/// // 0.1, divided by 10 every 30 steps.
/// let s = StepDecayConfig::new(0.1, 30, 0.1).init().unwrap();
/// assert_eq!(s.lr(0), 0.1);
/// assert_eq!(s.lr(29), 0.1);
/// assert!((s.lr(30) - 0.01).abs() < 1e-12);
/// assert!((s.lr(65) - 0.001).abs() < 1e-12); // two drops: 0.1 * 0.1^2
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct StepDecay {
    config: StepDecayConfig,
}

impl StepDecay {
    /// The parameters it was built from.
    pub fn config(&self) -> &StepDecayConfig {
        &self.config
    }
}

impl PolicySchedule for StepDecay {
    type Config = StepDecayConfig;
    fn config(&self) -> &StepDecayConfig {
        &self.config
    }
    /// Goes on; four decays show the shape.
    fn horizon(&self) -> Horizon {
        Horizon::open(self.config.step_size.saturating_mul(4))
    }
    /// Every rate it gives lies here.
    fn lr_range(&self) -> (f64, f64) {
        (0.0, self.config.base_lr)
    }
}

impl LrSchedule for StepDecay {
    fn lr(&self, step: u64) -> f64 {
        let c = &self.config;
        c.base_lr * c.gamma.powf((step / c.step_size) as f64)
    }
}
