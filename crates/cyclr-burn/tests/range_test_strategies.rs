//! The range test run by burn-train under its strategies: on one device with the global
//! batch, and under `MultiDevice` on two devices with half of it on each, the curves and
//! the recommendation agree (once `MultiDevice`'s summed gradients are accounted for), and
//! the model and optimizer handed in are untouched.

#[path = "../examples/own_model.rs"]
#[allow(dead_code)]
mod own_model;

use burn::tensor::Device;
use burn::train::{ExecutionStrategy, MultiDeviceOptim};
use cyclr::range_test::{Ramp, RangeTestConfig};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_burn::range_test::{RangeTest, RangeTestOutcome};
use own_model::{RingNet, loader, rings, weights};

const POINTS: usize = 2400;

fn run(
    strategy: ExecutionStrategy,
    batch: usize,
    scale: f64,
    dir: &std::path::Path,
) -> (RangeTestOutcome, Vec<f32>, Vec<f32>) {
    let device = Device::flex().autodiff();
    device.seed(42);
    let model = RingNet::new(32, 2, &device);
    let (optim, _) = OptimizerConfig::sgd().init();
    let before = weights(&model);
    let train = loader(rings(POINTS, 1), batch, &device);
    let valid = loader(rings(100, 2), batch, &device);
    let ramp = RangeTestConfig::new(1e-3 * scale, 3.0 * scale, 120, Ramp::Exponential);
    let outcome = RangeTest::new(ramp)
        .run_supervised(&model, &optim, strategy, train, valid, dir, &mut ())
        .expect("the range test runs");
    (outcome, before, weights(&model))
}

#[test]
fn multi_device_agrees_with_one_device_on_the_global_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let d = Device::flex().autodiff();
    let (single, before, after) = run(
        ExecutionStrategy::SingleDevice(d.clone()),
        40,
        1.0,
        &tmp.path().join("one"),
    );
    assert_eq!(before, after, "the model handed in is untouched");
    // MultiDevice sums the two devices' gradients: half the rate gives the same steps.
    let multi_strategy =
        ExecutionStrategy::multi(vec![d.clone(), d], MultiDeviceOptim::OptimMainDevice);
    let (multi, before, after) = run(multi_strategy, 20, 0.5, &tmp.path().join("two"));
    assert_eq!(before, after);

    for (name, o) in [("one device", &single), ("MultiDevice", &multi)] {
        assert!(
            o.points.len() >= 60,
            "{name}: {} points, stop {:?}",
            o.points.len(),
            o.early_stop
        );
        assert!(
            o.points.windows(2).all(|w| w[1].lr > w[0].lr),
            "{name}: the rate rises every update"
        );
        assert!(
            o.points.iter().all(|p| p.accuracy.is_some()),
            "{name}: accuracy from ClassificationOutput"
        );
    }
    let (a, b) = (
        single
            .analysis
            .recommendation
            .clone()
            .expect("one device: bounds"),
        multi
            .analysis
            .recommendation
            .clone()
            .expect("MultiDevice: bounds"),
    );
    // In one device's units: the MultiDevice rates count double.
    let (base_ratio, max_ratio) = (2.0 * b.base_lr / a.base_lr, 2.0 * b.max_lr / a.max_lr);
    // One ramp step is a factor of 1.07; the batches differ in composition, so allow a few.
    for (what, r) in [("base", base_ratio), ("max", max_ratio)] {
        assert!(
            (0.6..1.7).contains(&r),
            "{what}: one device {a:?}, MultiDevice {b:?}"
        );
    }
}

/// Batch norm's running statistics are shared between clones and updated in place: the
/// range test on `BurnTarget` must put them back too, not only the weights.
#[test]
fn burn_target_puts_batch_norm_statistics_back() {
    use cyclr_burn::range_test::{BurnTarget, epochs};
    let device = Device::flex().autodiff();
    device.seed(42);
    let model = RingNet::new(16, 2, &device);
    let before = weights(&model);
    let (optim, _) = OptimizerConfig::sgd().init();
    let mut target = BurnTarget::new(model, optim);
    let train = loader(rings(400, 1), 40, &device);
    let ramp = RangeTestConfig::new(1e-3, 1.0, 30, Ramp::Exponential);
    let outcome = RangeTest::new(ramp)
        .run_fallible(&mut target, epochs(train.as_ref()), &mut ())
        .unwrap();
    assert!(outcome.points.len() >= 20);
    let (model, _) = target.into_parts();
    assert_eq!(
        weights(&model),
        before,
        "weights and running statistics as they were"
    );
}

/// DDP averages the devices' gradients (`ReduceOperation::Mean`): the same ramp gives the
/// same recommendation as one device on the global batch. Needs two NVIDIA GPUs (see
/// `tests/strategies.rs`).
#[test]
#[ignore = "needs two GPUs: cargo test --release -p cyclr-burn --features cuda --test range_test_strategies -- --ignored"]
fn ddp_agrees_with_one_device_on_the_global_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let devices = gpu_devices();
    let (single, _, _) = run(
        ExecutionStrategy::SingleDevice(devices[0].clone()),
        40,
        1.0,
        &tmp.path().join("one"),
    );
    let config = burn::tensor::distributed::DistributedConfig {
        all_reduce_op: burn::tensor::distributed::ReduceOperation::Mean,
    };
    let (ddp, before, after) = run(
        ExecutionStrategy::ddp(devices, config),
        20,
        1.0,
        &tmp.path().join("ddp"),
    );
    assert_eq!(before, after, "the model handed in is untouched");
    let (a, b) = (
        single.analysis.recommendation.expect("bounds"),
        ddp.analysis.recommendation.expect("bounds"),
    );
    for (what, r) in [
        ("base", b.base_lr / a.base_lr),
        ("max", b.max_lr / a.max_lr),
    ] {
        assert!(
            (0.6..1.7).contains(&r),
            "{what}: one device {a:?}, DDP {b:?}"
        );
    }
}

#[allow(unreachable_code)]
fn gpu_devices() -> Vec<Device> {
    #[cfg(feature = "cuda")]
    return vec![Device::cuda(0).autodiff(), Device::cuda(1).autodiff()];
    panic!("DDP in burn 0.22.1 needs two NVIDIA GPUs: run with --features cuda")
}
