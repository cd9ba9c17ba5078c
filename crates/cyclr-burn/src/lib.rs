//! # cyclr-burn: cyclical learning rates in burn
//!
//! The burn side of cyclr: an adapter that makes any [`cyclr::Schedule`] a burn
//! `LrScheduler`, optimizers whose momentum can follow the schedule, CIFAR-10 data, the
//! reference CNN, a trainer with checkpoints, and the LR range test.

pub use cyclr;

pub mod io;
pub mod model;
pub mod data;
pub mod download;
pub mod optim;
pub mod scheduler;
pub mod engine;
pub mod train;
pub mod range_test;
pub mod recreate;
pub mod bench;
pub mod fused;
