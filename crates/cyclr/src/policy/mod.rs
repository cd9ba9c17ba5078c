//! One file per policy. Each has a `...Config` (plain, serializable parameters with
//! PyTorch's names) whose `init()` validates and builds the schedule.

pub mod cyclic;
pub mod decay;
pub mod exp;
pub mod fixed;
pub mod linear;
pub mod one_cycle;
pub mod sequence;
pub mod sgdr;
pub mod step_decay;
