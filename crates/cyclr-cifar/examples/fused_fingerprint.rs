//! A fingerprint of the fused engine's arithmetic: SHA-256 of the parameters after 12
//! training steps and of the 12 losses' bits, and the evaluation's loss bits, for Adam and
//! SGD at batch sizes 100, 37 and 5 (whole and partial groups of images), from fixed
//! weights and data. A kernel change that is meant to keep the numbers keeps every line:
//!
//! ```sh
//! cargo build --release -p cyclr-cifar --example fused_fingerprint
//! for t in 1 2; do RAYON_NUM_THREADS=$t target/release/examples/fused_fingerprint; done > after.txt
//! ```
//!
//! against the same run before the change, on the same machine (the matrix products
//! dispatch on the CPU's features, and the sums depend on the thread count, so the
//! fingerprint is not portable: it compares two builds, it is no golden value).
use cyclr_burn::optim::OptimizerConfig;
use cyclr_cifar::data::{Split, make_batch};
use cyclr_cifar::fused::FusedCnn;
use cyclr_cifar::model::ReferenceCnn;
use sha2::Digest;

fn main() {
    let n = 1200;
    let split = Split {
        images: (0..n * 3072).map(|i| ((i * 7919) % 251) as u8).collect(),
        labels: (0..n).map(|i| (i * 7 % 10) as u8).collect(),
    };
    for (opt, name) in [
        (OptimizerConfig::adam(), "adam"),
        (OptimizerConfig::sgd(), "sgd"),
    ] {
        for bs in [100usize, 37, 5] {
            let dev = burn::tensor::Device::flex();
            dev.seed(3);
            let mut e = FusedCnn::from_model(&ReferenceCnn::new(&dev), &opt);
            let mut losses = Vec::new();
            for k in 0..12 {
                let idx: Vec<u32> = ((k * bs) as u32..((k + 1) * bs) as u32).collect();
                let r = e.train_batch(
                    &make_batch(&split, &idx),
                    if name == "sgd" { 0.05 } else { 2e-3 },
                );
                losses.push(r.loss.to_bits());
            }
            let ev = e.evaluate(&split, 500);
            let bytes: Vec<u8> = e.params().iter().flat_map(|v| v.to_le_bytes()).collect();
            let h = sha2::Sha256::digest(bytes);
            println!(
                "{name} bs {bs}: params {:x} losses {:x} eval {:x}/{}",
                h,
                sha2::Sha256::digest(format!("{losses:?}")),
                ev.loss.to_bits(),
                ev.accuracy
            );
        }
    }
}
