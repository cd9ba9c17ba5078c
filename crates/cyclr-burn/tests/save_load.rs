//! Every policy through `CyclrScheduler`'s record, as burn checks its own schedulers
//! (`check_save_load`): saved mid-run and loaded into a fresh scheduler, the two give the
//! same rates and momenta from there on. The policies come from the registry, so a new
//! policy is covered without touching this file.

use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use cyclr::{LrSchedule, Policy, Schedule};
use cyclr_burn::optim::MomentumHandle;
use cyclr_burn::scheduler::CyclrScheduler;

/// Steps `scheduler` to `save_at`, saves its record through burn's bytes, loads it into a
/// fresh one and checks both agree, with the schedule, for `after` more steps.
fn check_save_load(schedule: Schedule, save_at: u64, after: u64) {
    let (ma, mb) = (MomentumHandle::new(0.9), MomentumHandle::new(0.9));
    let mut a = CyclrScheduler::with_momentum(schedule.clone(), ma.clone());
    for _ in 0..save_at {
        a.step();
    }
    let bytes = a.to_record().into_bytes().unwrap();
    let mut b = CyclrScheduler::with_momentum(schedule.clone(), mb.clone());
    b.load_record(LrSchedulerRecord::from_bytes(bytes).unwrap());
    let name = schedule.policy();
    for step in save_at..save_at + after {
        let (x, y) = (a.step(), b.step());
        assert_eq!(x.to_bits(), y.to_bits(), "{name}: lr at step {step}");
        assert_eq!(x, schedule.lr(step), "{name}: lr at step {step}");
        if let Some(m) = schedule.momentum(step) {
            assert_eq!(ma.get(), m, "{name}: momentum at step {step}");
            assert_eq!(mb.get(), m, "{name}: momentum at step {step} after loading");
        }
    }
    assert_eq!(a.update_count().get(), save_at + after);
}

#[test]
fn every_policy_saves_and_loads_mid_run() {
    for policy in Policy::ALL {
        let schedule = policy.example().init().unwrap();
        for save_at in [0, 1, 37, 150] {
            check_save_load(schedule.clone(), save_at, 60);
        }
    }
}
