//! # cyclr-cifar: the CIFAR-10 experiment
//!
//! The application behind the `cyclr` command: CIFAR-10 data and download, the seed's
//! reference CNN, a fused CPU engine for it, the trainer with checkpoints and exact
//! resumption, the range test on CIFAR-10 (through `cyclr-burn`'s one driver), the
//! whole recreation with its report, and the benchmark.
//!
//! A burn user who brings their own model needs `cyclr-burn`, not this crate.

#![warn(missing_docs)]

pub use cyclr;
pub use cyclr_burn;

pub mod adapter;
pub mod backend;
pub mod bench;
pub mod charts;
pub mod data;
pub mod download;
pub mod engine;
pub mod environment;
pub mod error;
pub mod folder_lock;
pub mod fused;
pub mod io;
pub mod measure;
pub mod model;
pub mod observer;
pub mod range_test;
pub mod recreate;
pub mod run_dir;
pub mod run_record;
pub mod settings;
pub mod train;
