//! Runs only the fused engine's evaluation (or training with `train`), for profiling:
//! perf record target/release/examples/fused_profile [train]
use cyclr_burn::optim::OptimizerConfig;
use cyclr_cifar::data::{Split, make_batch};
use cyclr_cifar::engine::{Engine, EngineKind};

fn main() {
    let train = std::env::args().any(|a| a == "train");
    let n = 3000;
    let split = Split {
        images: (0..n * 3072).map(|i| (i * 7 % 251) as u8).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
    };
    let mut e = Engine::new(
        &OptimizerConfig::adam(),
        1,
        burn::tensor::Device::flex().autodiff(),
        EngineKind::Fused,
    );
    let t = std::time::Instant::now();
    for _ in 0..10 {
        if train {
            for k in 0..30 {
                let idx: Vec<u32> = (k * 100..(k + 1) * 100).collect();
                e.train_batch(&make_batch(&split, &idx), 1e-3);
            }
        } else {
            e.evaluate(&split, 100);
        }
    }
    println!(
        "{:.0} images/s",
        10.0 * n as f64 / t.elapsed().as_secs_f64()
    );
}
