//! `UpdatePlan`: updates per epoch under each strategy as burn-train 0.22 makes them, and
//! the schedule lengths it derives and checks.

use cyclr::range_test::Ramp;
use cyclr_burn::update_plan::{PlanError, Strategy, UpdatePlan};

#[test]
fn updates_per_epoch_follow_burns_split_and_accumulation() {
    let single = UpdatePlan::new(Strategy::SingleDevice, 50_000, 128, 10);
    assert_eq!(
        single.updates_per_epoch().unwrap(),
        391,
        "ceil(50000 / 128)"
    );
    assert_eq!(
        single
            .clone()
            .with_accumulation(4)
            .updates_per_epoch()
            .unwrap(),
        98,
        "the partial group still updates"
    );
    // MultiDevice: the last device takes the remainder and steps go on while it has batches.
    let multi = UpdatePlan::new(Strategy::MultiDevice { devices: 3 }, 1000, 10, 1);
    assert_eq!(
        multi.updates_per_epoch().unwrap(),
        34,
        "333, 333 and 334 items: 34 steps"
    );
    // DDP: every worker updates once per local batch.
    let ddp = UpdatePlan::new(Strategy::Ddp { devices: 4 }, 50_000, 100, 30);
    assert_eq!(ddp.updates_per_epoch().unwrap(), 125);
    assert_eq!(ddp.total_updates().unwrap(), 3750);
    assert_eq!(
        ddp.clone()
            .with_accumulation(2)
            .updates_per_epoch()
            .unwrap(),
        63
    );
}

#[test]
fn an_uneven_ddp_split_is_refused_with_the_fix() {
    // 1010 items on 2 devices with batches of 10: 505 and 505 items, 51 batches each: fine.
    assert_eq!(
        UpdatePlan::new(Strategy::Ddp { devices: 2 }, 1010, 10, 1)
            .updates_per_epoch()
            .unwrap(),
        51
    );
    // 1003 on 4: 250, 250, 250, 253 items: 25 and 26 batches: the workers would deadlock.
    let err = UpdatePlan::new(Strategy::Ddp { devices: 4 }, 1003, 10, 1)
        .updates_per_epoch()
        .unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::UnevenSplit {
                first_updates: 25,
                last_updates: 26,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("drop the last 3"), "{err}");
}

#[test]
fn derived_lengths_and_the_overrun_check() {
    let two = UpdatePlan::new(Strategy::Ddp { devices: 2 }, 10_000, 50, 20);
    assert_eq!(two.updates_per_epoch().unwrap(), 100);
    assert_eq!(two.updates_in(4.0).unwrap(), 400);
    assert_eq!(two.stepsize_advice().unwrap().suggested, 500);
    let ramp = two.range_test(1e-6, 1.0, 3.0, Ramp::Exponential).unwrap();
    assert_eq!(ramp.iterations, 300);

    let fits = two.one_cycle(0.1).unwrap();
    assert_eq!(fits.length(), Some(2000));
    two.check(&fits).unwrap();
    // Sized for one device: twice as long as this launch makes it.
    let single = UpdatePlan::new(Strategy::SingleDevice, 10_000, 50, 20)
        .one_cycle(0.1)
        .unwrap();
    let err = two.check(&single).unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::EndsEarly {
                length: 4000,
                total: 2000,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("total_steps = 2000"), "{err}");
    // Sized for four: it would run past its end.
    let four = UpdatePlan::new(Strategy::Ddp { devices: 4 }, 10_000, 50, 20)
        .one_cycle(0.1)
        .unwrap();
    assert!(matches!(
        two.check(&four),
        Err(PlanError::Overrun {
            length: 1000,
            total: 2000,
            ..
        })
    ));
    // Cyclical schedules go on: any length fits.
    two.check(&cyclr::Schedule::triangular(0.001, 0.01, 500).unwrap())
        .unwrap();

    let zero = UpdatePlan::new(Strategy::MultiDevice { devices: 0 }, 100, 10, 1);
    assert_eq!(
        zero.updates_per_epoch().unwrap_err().to_string(),
        "devices is 0: give at least 1"
    );
}

/// DDP where burn 0.22.1 has no collective operations panics inside burn, in
/// `ExecutionStrategy::ddp` itself ("Distributed operations are not supported for device
/// Flex(Cpu)"); cyclr's constructor refuses it first and says what works instead.
/// MultiDevice on the same devices passes, and its plan reads the strategy.
#[test]
fn ddp_without_collectives_is_refused_before_launch() {
    use burn::tensor::Device;
    use burn::tensor::distributed::{DistributedConfig, ReduceOperation};
    use burn::train::{ExecutionStrategy, MultiDeviceOptim};
    use cyclr_burn::update_plan::{StrategyError, check_strategy, ddp_strategy};

    let d = Device::flex().autodiff();
    let config = || DistributedConfig {
        all_reduce_op: ReduceOperation::Mean,
    };
    let e = ddp_strategy(vec![d.clone(), d.clone()], config())
        .err()
        .expect("refused");
    assert!(
        matches!(&e, StrategyError::NoCollectives { index: 0, device } if device.starts_with("Flex")),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("collective") && text.contains("ExecutionStrategy::multi"),
        "{text}"
    );
    assert!(matches!(
        ddp_strategy(vec![], config()),
        Err(StrategyError::NoDevices { strategy: "DDP" })
    ));

    let multi = ExecutionStrategy::multi(vec![d.clone(), d], MultiDeviceOptim::OptimMainDevice);
    assert_eq!(
        check_strategy(&multi).unwrap(),
        Strategy::MultiDevice { devices: 2 }
    );
    let plan = UpdatePlan::for_launch(&multi, 96, 8, 3).unwrap();
    assert_eq!(plan.strategy, Strategy::MultiDevice { devices: 2 });
    assert_eq!(plan.total_updates().unwrap(), 18);
    let empty = ExecutionStrategy::multi(vec![], MultiDeviceOptim::OptimMainDevice);
    assert!(matches!(
        UpdatePlan::for_launch(&empty, 96, 8, 3),
        Err(PlanError::Strategy(StrategyError::NoDevices { .. }))
    ));
}
