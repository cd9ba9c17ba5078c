//! Smith's cyclical policies: triangular, triangular2 and exp_range (arXiv 1506.01186),
//! with PyTorch `CyclicLR`'s generalisations: a different step size for the way down,
//! the amplitude scaled per cycle or per iteration, and cyclical momentum.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, gamma, rate_range, steps};
use crate::momentum::MomentumRange;
use crate::registry::{Horizon, PolicySchedule};
use crate::schedule::{LrSchedule, Policy};

/// How the amplitude `max_lr - base_lr` shrinks over training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CyclicMode {
    /// Constant amplitude: `scale = 1`.
    Triangular,
    /// The amplitude halves every cycle: `scale = 1 / 2^(cycle - 1)`.
    Triangular2,
    /// The amplitude decays as `gamma^x`, `x` the global step (PyTorch, the original Keras code).
    ExpRange,
}

impl CyclicMode {
    /// Every mode.
    pub const ALL: [CyclicMode; 3] = [
        CyclicMode::Triangular,
        CyclicMode::Triangular2,
        CyclicMode::ExpRange,
    ];

    /// The policy name in config files: `triangular`, `triangular2` or `exp_range`.
    pub fn name(self) -> &'static str {
        Policy::from(self).name()
    }

    /// What the amplitude scale is a function of, unless the config says otherwise.
    pub fn default_scale_mode(self) -> ScaleMode {
        match self {
            CyclicMode::Triangular | CyclicMode::Triangular2 => ScaleMode::Cycle,
            CyclicMode::ExpRange => ScaleMode::Iterations,
        }
    }
}

impl From<CyclicMode> for Policy {
    fn from(mode: CyclicMode) -> Self {
        match mode {
            CyclicMode::Triangular => Policy::Triangular,
            CyclicMode::Triangular2 => Policy::Triangular2,
            CyclicMode::ExpRange => Policy::ExpRange,
        }
    }
}

impl crate::ScheduleConfig {
    /// The config of a cyclical policy in `mode`.
    pub fn cyclic(mode: CyclicMode, config: CyclicConfig) -> Self {
        match mode {
            CyclicMode::Triangular => crate::ScheduleConfig::Triangular(config),
            CyclicMode::Triangular2 => crate::ScheduleConfig::Triangular2(config),
            CyclicMode::ExpRange => crate::ScheduleConfig::ExpRange(config),
        }
    }
}

/// Whether the amplitude scale is evaluated on the cycle number (1-based) or on the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleMode {
    /// The scale is a function of the cycle number, 1 in the first cycle.
    Cycle,
    /// The scale is a function of the global step, 0 at the first step.
    Iterations,
}

/// Parameters of a cyclical schedule, as written in a config file (PyTorch's names).
/// The mode (triangular, triangular2, exp_range) is the schedule's `policy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CyclicConfig {
    /// The base learning rate: the low end of every cycle, 0 or more.
    pub base_lr: f64,
    /// The max learning rate: the peak of the first cycle, at least `base_lr`.
    pub max_lr: f64,
    /// Steps from base to max: the paper's stepsize (half a cycle).
    pub step_size_up: u64,
    /// Steps from max back to base; `step_size_up` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_size_down: Option<u64>,
    /// exp_range's decay per step; only for exp_range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// Overrides what the amplitude scale is evaluated on (the mode's default otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_mode: Option<ScaleMode>,
    /// Momentum where the learning rate peaks, in [0, 1); set with `max_momentum` to cycle
    /// momentum (PyTorch's `cycle_momentum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_momentum: Option<f64>,
    /// Momentum at the base learning rate, in [base_momentum, 1); set with `base_momentum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_momentum: Option<f64>,
}

impl CyclicConfig {
    /// A symmetric cycle: `step_size_up` steps up, as many down; no gamma, no momentum.
    pub fn new(base_lr: f64, max_lr: f64, step_size_up: u64) -> Self {
        Self {
            base_lr,
            max_lr,
            step_size_up,
            step_size_down: None,
            gamma: None,
            scale_mode: None,
            base_momentum: None,
            max_momentum: None,
        }
    }

    /// Sets the steps from max back to base learning rate (an asymmetric cycle).
    pub fn with_step_size_down(mut self, step_size_down: u64) -> Self {
        self.step_size_down = Some(step_size_down);
        self
    }

    /// Sets exp_range's decay per step, in (0, 1].
    pub fn with_gamma(mut self, gamma: f64) -> Self {
        self.gamma = Some(gamma);
        self
    }

    /// Sets what the amplitude scale is evaluated on, instead of the mode's default.
    pub fn with_scale_mode(mut self, scale_mode: ScaleMode) -> Self {
        self.scale_mode = Some(scale_mode);
        self
    }

    /// Cycles momentum between `base_momentum` (at the max learning rate) and
    /// `max_momentum` (at the base learning rate).
    pub fn with_momentum(mut self, base_momentum: f64, max_momentum: f64) -> Self {
        self.base_momentum = Some(base_momentum);
        self.max_momentum = Some(max_momentum);
        self
    }

    /// Validates the parameters and builds the schedule.
    pub fn init(self, mode: CyclicMode) -> Result<Cyclic, ScheduleError> {
        rate_range(self.base_lr, self.max_lr)?;
        steps("step_size_up", self.step_size_up)?;
        if let Some(down) = self.step_size_down {
            steps("step_size_down", down)?;
        }
        let gamma = match (mode, self.gamma) {
            (CyclicMode::ExpRange, Some(g)) => gamma(g)?,
            (CyclicMode::ExpRange, None) => {
                return Err(ScheduleError::MissingGamma {
                    policy: "exp_range",
                });
            }
            (_, Some(_)) => {
                return Err(ScheduleError::NotApplicable {
                    policy: mode.name(),
                    parameter: "gamma",
                });
            }
            (_, None) => 1.0,
        };
        let momentum = MomentumRange::from_options(self.base_momentum, self.max_momentum)?;
        Ok(Cyclic {
            mode,
            scale_mode: self.scale_mode.unwrap_or(mode.default_scale_mode()),
            gamma,
            step_size_up: self.step_size_up,
            step_size_down: self.step_size_down.unwrap_or(self.step_size_up),
            momentum,
            config: self,
        })
    }
}

/// A validated cyclical schedule. Build it with [`CyclicConfig::init`].
///
/// ```
/// use cyclr::{CyclicConfig, CyclicMode, LrSchedule};
///
/// // base_lr 0.001, max_lr 0.006, stepsize 2000: a cycle is 4000 steps.
/// let s = CyclicConfig::new(0.001, 0.006, 2000)
///     .init(CyclicMode::Triangular)
///     .unwrap();
/// assert_eq!(s.lr(0), 0.001); // the base learning rate
/// assert!((s.lr(1000) - 0.0035).abs() < 1e-12); // half way up
/// assert!((s.lr(2000) - 0.006).abs() < 1e-12); // the max learning rate, one stepsize in
/// assert!((s.lr(3000) - 0.0035).abs() < 1e-12); // half way down
/// assert_eq!(s.lr(4000), 0.001); // cycle 2 starts at the base again
/// assert!((s.lr(5000) - 0.0035).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Cyclic {
    mode: CyclicMode,
    scale_mode: ScaleMode,
    gamma: f64,
    step_size_up: u64,
    step_size_down: u64,
    momentum: Option<MomentumRange>,
    config: CyclicConfig,
}

/// Where in its cycle a step falls.
struct Phase {
    /// 1-based cycle number.
    cycle: f64,
    /// 0 at base, 1 at the peak.
    height: f64,
}

impl Cyclic {
    /// Triangular, triangular2 or exp_range.
    pub fn mode(&self) -> CyclicMode {
        self.mode
    }

    /// The parameters it was built from.
    pub fn config(&self) -> &CyclicConfig {
        &self.config
    }

    /// Same schedule with a user-defined amplitude scale. The result cannot be serialized:
    /// a closure is not configuration (this is what breaks pickling of PyTorch's `scale_fn`).
    pub fn with_scale_fn<F: Fn(f64) -> f64>(
        self,
        scale_fn: F,
        scale_mode: ScaleMode,
    ) -> CustomCyclic<F> {
        CustomCyclic {
            inner: Cyclic { scale_mode, ..self },
            scale_fn,
        }
    }

    // PyTorch's CyclicLR.get_lr finds the position in the cycle with floats
    // (`1 + it/total - floor(1 + it/total)`), which drifts by ~1e-11 relative after a few
    // hundred thousand steps and breaks exact periodicity. Integer division and remainder
    // place every step exactly; values still match PyTorch's goldens to 1e-9 relative.
    fn phase(&self, step: u64) -> Phase {
        let (up, down) = (self.step_size_up as u128, self.step_size_down as u128);
        // u128: up + down and the cycle count cannot overflow for any u64 inputs.
        let total = up + down;
        let (cycle, pos) = ((step as u128) / total + 1, (step as u128) % total);
        let height = if pos <= up {
            pos as f64 / up as f64
        } else {
            (total - pos) as f64 / down as f64
        };
        Phase {
            cycle: cycle as f64,
            height,
        }
    }

    fn scale_arg(&self, step: u64, phase: &Phase) -> f64 {
        match self.scale_mode {
            ScaleMode::Cycle => phase.cycle,
            ScaleMode::Iterations => step as f64,
        }
    }

    fn builtin_scale(&self, x: f64) -> f64 {
        match self.mode {
            CyclicMode::Triangular => 1.0,
            CyclicMode::Triangular2 => 1.0 / 2f64.powf(x - 1.0),
            CyclicMode::ExpRange => self.gamma.powf(x),
        }
    }

    fn lr_scaled(&self, step: u64, scale: impl Fn(f64) -> f64) -> (f64, Option<f64>) {
        let phase = self.phase(step);
        let s = scale(self.scale_arg(step, &phase));
        let c = &self.config;
        let lr = c.base_lr + (c.max_lr - c.base_lr) * phase.height * s;
        // Only the built-in scales are bounded by 1; a custom scale_fn may overflow on purpose.
        let lr = if s <= 1.0 {
            super::finite_within(lr, c.base_lr, c.max_lr)
        } else {
            lr
        };
        let momentum = self
            .momentum
            .map(|m| m.max_momentum - (m.max_momentum - m.base_momentum) * phase.height * s);
        (lr, momentum)
    }
}

impl LrSchedule for Cyclic {
    fn lr(&self, step: u64) -> f64 {
        self.lr_scaled(step, |x| self.builtin_scale(x)).0
    }

    fn momentum(&self, step: u64) -> Option<f64> {
        self.momentum?;
        self.lr_scaled(step, |x| self.builtin_scale(x)).1
    }
}

impl PolicySchedule for Cyclic {
    type Config = CyclicConfig;
    fn config(&self) -> &CyclicConfig {
        &self.config
    }
    /// Three cycles show the shape; a cyclical schedule goes on.
    fn horizon(&self) -> Horizon {
        Horizon::open(
            self.step_size_up
                .saturating_add(self.step_size_down)
                .saturating_mul(3),
        )
    }
    /// Every rate it gives lies here.
    fn lr_range(&self) -> (f64, f64) {
        (self.config.base_lr, self.config.max_lr)
    }
}

/// A cyclical schedule whose amplitude follows a user closure; see [`Cyclic::with_scale_fn`].
/// Not serializable, on purpose: save the [`CyclicConfig`] and rebuild the closure in code.
pub struct CustomCyclic<F> {
    inner: Cyclic,
    scale_fn: F,
}

impl<F: Fn(f64) -> f64> LrSchedule for CustomCyclic<F> {
    fn lr(&self, step: u64) -> f64 {
        self.inner.lr_scaled(step, &self.scale_fn).0
    }

    fn momentum(&self, step: u64) -> Option<f64> {
        self.inner.momentum?;
        self.inner.lr_scaled(step, &self.scale_fn).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_formula_for_symmetric_triangular() {
        let s = CyclicConfig::new(0.001, 0.006, 2000)
            .init(CyclicMode::Triangular)
            .unwrap();
        for it in (0..20_000u64).step_by(7) {
            let cycle = (1.0 + it as f64 / 4000.0).floor();
            let x = (it as f64 / 2000.0 - 2.0 * cycle + 1.0).abs();
            let expected = 0.001 + 0.005 * (1.0 - x).max(0.0);
            assert!((s.lr(it) - expected).abs() <= 1e-15, "step {it}");
        }
    }

    #[test]
    fn triangular2_halves_amplitude_each_cycle() {
        let s = CyclicConfig::new(0.0, 1.0, 10)
            .init(CyclicMode::Triangular2)
            .unwrap();
        assert_eq!(s.lr(10), 1.0);
        assert_eq!(s.lr(30), 0.5);
        assert_eq!(s.lr(50), 0.25);
    }

    #[test]
    fn custom_scale_fn_reproduces_builtin() {
        let c = CyclicConfig::new(0.001, 0.006, 100).with_gamma(0.999);
        let builtin = c.clone().init(CyclicMode::ExpRange).unwrap();
        let custom = c
            .init(CyclicMode::ExpRange)
            .unwrap()
            .with_scale_fn(|x| 0.999f64.powf(x), ScaleMode::Iterations);
        for step in 0..1000 {
            assert_eq!(builtin.lr(step), custom.lr(step));
        }
    }

    #[test]
    fn gamma_only_for_exp_range() {
        let err = CyclicConfig::new(0.1, 0.2, 10)
            .with_gamma(0.9)
            .init(CyclicMode::Triangular)
            .unwrap_err();
        assert!(err.to_string().contains("gamma does not apply"), "{err}");
        let err = CyclicConfig::new(0.1, 0.2, 10)
            .init(CyclicMode::ExpRange)
            .unwrap_err();
        assert!(err.to_string().contains("needs gamma"), "{err}");
    }
}
