//! Schedules joined end to end at step boundaries, the way optax's `join_schedules` does:
//! each schedule sees steps counted from its own start, e.g. a linear warm-up then
//! triangular2.

use serde::{Deserialize, Serialize};

use crate::error::ScheduleError;
use crate::policy::join::Join;
use crate::policy::linear::LinearConfig;
use crate::registry::{Horizon, PolicySchedule};
use crate::schedule::{LrSchedule, Schedule, ScheduleConfig};

/// Plain parameters of a [`Sequence`]: config schedules and the steps where each next one
/// takes over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceConfig {
    /// The steps at which the next schedule takes over; one fewer than `schedules`.
    pub boundaries: Vec<u64>,
    /// The schedules, in order.
    pub schedules: Vec<ScheduleConfig>,
}

impl SequenceConfig {
    /// A linear warm-up from 0 to `then`'s first learning rate over `warmup_steps`, then
    /// `then` from its own step 0: a warm-up written as a join of existing schedules, the
    /// way optax writes `warmup_cosine_decay_schedule`. `init` validates both (an invalid
    /// `then` is reported as schedule 1 of the sequence).
    ///
    /// ```
    /// use cyclr::{CyclicConfig, LrSchedule, ScheduleConfig, SequenceConfig};
    ///
    /// let tri = ScheduleConfig::Triangular(CyclicConfig::new(0.001, 0.006, 100));
    /// let s = SequenceConfig::warmup(50, tri).init().unwrap();
    /// assert_eq!(s.lr(0), 0.0);
    /// assert!((s.lr(25) - 0.0005).abs() < 1e-15);
    /// assert_eq!(s.lr(50), 0.001); // triangular's step 0
    /// ```
    pub fn warmup(warmup_steps: u64, then: ScheduleConfig) -> Self {
        // An invalid `then` fails init as schedule 1; the ramp's target does not matter then.
        let target = then.clone().init().map_or(0.0, |s| s.lr(0));
        SequenceConfig {
            boundaries: vec![warmup_steps],
            schedules: vec![
                ScheduleConfig::Linear(LinearConfig::new(0.0, target, warmup_steps)),
                then,
            ],
        }
    }

    /// Validates the boundaries and every schedule, and builds the sequence.
    pub fn init(self) -> Result<Sequence, ScheduleError> {
        if self.schedules.is_empty() {
            return Err(ScheduleError::EmptySequence);
        }
        let schedules = self
            .schedules
            .iter()
            .enumerate()
            .map(|(index, c)| {
                Schedule::try_from(c.clone()).map_err(|e| ScheduleError::InSequence {
                    index,
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // A trainer sets momentum from the schedule only when it cycles: a sequence that
        // cycles it for part of the run would leave it stuck at an arbitrary value.
        let first = schedules[0].cycles_momentum();
        if let Some(index) = schedules.iter().position(|s| s.cycles_momentum() != first) {
            return Err(ScheduleError::MixedMomentum {
                index,
                cycles: !first,
            });
        }
        let join = Join::new(schedules, self.boundaries.clone())?;
        Ok(Sequence { join, config: self })
    }
}

/// A validated [`SequenceConfig`]: config schedules joined at step boundaries.
///
/// ```
/// use cyclr::{CyclicConfig, LinearConfig, LrSchedule, ScheduleConfig, SequenceConfig};
///
/// // A linear warm-up to the base learning rate over 100 steps, then triangular2.
/// let s = SequenceConfig {
///     boundaries: vec![100],
///     schedules: vec![
///         ScheduleConfig::Linear(LinearConfig::new(0.0, 0.001, 100)),
///         ScheduleConfig::Triangular2(CyclicConfig::new(0.001, 0.006, 2000)),
///     ],
/// }
/// .init()
/// .unwrap();
/// assert!((s.lr(50) - 0.0005).abs() < 1e-12); // half way through the warm-up
/// assert_eq!(s.lr(100), 0.001); // the cyclical schedule's step 0: base_lr
/// assert!((s.lr(2100) - 0.006).abs() < 1e-12); // its first peak, one stepsize later
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    join: Join<Schedule>,
    config: SequenceConfig,
}

impl Sequence {
    /// The parameters it was built from.
    pub fn config(&self) -> &SequenceConfig {
        &self.config
    }

    /// The joined schedules, in order.
    pub fn schedules(&self) -> &[Schedule] {
        self.join.schedules()
    }
}

impl PolicySchedule for Sequence {
    type Config = SequenceConfig;
    fn config(&self) -> &SequenceConfig {
        &self.config
    }
    /// Ends when its last schedule ends; twice its last boundary shows the joins.
    fn horizon(&self) -> Horizon {
        let start = self.config.boundaries.last().copied();
        let end = match (self.schedules().last().and_then(|s| s.horizon().end), start) {
            (Some(last), start) => Some(start.unwrap_or(0).saturating_add(last)),
            (None, _) => None,
        };
        Horizon {
            end,
            span: start.map_or(10_000, |b| b.saturating_mul(2)),
        }
    }
    /// Every rate it gives lies here.
    fn lr_range(&self) -> (f64, f64) {
        self.schedules()
            .iter()
            .map(Schedule::lr_range)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (a, b)| {
                (lo.min(a), hi.max(b))
            })
    }
}

impl LrSchedule for Sequence {
    fn lr(&self, step: u64) -> f64 {
        self.join.lr(step)
    }

    fn momentum(&self, step: u64) -> Option<f64> {
        self.join.momentum(step)
    }
}
