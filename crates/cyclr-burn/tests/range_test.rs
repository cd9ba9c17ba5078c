//! The one range-test driver: on a burn `TrainStep` model (restoring model and optimizer,
//! so that training after a test equals training without one), and on a hand-made target
//! that records what the driver asked of it (any batch type, accumulation, held-out
//! measurements, running out of data, failures, interruption).

use std::cell::Cell;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor, TensorData};
use burn::train::{RegressionOutput, TrainOutput, TrainStep};
use cyclr::range_test::{EarlyStop, HeldOut, Ramp, RangePoint, RangeTestConfig};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_burn::range_test::{
    BurnTarget, RangeTest, RangeTestError, RangeTestProgress, RangeTestTarget, StepLoss,
};

#[derive(Module, Debug)]
struct Line {
    linear: Linear,
}

#[derive(Clone, Debug)]
struct Xy {
    x: Tensor<2>,
    y: Tensor<2>,
}

impl TrainStep for Line {
    type Input = Xy;
    type Output = RegressionOutput;
    fn step(&self, item: Xy) -> TrainOutput<RegressionOutput> {
        let output = self.linear.forward(item.x);
        let loss = (output.clone() - item.y.clone()).square().mean();
        TrainOutput::new(
            self,
            loss.backward(),
            RegressionOutput {
                loss,
                output,
                targets: item.y,
            },
        )
    }
}

fn xy(k: usize, device: &Device) -> Xy {
    let xs: Vec<f32> = (0..8).map(|i| ((k * 8 + i) as f32 * 0.7).sin()).collect();
    let ys: Vec<f32> = xs.iter().map(|x| 3.0 * x - 1.0).collect();
    Xy {
        x: Tensor::from_data(TensorData::new(xs, [8, 1]), device),
        y: Tensor::from_data(TensorData::new(ys, [8, 1]), device),
    }
}

fn values(m: &Line) -> Vec<f32> {
    let mut v: Vec<f32> = m.linear.weight.val().into_data().iter::<f32>().collect();
    v.extend(
        m.linear
            .bias
            .as_ref()
            .unwrap()
            .val()
            .into_data()
            .iter::<f32>(),
    );
    v
}

fn step(model: Line, optim: &mut ModuleOptimizer, batch: Xy, lr: f64) -> Line {
    let out = model.step(batch);
    model.optimize(optim, lr.into(), out.grads)
}

/// fastai and torch-lr-finder users ask for this: after `lr_find`, the model *and the
/// optimizer's state* are as they were. Training on afterwards gives bit-identical weights
/// to training without the test, for optimizers whose state matters (SGD's momentum
/// buffer, Adam's moments).
#[test]
fn training_after_a_range_test_equals_training_without_one() {
    let device = Device::flex().autodiff();
    for config in [
        OptimizerConfig::sgd(),
        OptimizerConfig::adam(),
        OptimizerConfig::adamw(),
    ] {
        device.seed(11);
        let (mut optim, _) = config.init();
        let mut model = Line {
            linear: LinearConfig::new(1, 1).init(&device),
        };
        for k in 0..3 {
            model = step(model, &mut optim, xy(k, &device), 0.01);
        }
        let (mut control_model, mut control_optim) = (model.clone(), optim.clone());

        let mut target = BurnTarget::new(model, optim);
        let ramp = RangeTestConfig::new(1e-4, 1.0, 30, Ramp::Exponential);
        let outcome = RangeTest::new(ramp)
            .run(&mut target, (0..).map(|k| xy(k, &device)), &mut ())
            .unwrap();
        if outcome.early_stop.is_none() {
            assert_eq!(outcome.points.len(), 30);
        }
        assert!(
            outcome.points.len() >= 10,
            "{} points",
            outcome.points.len()
        );
        assert!(
            outcome.points.iter().all(|p| p.accuracy.is_none()),
            "a regression has no accuracy"
        );

        let (mut model, mut optim) = target.into_parts();
        assert_eq!(
            values(&model),
            values(&control_model),
            "{}: the model is put back",
            config.name()
        );
        for k in 10..15 {
            model = step(model, &mut optim, xy(k, &device), 0.02);
            control_model = step(control_model, &mut control_optim, xy(k, &device), 0.02);
        }
        assert_eq!(
            values(&model),
            values(&control_model),
            "{}: the optimizer state is put back",
            config.name()
        );
    }
}

/// The ramp really trains: on this linear problem the loss falls while the rate is sane,
/// and the analysis reads the curve.
#[test]
fn a_burn_model_s_curve_is_analysed() {
    let device = Device::flex().autodiff();
    device.seed(2);
    let (optim, _) = OptimizerConfig::sgd().init();
    let mut target = BurnTarget::new(
        Line {
            linear: LinearConfig::new(1, 1).init(&device),
        },
        optim,
    );
    let test = RangeTest::new(RangeTestConfig::new(1e-4, 10.0, 120, Ramp::Exponential))
        .with_iterations_per_epoch(12);
    let outcome = test
        .run(&mut target, (0..).map(|k| xy(k % 12, &device)), &mut ())
        .unwrap();
    let first = outcome.points[0].smoothed_loss;
    let best = outcome
        .points
        .iter()
        .map(|p| p.smoothed_loss)
        .fold(f64::INFINITY, f64::min);
    assert!(best < 0.2 * first, "loss {first} -> {best}");
    assert!(
        matches!(
            outcome.early_stop,
            Some(EarlyStop::Diverged { .. } | EarlyStop::NotFinite { .. })
        ),
        "10.0 diverges: {:?}",
        outcome.early_stop
    );
    assert!(
        outcome
            .analysis
            .suggestions
            .iter()
            .any(|s| s.rule == "steepest_descent")
    );
    assert_eq!(outcome.stepsize.as_ref().unwrap().suggested, 60);
    // Written from the outcome alone.
    let dir = tempfile::tempdir().unwrap();
    outcome.save(dir.path(), "line").unwrap();
    let csv = std::fs::read_to_string(dir.path().join("range_test.csv")).unwrap();
    assert!(csv.starts_with(
        "iteration,lr,loss,accuracy,smoothed_loss,smoothed_accuracy,test_accuracy,test_loss\n"
    ));
    assert_eq!(csv.lines().count(), outcome.points.len() + 1);
    let back: cyclr_burn::range_test::RangeTestOutcome =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("range_test.json")).unwrap())
            .unwrap();
    assert_eq!(back, outcome);
}

/// A target of any batch type that records what the driver asks of it.
#[derive(Default)]
struct Recording {
    /// (batches, lr) of every update.
    calls: Vec<(Vec<u32>, f64)>,
    held_out_calls: Cell<u32>,
    state: i64,
    restored: Vec<i64>,
    fail_at: Option<usize>,
}

impl RangeTestTarget for Recording {
    type Batch = u32;
    type Snapshot = i64;
    type Error = std::io::Error;

    fn snapshot(&self) -> Result<i64, std::io::Error> {
        Ok(self.state)
    }

    fn restore(&mut self, s: i64) -> Result<(), std::io::Error> {
        self.restored.push(self.state);
        self.state = s;
        Ok(())
    }

    fn train_step(&mut self, batches: Vec<u32>, lr: f64) -> Result<StepLoss, std::io::Error> {
        if self.fail_at == Some(self.calls.len()) {
            return Err(std::io::Error::other("out of memory"));
        }
        self.state += 1;
        let loss = 2.0 - 0.001 * self.calls.len() as f64;
        self.calls.push((batches, lr));
        Ok(StepLoss {
            loss,
            accuracy: Some(0.5),
        })
    }

    fn held_out(&mut self) -> Option<HeldOut> {
        self.held_out_calls.set(self.held_out_calls.get() + 1);
        Some(HeldOut {
            accuracy: Some(0.4),
            loss: Some(1.5),
        })
    }
}

#[test]
fn accumulation_and_held_out_measurements_follow_the_settings() {
    let ramp = RangeTestConfig::new(0.0, 0.1, 12, Ramp::Linear);
    let mut t = Recording::default();
    let outcome = RangeTest::new(ramp.clone())
        .with_accumulation(3)
        .with_eval_every(4)
        .run(&mut t, 0u32.., &mut ())
        .unwrap();
    assert_eq!(t.calls.len(), 12);
    for (i, (batches, lr)) in t.calls.iter().enumerate() {
        let i32_ = i as u32;
        assert_eq!(
            batches,
            &vec![3 * i32_, 3 * i32_ + 1, 3 * i32_ + 2],
            "update {i} gets the next 3 batches"
        );
        assert_eq!(*lr, ramp.lr(i as u64), "the ramp is on the update count");
    }
    assert_eq!(t.held_out_calls.get(), 3);
    let measured: Vec<u64> = outcome
        .points
        .iter()
        .filter(|p| p.test_accuracy.is_some())
        .map(|p| p.iteration)
        .collect();
    assert_eq!(measured, vec![3, 7, 11]);
    assert!(
        outcome
            .points
            .iter()
            .filter(|p| p.test_loss.is_some())
            .count()
            == 3
    );
    assert_eq!(
        (t.state, t.restored.clone()),
        (0, vec![12]),
        "put back after 12 updates"
    );
    assert_eq!(outcome.accumulation, 3);
}

#[test]
fn running_out_of_batches_ends_early_and_says_why() {
    let mut t = Recording::default();
    let test =
        RangeTest::new(RangeTestConfig::new(0.0, 0.1, 50, Ramp::Linear)).with_accumulation(2);
    // 11 batches: 5 whole updates; the odd one is not trained on.
    let outcome = test.run(&mut t, 0u32..11, &mut ()).unwrap();
    assert_eq!(outcome.points.len(), 5);
    assert_eq!(
        outcome.early_stop,
        Some(EarlyStop::OutOfData { iteration: 5 })
    );
    assert!(
        outcome
            .early_stop
            .unwrap()
            .describe()
            .contains("cycles over epochs")
    );
    assert_eq!(t.state, 0);
}

#[test]
fn a_failing_step_or_batch_is_an_error_and_the_state_is_still_put_back() {
    let mut t = Recording {
        fail_at: Some(4),
        ..Default::default()
    };
    let err = RangeTest::new(RangeTestConfig::new(0.0, 0.1, 20, Ramp::Linear))
        .run(&mut t, 0u32.., &mut ())
        .unwrap_err();
    assert!(
        matches!(err, RangeTestError::Step { iteration: 4, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("out of memory"));
    assert_eq!((t.state, t.restored.clone()), (0, vec![4]));

    let mut t = Recording::default();
    let batches = (0u32..).map(|k| {
        if k == 6 {
            Err("corrupt record 6")
        } else {
            Ok(k)
        }
    });
    let err = RangeTest::new(RangeTestConfig::new(0.0, 0.1, 20, Ramp::Linear))
        .run_fallible(&mut t, batches, &mut ())
        .unwrap_err();
    assert!(
        matches!(err, RangeTestError::Data { iteration: 6, .. })
            && err.to_string().contains("corrupt record 6"),
        "{err}"
    );
    assert_eq!(t.state, 0);

    let bad = RangeTest::new(RangeTestConfig::new(0.0, 0.1, 20, Ramp::Linear)).with_accumulation(0);
    let err = bad
        .run(&mut Recording::default(), 0u32.., &mut ())
        .unwrap_err();
    assert!(err.to_string().contains("accumulation is 0"), "{err}");
}

struct StopAfter {
    seen: Vec<u64>,
    after: usize,
    messages: Vec<String>,
}

impl RangeTestProgress for StopAfter {
    fn on_point(&mut self, p: &RangePoint, total: u64) {
        assert_eq!(total, 40);
        self.seen.push(p.iteration);
    }
    fn message(&mut self, text: &str) {
        self.messages.push(text.to_string());
    }
    fn should_stop(&self) -> bool {
        self.seen.len() >= self.after
    }
}

#[test]
fn progress_hears_every_point_and_can_interrupt() {
    let mut t = Recording::default();
    let mut p = StopAfter {
        seen: vec![],
        after: 7,
        messages: vec![],
    };
    let outcome = RangeTest::new(RangeTestConfig::new(0.0, 0.1, 40, Ramp::Linear))
        .run(&mut t, 0u32.., &mut p)
        .unwrap();
    assert_eq!(p.seen, (0..7).collect::<Vec<_>>());
    assert_eq!(
        outcome.early_stop,
        Some(EarlyStop::Interrupted { iteration: 7 })
    );
    assert_eq!(p.messages, vec!["interrupted at iteration 7".to_string()]);
    assert_eq!(t.state, 0);
}
