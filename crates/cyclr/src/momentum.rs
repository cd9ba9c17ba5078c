//! Cyclical momentum: momentum (or Adam's beta1) moving opposite to the learning rate.

use serde::{Deserialize, Serialize};

use crate::error::{ScheduleError, finite};

/// The two ends between which momentum cycles. Momentum sits at `max_momentum` where the
/// learning rate is at its base and at `base_momentum` where the learning rate peaks
/// (PyTorch's `cycle_momentum`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MomentumRange {
    /// Momentum where the learning rate peaks, in [0, 1) (PyTorch default 0.85).
    pub base_momentum: f64,
    /// Momentum at the base learning rate, in [base_momentum, 1) (PyTorch default 0.95).
    pub max_momentum: f64,
}

impl MomentumRange {
    /// PyTorch's defaults for `CyclicLR` and `OneCycleLR`: 0.85 and 0.95.
    pub const PYTORCH_DEFAULT: MomentumRange = MomentumRange {
        base_momentum: 0.85,
        max_momentum: 0.95,
    };

    /// Checks that both ends are in [0, 1) and that `base_momentum <= max_momentum`.
    pub fn new(base_momentum: f64, max_momentum: f64) -> Result<Self, ScheduleError> {
        for (name, value) in [
            ("base_momentum", base_momentum),
            ("max_momentum", max_momentum),
        ] {
            finite(name, value)?;
            if !(0.0..1.0).contains(&value) {
                return Err(ScheduleError::MomentumOutOfRange { name, value });
            }
        }
        if max_momentum < base_momentum {
            return Err(ScheduleError::MomentumReversed {
                base_momentum,
                max_momentum,
            });
        }
        Ok(Self {
            base_momentum,
            max_momentum,
        })
    }

    /// Builds the range from the optional pair of config fields: both or neither.
    pub(crate) fn from_options(
        base_momentum: Option<f64>,
        max_momentum: Option<f64>,
    ) -> Result<Option<Self>, ScheduleError> {
        match (base_momentum, max_momentum) {
            (None, None) => Ok(None),
            (Some(b), Some(m)) => Self::new(b, m).map(Some),
            (Some(_), None) => Err(ScheduleError::MomentumHalf {
                given: "base_momentum",
            }),
            (None, Some(_)) => Err(ScheduleError::MomentumHalf {
                given: "max_momentum",
            }),
        }
    }
}
