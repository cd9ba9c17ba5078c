//! SGDR: cosine annealing with warm restarts (Loshchilov & Hutter, arXiv 1608.03983), as
//! PyTorch's `CosineAnnealingWarmRestarts` stepped once per batch.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, rate, steps};
use crate::schedule::LrSchedule;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdrConfig {
    /// The rate at the start of every restart (PyTorch: the optimizer's initial lr).
    pub max_lr: f64,
    /// Steps in the first cycle.
    pub t0: u64,
    /// Each cycle is `t_mult` times longer than the one before.
    #[serde(default = "one")]
    pub t_mult: u64,
    /// The floor the cosine anneals towards (PyTorch's `eta_min`).
    #[serde(default)]
    pub min_lr: f64,
}

fn one() -> u64 {
    1
}

impl SgdrConfig {
    pub fn new(max_lr: f64, t0: u64) -> Self {
        Self {
            max_lr,
            t0,
            t_mult: 1,
            min_lr: 0.0,
        }
    }

    pub fn with_t_mult(mut self, t_mult: u64) -> Self {
        self.t_mult = t_mult;
        self
    }

    pub fn with_min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    pub fn init(self) -> Result<Sgdr, ScheduleError> {
        rate("min_lr", self.min_lr)?;
        rate("max_lr", self.max_lr)?;
        if self.max_lr < self.min_lr {
            return Err(ScheduleError::MaxBelowMin {
                min_lr: self.min_lr,
                max_lr: self.max_lr,
            });
        }
        steps("t0", self.t0)?;
        steps("t_mult", self.t_mult)?;
        Ok(Sgdr { config: self })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sgdr {
    config: SgdrConfig,
}

impl Sgdr {
    pub fn config(&self) -> &SgdrConfig {
        &self.config
    }

    /// (steps since the last restart, length of the current cycle).
    pub fn position(&self, step: u64) -> (u64, u64) {
        let SgdrConfig { t0, t_mult, .. } = self.config;
        if t_mult == 1 {
            return (step % t0, t0);
        }
        // Cycle lengths grow geometrically, so this loop runs O(log step) times.
        let (mut start, mut len) = (0u64, t0);
        loop {
            match start.checked_add(len) {
                Some(end) if step >= end => {
                    start = end;
                    len = len.saturating_mul(t_mult);
                }
                _ => return (step - start, len),
            }
        }
    }
}

impl LrSchedule for Sgdr {
    fn lr(&self, step: u64) -> f64 {
        let (t_cur, t_i) = self.position(step);
        let SgdrConfig { max_lr, min_lr, .. } = self.config;
        let cos_out = 1.0 + (std::f64::consts::PI * t_cur as f64 / t_i as f64).cos();
        let lr = min_lr + (max_lr - min_lr) * cos_out / 2.0;
        if lr.is_finite() {
            return lr;
        }
        // (max - min) * 2 overflows for max_lr near f64::MAX: halve first.
        let lr = min_lr + (max_lr - min_lr) / 2.0 * cos_out;
        super::finite_within(lr, min_lr, max_lr)
    }
}
