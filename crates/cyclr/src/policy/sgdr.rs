//! SGDR: cosine annealing with warm restarts (Loshchilov & Hutter, arXiv 1608.03983), as
//! PyTorch's `CosineAnnealingWarmRestarts` stepped once per batch.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, rate, steps};
use crate::registry::{Horizon, PolicySchedule};
use crate::schedule::LrSchedule;

/// Parameters of an SGDR schedule, as written in a config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdrConfig {
    /// The rate at the start of every restart (PyTorch: the optimizer's initial lr).
    pub max_lr: f64,
    /// Steps in the first cycle (PyTorch's `T_0`, also accepted).
    #[serde(alias = "T_0")]
    pub t0: u64,
    /// Each cycle is `t_mult` times longer than the one before.
    #[serde(default = "one", alias = "T_mult")]
    pub t_mult: u64,
    /// The floor the cosine anneals towards (PyTorch's `eta_min`, also accepted).
    #[serde(default, alias = "eta_min")]
    pub min_lr: f64,
}

fn one() -> u64 {
    1
}

impl SgdrConfig {
    /// Restarts every `t0` steps (`t_mult` 1), annealing towards 0.
    pub fn new(max_lr: f64, t0: u64) -> Self {
        Self {
            max_lr,
            t0,
            t_mult: 1,
            min_lr: 0.0,
        }
    }

    /// Makes each cycle `t_mult` times longer than the one before (at least 1).
    pub fn with_t_mult(mut self, t_mult: u64) -> Self {
        self.t_mult = t_mult;
        self
    }

    /// Sets the floor the cosine anneals towards (PyTorch's `eta_min`).
    pub fn with_min_lr(mut self, min_lr: f64) -> Self {
        self.min_lr = min_lr;
        self
    }

    /// Validates the parameters and builds the schedule.
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
        if self.t_mult == 0 {
            return Err(ScheduleError::ZeroFactor { name: "t_mult" });
        }
        Ok(Sgdr { config: self })
    }
}

/// A validated SGDR schedule. Build it with [`SgdrConfig::init`].
///
/// ```
/// use cyclr::{LrSchedule, SgdrConfig};
///
/// // From 0.1 towards 0.001, restarting after 100 steps, then after 200 more.
/// let s = SgdrConfig::new(0.1, 100)
///     .with_t_mult(2)
///     .with_min_lr(0.001)
///     .init()
///     .unwrap();
/// assert!((s.lr(0) - 0.1).abs() < 1e-12);
/// assert!((s.lr(50) - 0.0505).abs() < 1e-12); // half way: (max + min) / 2
/// assert!((s.lr(100) - 0.1).abs() < 1e-12); // warm restart
/// assert_eq!(s.position(200), (100, 200)); // the second cycle is twice as long
/// assert!((s.lr(200) - 0.0505).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sgdr {
    config: SgdrConfig,
}

impl Sgdr {
    /// The parameters it was built from.
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

impl PolicySchedule for Sgdr {
    type Config = SgdrConfig;
    fn config(&self) -> &SgdrConfig {
        &self.config
    }
    /// Goes on; three cycles show the shape.
    fn horizon(&self) -> Horizon {
        let m = self.config.t_mult;
        // Three cycles: t0 * (1 + t_mult + t_mult^2).
        let cycles = m.saturating_mul(m).saturating_add(m).saturating_add(1);
        Horizon::open(self.config.t0.saturating_mul(cycles))
    }
    /// Every rate it gives lies here.
    fn lr_range(&self) -> (f64, f64) {
        (self.config.min_lr, self.config.max_lr)
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
