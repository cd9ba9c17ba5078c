//! # cyclr-burn: cyclical learning rates for any burn model
//!
//! The thin integration a burn user adds to their project:
//!
//! - [`scheduler::CyclrScheduler`]: any cyclr schedule (any [`cyclr::LrSchedule`]) as
//!   burn's `LrScheduler`, so it drops into `Learner` and `SupervisedTraining`, optionally
//!   setting momentum from the schedule at every update;
//! - [`optim`]: SGD, Adam and AdamW whose momentum (beta1) can follow the schedule;
//! - [`range_test`]: the LR range test for any `TrainStep` model, batch type, optimizer
//!   and backend, restoring model and optimizer afterwards.
//!
//! ```
//! use cyclr::{CyclicConfig, LrSchedule, ScheduleConfig};
//! use cyclr_burn::{optim::OptimizerConfig, scheduler::CyclrScheduler};
//!
//! let schedule = ScheduleConfig::Triangular2(
//!     CyclicConfig::new(0.001, 0.05, 20).with_momentum(0.85, 0.95),
//! )
//! .init()
//! .unwrap();
//! let (optim, momentum) = OptimizerConfig::sgd().init();
//! let scheduler = CyclrScheduler::with_momentum(schedule, momentum);
//! // `burn::train::Learner::new(model, optim, scheduler)`
//! # let _ = (optim, scheduler);
//! ```

#![warn(missing_docs)]

pub use cyclr;

pub mod optim;
pub mod range_test;
#[cfg(feature = "remote")]
pub mod remote;
pub mod scheduler;
pub mod silent_renderer;
pub mod update_plan;

// The README's Rust blocks are compiled and run as doctests of this crate.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
