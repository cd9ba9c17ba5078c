//! Helpers shared by cyclr-cifar's integration tests.
#![allow(dead_code)]

mod cifar_archive;

pub use cifar_archive::cifar_archive;
