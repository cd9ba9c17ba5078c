//! # cyclr: cyclical learning rates, framework-free
//!
//! Leslie Smith's cyclical learning rates (arXiv 1506.01186) and their relatives as pure
//! functions of the training step, plus the analysis of an LR range test. No ML framework
//! is needed here; `cyclr-burn` plugs these schedules into burn.
//!
//! ```
//! use cyclr::{LrSchedule, Schedule};
//!
//! let s = Schedule::triangular2(0.001, 0.006, 2000).unwrap();
//! assert_eq!(s.lr(0), 0.001);
//! assert!((s.lr(2000) - 0.006).abs() < 1e-15);
//! // Second cycle peaks at half the amplitude.
//! assert!((s.lr(6000) - 0.0035).abs() < 1e-15);
//! // A schedule is plain config: save it, load it, get the same values.
//! let json = serde_json::to_string(&s).unwrap();
//! let back: Schedule = serde_json::from_str(&json).unwrap();
//! assert_eq!(back.lr(4321), s.lr(4321));
//! ```

#![warn(missing_docs)]

pub mod atomic_write;
pub mod error;
pub mod momentum;
pub mod parameters;
#[cfg(feature = "plot")]
pub mod plot;
pub mod policy;
pub mod range_test;
pub mod registry;
pub mod schedule;

pub use error::ScheduleError;
pub use momentum::MomentumRange;
pub use parameters::{Parameter, ParameterError};
pub use policy::cyclic::{CustomCyclic, Cyclic, CyclicConfig, CyclicMode, ScaleMode};
pub use policy::decay::{Decay, DecayConfig};
pub use policy::exp::{Exp, ExpConfig};
pub use policy::fixed::{Fixed, FixedConfig};
pub use policy::join::Join;
pub use policy::linear::{Linear, LinearConfig};
pub use policy::one_cycle::{AnnealStrategy, OneCycle, OneCycleConfig};
pub use policy::sequence::{Sequence, SequenceConfig};
pub use policy::sgdr::{Sgdr, SgdrConfig};
pub use policy::step_decay::{StepDecay, StepDecayConfig};
pub use registry::{Horizon, PolicySchedule};
pub use schedule::{LrSchedule, Policy, Schedule, ScheduleConfig, UnknownPolicy};
