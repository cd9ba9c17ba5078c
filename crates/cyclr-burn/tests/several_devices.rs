//! The several-devices example: the same schedule config gives the same learning-rate
//! curve on one device and under `MultiDevice` on two (DDP needs two NVIDIA GPUs: see
//! `tests/strategies.rs`).

#[path = "../examples/several_devices.rs"]
#[allow(dead_code)]
mod several_devices;

use burn::tensor::Device;
use burn::train::{ExecutionStrategy, MultiDeviceOptim};
use cyclr::LrSchedule;
use cyclr_burn::update_plan::{Strategy, UpdatePlan};
use several_devices::{rates_under, schedule};

#[test]
fn one_curve_under_every_strategy_that_runs_here() {
    let tmp = tempfile::tempdir().unwrap();
    let s = schedule();
    let d = Device::flex().autodiff();
    let one = rates_under(
        ExecutionStrategy::SingleDevice(d.clone()),
        1,
        &s,
        2,
        &tmp.path().join("one"),
    );
    let multi = rates_under(
        ExecutionStrategy::multi(vec![d.clone(), d], MultiDeviceOptim::OptimMainDevice),
        2,
        &s,
        2,
        &tmp.path().join("multi"),
    );
    let plan = |strategy| {
        UpdatePlan::new(strategy, 1200, 50, 2)
            .total_updates()
            .unwrap() as usize
    };
    assert_eq!(one.len(), plan(Strategy::SingleDevice));
    assert_eq!(multi.len(), plan(Strategy::MultiDevice { devices: 2 }));
    assert_eq!(multi.len() * 2, one.len(), "two devices: half the updates");
    assert_eq!(
        multi[..],
        one[..multi.len()],
        "the same curve, update by update"
    );
    for (k, &lr) in one.iter().enumerate() {
        assert_eq!(lr, s.lr(k as u64));
    }
}
