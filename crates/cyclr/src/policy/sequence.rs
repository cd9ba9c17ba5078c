//! Schedules joined end to end at step boundaries, the way optax's `join_schedules` does:
//! each schedule sees steps counted from its own start, e.g. a linear warm-up then
//! triangular2.

use serde::{Deserialize, Serialize};

use crate::error::ScheduleError;
use crate::schedule::{LrSchedule, Schedule, ScheduleConfig};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceConfig {
    /// The steps at which the next schedule takes over; one fewer than `schedules`.
    pub boundaries: Vec<u64>,
    pub schedules: Vec<ScheduleConfig>,
}

impl SequenceConfig {
    pub fn init(self) -> Result<Sequence, ScheduleError> {
        if self.schedules.is_empty() {
            return Err(ScheduleError::EmptySequence);
        }
        if self.boundaries.len() + 1 != self.schedules.len() {
            return Err(ScheduleError::BoundaryCount {
                schedules: self.schedules.len(),
                given: self.boundaries.len(),
            });
        }
        let mut previous = 0;
        for (index, &value) in self.boundaries.iter().enumerate() {
            if value <= previous {
                return Err(ScheduleError::UnorderedBoundaries {
                    index,
                    value,
                    previous,
                });
            }
            previous = value;
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
        Ok(Sequence {
            schedules,
            config: self,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sequence {
    schedules: Vec<Schedule>,
    config: SequenceConfig,
}

impl Sequence {
    pub fn config(&self) -> &SequenceConfig {
        &self.config
    }

    pub fn schedules(&self) -> &[Schedule] {
        &self.schedules
    }

    /// The schedule that owns `step`, and the step in its own count.
    fn locate(&self, step: u64) -> (&Schedule, u64) {
        let i = self.config.boundaries.partition_point(|&b| b <= step);
        let start = if i == 0 {
            0
        } else {
            self.config.boundaries[i - 1]
        };
        (&self.schedules[i], step - start)
    }
}

impl LrSchedule for Sequence {
    fn lr(&self, step: u64) -> f64 {
        let (s, local) = self.locate(step);
        s.lr(local)
    }

    fn momentum(&self, step: u64) -> Option<f64> {
        let (s, local) = self.locate(step);
        s.momentum(local)
    }
}
