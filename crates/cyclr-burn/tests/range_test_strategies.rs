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
use cyclr_burn::range_test::RangeTest;
use own_model::{as_global_batches, loader, range_test_under as run, rings, seeded_net, weights};

const POINTS: usize = 2400;

/// One test at a time: the seed that draws the initial weights is global to the backend.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Without batch norm (whose statistics are per device), one device on the global batch
/// and `MultiDevice` on two make the same updates once `MultiDevice`'s summed gradients are
/// halved: the curves and the recommendation agree to rounding.
#[test]
fn multi_device_agrees_with_one_device_on_the_global_batch() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let d = Device::flex().autodiff();
    let points = rings(POINTS, 1);
    let (single, _, _) = run(
        ExecutionStrategy::SingleDevice(d.clone()),
        0,
        as_global_batches(&points, 20),
        40,
        1.0,
        &tmp.path().join("one"),
    );
    let multi_strategy =
        ExecutionStrategy::multi(vec![d.clone(), d], MultiDeviceOptim::OptimMainDevice);
    let (multi, _, _) = run(multi_strategy, 0, points, 20, 0.5, &tmp.path().join("two"));

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
    // Update by update, the loss of the global batch is the same.
    for (a, b) in single.points.iter().zip(&multi.points).take(60) {
        assert!(
            (a.loss - b.loss).abs() <= 1e-4 * a.loss.abs().max(1e-3),
            "update {}: {} vs {}",
            a.iteration,
            a.loss,
            b.loss
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
    // In one device's units, the MultiDevice rates count double.
    for (what, r) in [
        ("base", 2.0 * b.base_lr / a.base_lr),
        ("max", 2.0 * b.max_lr / a.max_lr),
    ] {
        assert!(
            (r - 1.0).abs() < 1e-6,
            "{what}: one device {a:?}, MultiDevice {b:?}"
        );
    }
}

/// burn-train's run leaves the model it was handed as it was, batch norm's running
/// statistics (shared between clones, updated in place) included.
#[test]
fn run_supervised_leaves_the_model_as_it_was() {
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let d = Device::flex().autodiff();
    let (outcome, before, after) = run(
        ExecutionStrategy::SingleDevice(d),
        2,
        rings(800, 1),
        40,
        1.0,
        tmp.path(),
    );
    assert!(
        outcome.points.len() >= 20,
        "{} points",
        outcome.points.len()
    );
    assert_eq!(before, after);
}

/// Batch norm's running statistics are shared between clones and updated in place: the
/// range test on `BurnTarget` must put them back too, not only the weights.
#[test]
fn burn_target_puts_batch_norm_statistics_back() {
    let _serial = one_at_a_time();
    use cyclr_burn::range_test::{BurnTarget, epochs};
    let device = Device::flex().autodiff();
    let model = seeded_net(16, 2, &device);
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
    let _serial = one_at_a_time();
    let tmp = tempfile::tempdir().unwrap();
    let devices = gpu_devices();
    let points = rings(POINTS, 1);
    let (single, _, _) = run(
        ExecutionStrategy::SingleDevice(devices[0].clone()),
        0,
        as_global_batches(&points, 20),
        40,
        1.0,
        &tmp.path().join("one"),
    );
    let config = burn::tensor::distributed::DistributedConfig {
        all_reduce_op: burn::tensor::distributed::ReduceOperation::Mean,
    };
    let (ddp, before, after) = run(
        ExecutionStrategy::ddp(devices, config),
        0,
        points,
        20,
        1.0,
        &tmp.path().join("ddp"),
    );
    assert_eq!(before, after, "the model handed in is untouched");
    let (a, b) = (
        single.analysis.recommendation.expect("bounds"),
        ddp.analysis.recommendation.expect("bounds"),
    );
    // GPU sums may round differently from run to run: within one ramp step (7%).
    for (what, r) in [
        ("base", b.base_lr / a.base_lr),
        ("max", b.max_lr / a.max_lr),
    ] {
        assert!(
            (0.93..1.075).contains(&r),
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
