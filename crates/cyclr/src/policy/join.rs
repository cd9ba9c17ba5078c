//! Any schedules joined end to end at step boundaries, as optax's `join_schedules` does:
//! each schedule sees steps counted from its own start. Unlike [`Sequence`](super::sequence::Sequence),
//! which is plain config, a [`Join`] takes any [`LrSchedule`], including a user's own.

use crate::error::ScheduleError;
use crate::schedule::LrSchedule;

/// Schedules joined at `boundaries`: schedule `i` runs from `boundaries[i - 1]` (0 for the
/// first) and sees its own steps from 0.
///
/// ```
/// use cyclr::{Join, LrSchedule, Schedule};
///
/// // A user's own schedule: a constant warm-up rate.
/// struct Warmup;
/// impl LrSchedule for Warmup {
///     fn lr(&self, _step: u64) -> f64 { 1e-4 }
/// }
/// let schedules: Vec<Box<dyn LrSchedule>> =
///     vec![Box::new(Warmup), Box::new(Schedule::triangular(0.001, 0.006, 100).unwrap())];
/// let joined = Join::new(schedules, vec![50]).unwrap();
/// assert_eq!(joined.lr(49), 1e-4);
/// assert_eq!(joined.lr(50), 0.001); // the triangular schedule's step 0
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Join<S> {
    boundaries: Vec<u64>,
    schedules: Vec<S>,
}

impl<S: LrSchedule> Join<S> {
    /// Joins `schedules` at `boundaries`, which must be one fewer, above 0 and strictly
    /// increasing.
    pub fn new(schedules: Vec<S>, boundaries: Vec<u64>) -> Result<Self, ScheduleError> {
        if schedules.is_empty() {
            return Err(ScheduleError::EmptySequence);
        }
        if boundaries.len() + 1 != schedules.len() {
            return Err(ScheduleError::BoundaryCount {
                schedules: schedules.len(),
                given: boundaries.len(),
            });
        }
        let mut previous = 0;
        for (index, &value) in boundaries.iter().enumerate() {
            if value <= previous {
                return Err(ScheduleError::UnorderedBoundaries {
                    index,
                    value,
                    previous,
                });
            }
            previous = value;
        }
        Ok(Self {
            boundaries,
            schedules,
        })
    }

    /// The joined schedules, in order.
    pub fn schedules(&self) -> &[S] {
        &self.schedules
    }

    /// The steps at which each next schedule takes over.
    pub fn boundaries(&self) -> &[u64] {
        &self.boundaries
    }

    /// The schedule that owns `step`, and the step in its own count.
    fn locate(&self, step: u64) -> (&S, u64) {
        let i = self.boundaries.partition_point(|&b| b <= step);
        let start = if i == 0 { 0 } else { self.boundaries[i - 1] };
        (&self.schedules[i], step - start)
    }
}

impl<S: LrSchedule> LrSchedule for Join<S> {
    fn lr(&self, step: u64) -> f64 {
        let (s, local) = self.locate(step);
        s.lr(local)
    }

    fn momentum(&self, step: u64) -> Option<f64> {
        let (s, local) = self.locate(step);
        s.momentum(local)
    }
}
