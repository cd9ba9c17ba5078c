//! What a new user of the public API met, each a test: a checkpoint record that silently
//! restarted the schedule, a momentum schedule silently not applied, and charts silently
//! not drawn. (The strategy read from burn's own value, the update count after `launch`
//! and several trainings in one process are in `strategies.rs`.)

use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use cyclr::range_test::{Ramp, RangeTestConfig};
use cyclr::{CyclicConfig, LrSchedule, ScheduleConfig};
use cyclr_burn::optim::{MomentumHandle, OptimizerConfig};
use cyclr_burn::range_test::{RangeTest, RangeTestTarget, StepLoss};
use cyclr_burn::scheduler::{CyclrScheduler, SchedulerError};

fn cycling() -> cyclr::Schedule {
    ScheduleConfig::Triangular(CyclicConfig::new(0.001, 0.05, 5).with_momentum(0.85, 0.95))
        .init()
        .unwrap()
}

/// burn-train's checkpointer saves the `Learner`'s record, which nests the scheduler's
/// under its parameter group: loading that into a `CyclrScheduler` resumes at its step.
#[test]
fn the_record_burn_train_saves_resumes_the_step() {
    let mut a = CyclrScheduler::with_momentum(cycling(), MomentumHandle::new(0.9));
    for _ in 0..7 {
        a.step();
    }
    let saved = ModuleLrScheduler::new(a.clone()).to_record();
    let bytes = saved.into_bytes().unwrap();
    let record = LrSchedulerRecord::from_bytes(bytes).unwrap();
    let mut b = CyclrScheduler::with_momentum(cycling(), MomentumHandle::new(0.9));
    b.load_record(record);
    assert_eq!(b.next_step(), 7);
    assert_eq!(b.step(), cycling().lr(7));
    assert_eq!(b.update_count().get(), 8);
}

/// A schedule that cycles momentum cannot be attached without saying where the momentum
/// goes: with the optimizer's handle it is set at every step.
#[test]
fn a_momentum_schedule_needs_the_optimizers_momentum() {
    assert_eq!(
        CyclrScheduler::new(cycling()).err(),
        Some(SchedulerError::MomentumNotAttached)
    );
    let message = SchedulerError::MomentumNotAttached.to_string();
    assert!(message.contains("with_momentum"), "{message}");
    let (_optim, momentum) = OptimizerConfig::adam().init();
    let mut s = CyclrScheduler::with_momentum(cycling(), momentum.clone());
    assert!(s.sets_momentum());
    for step in 0..12 {
        let lr = s.step();
        assert_eq!(lr, cycling().lr(step));
        assert_eq!(momentum.get(), cycling().momentum(step).unwrap());
    }
    // On purpose, the rate only.
    let s = CyclrScheduler::ignoring_momentum(cycling());
    assert!(!s.sets_momentum());
    // A schedule without momentum needs no handle.
    assert!(CyclrScheduler::new(cyclr::Schedule::fixed(0.1).unwrap()).is_ok());
}

/// Charts come with cyclr's `plot` feature, whichever crate enabled it.
#[test]
fn charts_are_drawn_whenever_cyclr_can_draw() {
    /// Loss falls with the rate; accuracy climbs.
    struct Curve(u32);
    impl RangeTestTarget for Curve {
        type Batch = ();
        type Snapshot = u32;
        type Error = std::convert::Infallible;
        fn snapshot(&self) -> Result<u32, Self::Error> {
            Ok(self.0)
        }
        fn restore(&mut self, s: u32) -> Result<(), Self::Error> {
            self.0 = s;
            Ok(())
        }
        fn train_step(&mut self, _: Vec<()>, lr: f64) -> Result<StepLoss, Self::Error> {
            self.0 += 1;
            Ok(StepLoss {
                loss: 2.0 - (lr.ln() + 10.0) * 0.05,
                accuracy: Some(0.1 + self.0 as f64 * 0.01),
            })
        }
    }
    let test = RangeTest::new(RangeTestConfig::new(1e-4, 1.0, 40, Ramp::Exponential));
    let outcome = test
        .run(&mut Curve(0), std::iter::repeat(()), &mut ())
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    outcome.save(dir.path(), "trap").unwrap();
    assert!(dir.path().join("range_test.json").is_file());
    assert_eq!(
        dir.path().join("range_test.png").is_file(),
        cyclr::range_test::chart::ENABLED
    );
}
