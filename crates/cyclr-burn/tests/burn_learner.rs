//! The adapter inside burn-train's own `Learner`, on a tiny model: the learning rate and
//! momentum follow the cyclr schedule, and the scheduler's record resumes the step.

use burn::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::lr_scheduler::{LrScheduler, LrSchedulerRecord};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use burn::train::{InferenceStep, Learner, RegressionOutput, TrainOutput, TrainStep};
use cyclr::{CyclicConfig, LrSchedule, Schedule, ScheduleConfig};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_burn::scheduler::CyclrScheduler;

#[derive(Module, Debug)]
struct Tiny {
    linear: Linear,
}

#[derive(Clone)]
struct Item {
    x: Tensor<2>,
    y: Tensor<2>,
}

impl Tiny {
    fn forward(&self, item: Item) -> RegressionOutput {
        let output = self.linear.forward(item.x);
        let loss = (output.clone() - item.y.clone()).square().mean();
        RegressionOutput {
            loss,
            output,
            targets: item.y,
        }
    }
}

impl TrainStep for Tiny {
    type Input = Item;
    type Output = RegressionOutput;
    fn step(&self, item: Item) -> TrainOutput<RegressionOutput> {
        let out = self.forward(item);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl InferenceStep for Tiny {
    type Input = Item;
    type Output = RegressionOutput;
    fn step(&self, item: Item) -> RegressionOutput {
        self.forward(item)
    }
}

fn schedule() -> Schedule {
    ScheduleConfig::Triangular(CyclicConfig::new(0.001, 0.05, 5).with_momentum(0.85, 0.95))
        .init()
        .unwrap()
}

fn item(device: &Device) -> Item {
    let xs: Vec<f32> = (0..16).map(|i| i as f32 / 8.0 - 1.0).collect();
    let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x + 0.5).collect();
    Item {
        x: Tensor::from_data(TensorData::new(xs, [16, 1]), device),
        y: Tensor::from_data(TensorData::new(ys, [16, 1]), device),
    }
}

#[test]
fn learner_follows_the_cyclr_schedule_and_learns() {
    let device = Device::flex().autodiff();
    device.seed(3);
    let model = Tiny {
        linear: LinearConfig::new(1, 1).init(&device),
    };
    let (optim, momentum) = OptimizerConfig::sgd().init();
    let s = schedule();
    let scheduler = CyclrScheduler::with_momentum(s.clone(), momentum.clone());
    let mut learner = Learner::new(model, optim, scheduler);

    let data = item(&device);
    let first_loss: f32 = learner.train_step(data.clone()).item.loss.into_scalar();
    let mut last_loss = first_loss;
    for step in 0..40u64 {
        learner.lr_step();
        assert_eq!(learner.lr_current().base(), s.lr(step), "lr at step {step}");
        assert_eq!(
            momentum.get(),
            s.momentum(step).unwrap(),
            "momentum at step {step}"
        );
        let out = learner.train_step(data.clone());
        last_loss = out.item.loss.clone().into_scalar();
        learner.optimizer_step(out.grads);
    }
    assert!(
        last_loss < first_loss * 0.05,
        "loss {first_loss} -> {last_loss}"
    );
}

#[test]
fn scheduler_record_resumes_mid_cycle() {
    let s = schedule();
    let mut a = CyclrScheduler::ignoring_momentum(s.clone());
    for _ in 0..7 {
        a.step();
    }
    let bytes = a.to_record().into_bytes().unwrap();
    let record = LrSchedulerRecord::from_bytes(bytes).unwrap();

    let mut b = CyclrScheduler::ignoring_momentum(s.clone());
    b.load_record(record.clone());
    for step in 7..30 {
        let (x, y) = (a.step(), b.step());
        assert_eq!(x, y);
        assert_eq!(x, s.lr(step));
    }

    // And through burn's Learner, as a checkpoint restore does: burn nests each group's
    // record under its index.
    let module_record = ModuleLrScheduler::new(a.clone()).to_record();
    let device = Device::flex().autodiff();
    let model = Tiny {
        linear: LinearConfig::new(1, 1).init(&device),
    };
    let (optim, _) = OptimizerConfig::adam().init();
    let mut learner = Learner::new(model, optim, CyclrScheduler::ignoring_momentum(s.clone()));
    learner.load_scheduler(module_record);
    learner.lr_step();
    assert_eq!(learner.lr_current().base(), s.lr(a.next_step()));
}

/// Any `LrSchedule` drives burn, not only the config `Schedule`: a `Join` of a user's own
/// warm-up and a triangular cycle, and the range test's exponential ramp.
#[test]
fn any_lr_schedule_drives_burn() {
    use cyclr::Join;
    use cyclr::range_test::{Ramp, RangeTestConfig};

    #[derive(Clone)]
    struct Warmup;
    impl LrSchedule for Warmup {
        fn lr(&self, step: u64) -> f64 {
            1e-4 * (step + 1) as f64
        }
    }
    #[derive(Clone)]
    enum Mine {
        Warmup(Warmup),
        Cyclic(Schedule),
    }
    impl LrSchedule for Mine {
        fn lr(&self, step: u64) -> f64 {
            match self {
                Mine::Warmup(w) => w.lr(step),
                Mine::Cyclic(s) => s.lr(step),
            }
        }
    }
    let join = Join::new(
        vec![Mine::Warmup(Warmup), Mine::Cyclic(schedule())],
        vec![10],
    )
    .unwrap();
    let mut sched = CyclrScheduler::ignoring_momentum(join.clone());
    for step in 0..40 {
        let lr = sched.step();
        assert_eq!(lr, join.lr(step));
        assert_eq!(
            lr,
            if step < 10 {
                1e-4 * (step + 1) as f64
            } else {
                schedule().lr(step - 10)
            }
        );
    }

    let ramp = RangeTestConfig::new(1e-6, 1.0, 61, Ramp::Exponential);
    let device = Device::flex().autodiff();
    let model = Tiny {
        linear: LinearConfig::new(1, 1).init(&device),
    };
    let (optim, _) = OptimizerConfig::sgd().init();
    let mut learner = Learner::new(model, optim, CyclrScheduler::new(ramp.clone()).unwrap());
    for step in 0..61 {
        learner.lr_step();
        assert_eq!(learner.lr_current().base(), ramp.lr(step));
    }
    assert!(
        (learner.lr_current().base() - 1.0).abs() < 1e-12,
        "the ramp ends at max_lr"
    );
}

/// A record without the step (another scheduler's, or an empty one) leaves the position
/// where it was: burn's `load_record` cannot fail, so the scheduler must not jump to 0.
#[test]
fn a_record_missing_the_step_keeps_the_position() {
    let s = schedule();
    let mut a = CyclrScheduler::ignoring_momentum(s.clone()).at_step(12);
    a.load_record(LrSchedulerRecord::new());
    assert_eq!(a.next_step(), 12);
    a.load_record(LrSchedulerRecord::new().with_scalar("other_key", 3u64));
    assert_eq!(a.next_step(), 12);
    assert_eq!(a.step(), s.lr(12));
}
