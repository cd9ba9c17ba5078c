//! Helpers shared by cyclr-cifar's integration tests.
#![allow(dead_code)]

mod cifar_archive;

#[allow(unused_imports)] // not every test binary reads the real archive
pub use cifar_archive::cifar_archive;

/// `n` synthetic images (deterministic bytes, labels cycling through the classes): for
/// tests that need data of the right shape, not real images.
pub fn synthetic_split(n: usize, seed: usize) -> cyclr_cifar::data::Split {
    cyclr_cifar::data::Split {
        images: (0..n * 3072)
            .map(|i| ((i * 2654435761 + seed) >> 9) as u8)
            .collect(),
        labels: (0..n).map(|i| ((i + seed) % 10) as u8).collect(),
    }
}
