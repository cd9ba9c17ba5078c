//! 1cycle (Smith 2018, arXiv 1803.09820), as PyTorch's `OneCycleLR`: warm up from
//! `max_lr / div_factor` to `max_lr`, anneal down to `initial / final_div_factor`, with
//! momentum moving the other way.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, finite, positive, rate, steps};
use crate::momentum::MomentumRange;
use crate::registry::{Horizon, PolicySchedule};
use crate::schedule::LrSchedule;

/// How 1cycle moves between the two ends of a phase (PyTorch's `anneal_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnealStrategy {
    /// Half a cosine: slow at both ends (PyTorch's default).
    Cos,
    /// A straight line.
    Linear,
}

/// Parameters of a 1cycle schedule, as written in a config file (PyTorch's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneCycleConfig {
    /// The peak learning rate, reached at the end of the warm-up.
    pub max_lr: f64,
    /// Steps in the whole run, at least 1; past it the rate holds its final value.
    pub total_steps: u64,
    /// Fraction of the run spent warming up, in (0, 1); below 0.5 with `three_phase`
    /// (default 0.3).
    #[serde(default = "defaults::pct_start")]
    pub pct_start: f64,
    /// How each phase moves between its ends (default cos).
    #[serde(default = "defaults::anneal_strategy")]
    pub anneal_strategy: AnnealStrategy,
    /// The initial learning rate is `max_lr / div_factor`; above 0 (default 25).
    #[serde(default = "defaults::div_factor")]
    pub div_factor: f64,
    /// The final learning rate is `max_lr / div_factor / final_div_factor`; above 0
    /// (default 1e4).
    #[serde(default = "defaults::final_div_factor")]
    pub final_div_factor: f64,
    /// Come back down to the initial rate as fast as the warm-up went up, then anneal to the
    /// final rate in a third phase (default false: two phases).
    #[serde(default)]
    pub three_phase: bool,
    /// Momentum at the peak learning rate, in [0, 1); set with `max_momentum` to cycle
    /// momentum (PyTorch's `cycle_momentum`, 0.85 by default there; off here unless set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_momentum: Option<f64>,
    /// Momentum at the start and the end of the run, in [base_momentum, 1) (PyTorch: 0.95).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_momentum: Option<f64>,
}

mod defaults {
    use super::AnnealStrategy;
    pub fn pct_start() -> f64 {
        0.3
    }
    pub fn anneal_strategy() -> AnnealStrategy {
        AnnealStrategy::Cos
    }
    pub fn div_factor() -> f64 {
        25.0
    }
    pub fn final_div_factor() -> f64 {
        1e4
    }
}

impl OneCycleConfig {
    /// PyTorch's defaults: pct_start 0.3, cos, div_factor 25, final_div_factor 1e4, two
    /// phases, no momentum (add it with [`with_momentum`](Self::with_momentum)).
    pub fn new(max_lr: f64, total_steps: u64) -> Self {
        Self {
            max_lr,
            total_steps,
            pct_start: defaults::pct_start(),
            anneal_strategy: defaults::anneal_strategy(),
            div_factor: defaults::div_factor(),
            final_div_factor: defaults::final_div_factor(),
            three_phase: false,
            base_momentum: None,
            max_momentum: None,
        }
    }

    /// Cycles momentum from `max_momentum` down to `base_momentum` at the peak and back.
    pub fn with_momentum(mut self, base_momentum: f64, max_momentum: f64) -> Self {
        self.base_momentum = Some(base_momentum);
        self.max_momentum = Some(max_momentum);
        self
    }

    /// Validates the parameters and builds the schedule.
    pub fn init(self) -> Result<OneCycle, ScheduleError> {
        rate("max_lr", self.max_lr)?;
        steps("total_steps", self.total_steps)?;
        positive("div_factor", self.div_factor)?;
        positive("final_div_factor", self.final_div_factor)?;
        let pct = self.pct_start;
        if !(pct.is_finite() && pct > 0.0 && pct < 1.0) {
            return Err(ScheduleError::PctStartOutOfRange { value: pct });
        }
        if self.three_phase && pct >= 0.5 {
            return Err(ScheduleError::ThreePhasePctStart { value: pct });
        }
        let momentum = MomentumRange::from_options(self.base_momentum, self.max_momentum)?;

        let initial_lr = self.max_lr / self.div_factor;
        let min_lr = initial_lr / self.final_div_factor;
        // Each factor can be fine alone and still overflow together.
        finite("initial rate max_lr / div_factor", initial_lr)?;
        finite("final rate max_lr / div_factor / final_div_factor", min_lr)?;
        let total = self.total_steps as f64;
        let (hi_m, lo_m) = momentum
            .map(|m| (m.max_momentum, m.base_momentum))
            .unwrap_or((0.0, 0.0));
        let phases = if self.three_phase {
            vec![
                Segment::new(pct * total - 1.0, initial_lr, self.max_lr, hi_m, lo_m),
                Segment::new(2.0 * pct * total - 2.0, self.max_lr, initial_lr, lo_m, hi_m),
                Segment::new(total - 1.0, initial_lr, min_lr, hi_m, hi_m),
            ]
        } else {
            vec![
                Segment::new(pct * total - 1.0, initial_lr, self.max_lr, hi_m, lo_m),
                Segment::new(total - 1.0, self.max_lr, min_lr, lo_m, hi_m),
            ]
        };
        // Each phase must span at least a step, or its interpolation divides by ~0.
        let mut start = 0.0;
        for (i, p) in phases.iter().enumerate() {
            if p.end_step - start < 1.0 {
                return Err(ScheduleError::PhaseTooShort {
                    phase: i + 1,
                    total_steps: self.total_steps,
                    pct_start: pct,
                });
            }
            start = p.end_step;
        }
        Ok(OneCycle {
            phases,
            momentum,
            config: self,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Segment {
    end_step: f64,
    start_lr: f64,
    end_lr: f64,
    start_momentum: f64,
    end_momentum: f64,
}

impl Segment {
    fn new(end_step: f64, start_lr: f64, end_lr: f64, start_m: f64, end_m: f64) -> Self {
        Self {
            end_step,
            start_lr,
            end_lr,
            start_momentum: start_m,
            end_momentum: end_m,
        }
    }
}

/// A validated 1cycle schedule. Past `total_steps` it holds its final rate (PyTorch raises).
///
/// ```
/// use cyclr::{LrSchedule, OneCycleConfig};
///
/// // max_lr 0.01 over 1000 steps with PyTorch's defaults: warm-up over 30% of the run.
/// let s = OneCycleConfig::new(0.01, 1000).init().unwrap();
/// let initial = 0.01 / 25.0; // max_lr / div_factor
/// let last = initial / 1e4; // initial / final_div_factor
/// assert!((s.lr(0) - initial).abs() < 1e-12);
/// assert!((s.lr(299) - 0.01).abs() < 1e-12); // the peak, at pct_start * total_steps - 1
/// assert!((s.lr(649) - (0.01 + last) / 2.0).abs() < 1e-12); // half way down the cosine
/// assert!((s.lr(999) - last).abs() < 1e-12);
/// assert_eq!(s.lr(5000), s.lr(999)); // past total_steps the final rate holds
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OneCycle {
    phases: Vec<Segment>,
    momentum: Option<MomentumRange>,
    config: OneCycleConfig,
}

impl OneCycle {
    /// The parameters it was built from.
    pub fn config(&self) -> &OneCycleConfig {
        &self.config
    }

    fn anneal(&self, start: f64, end: f64, pct: f64) -> f64 {
        let value = match self.config.anneal_strategy {
            AnnealStrategy::Cos => {
                let cos_out = (std::f64::consts::PI * pct).cos() + 1.0;
                end + (start - end) / 2.0 * cos_out
            }
            AnnealStrategy::Linear => (end - start) * pct + start,
        };
        super::finite_within(value, start, end)
    }

    /// The phase a step falls in and how far through it, as PyTorch's `get_lr` loop.
    fn locate(&self, step: u64) -> (&Segment, f64) {
        let step = step.min(self.config.total_steps - 1) as f64;
        let mut start_step = 0.0;
        let last = self.phases.len() - 1;
        for (i, phase) in self.phases.iter().enumerate() {
            if step <= phase.end_step || i == last {
                return (phase, (step - start_step) / (phase.end_step - start_step));
            }
            start_step = phase.end_step;
        }
        unreachable!("the last phase always matches")
    }
}

impl PolicySchedule for OneCycle {
    type Config = OneCycleConfig;
    fn config(&self) -> &OneCycleConfig {
        &self.config
    }
    /// Over at `total_steps`; past it the rate holds.
    fn horizon(&self) -> Horizon {
        Horizon::ends_at(self.config.total_steps)
    }
    /// Every rate it gives lies here.
    fn lr_range(&self) -> (f64, f64) {
        let c = &self.config;
        (c.max_lr / c.div_factor / c.final_div_factor, c.max_lr)
    }
}

impl LrSchedule for OneCycle {
    fn lr(&self, step: u64) -> f64 {
        let (p, pct) = self.locate(step);
        self.anneal(p.start_lr, p.end_lr, pct)
    }

    fn momentum(&self, step: u64) -> Option<f64> {
        self.momentum?;
        let (p, pct) = self.locate(step);
        Some(self.anneal(p.start_momentum, p.end_momentum, pct))
    }
}
