//! A cyclr schedule inside burn's own training loop (the README's example).
//!
//! Run: cargo run --release -p cyclr-burn --example learner

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use burn::train::{InferenceStep, Learner, RegressionOutput, TrainOutput, TrainStep};
use cyclr::{CyclicConfig, ScheduleConfig};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_burn::scheduler::CyclrScheduler;

#[derive(Module, Debug)]
struct Net {
    linear: Linear,
}

#[derive(Clone)]
struct Batch {
    x: Tensor<2>,
    y: Tensor<2>,
}

impl Net {
    fn forward(&self, b: Batch) -> RegressionOutput {
        let output = self.linear.forward(b.x);
        let loss = (output.clone() - b.y.clone()).square().mean();
        RegressionOutput {
            loss,
            output,
            targets: b.y,
        }
    }
}

impl TrainStep for Net {
    type Input = Batch;
    type Output = RegressionOutput;
    fn step(&self, b: Batch) -> TrainOutput<RegressionOutput> {
        let out = self.forward(b);
        TrainOutput::new(self, out.loss.backward(), out)
    }
}

impl InferenceStep for Net {
    type Input = Batch;
    type Output = RegressionOutput;
    fn step(&self, b: Batch) -> RegressionOutput {
        self.forward(b)
    }
}

fn main() {
    let device = Device::flex().autodiff();
    let model = Net {
        linear: LinearConfig::new(1, 1).init(&device),
    };

    // triangular2 CLR with cyclical momentum, as a plain (serializable) config.
    let schedule =
        ScheduleConfig::Triangular2(CyclicConfig::new(0.001, 0.05, 20).with_momentum(0.85, 0.95))
            .init()
            .expect("valid schedule");
    // SGD whose momentum the scheduler sets at every step (burn's own fixes it at build).
    let (optim, momentum) = OptimizerConfig::sgd().init();
    let scheduler = CyclrScheduler::with_momentum(schedule, momentum);
    let mut learner = Learner::new(model, optim, scheduler);

    let xs: Vec<f32> = (0..32).map(|i| i as f32 / 16.0 - 1.0).collect();
    let ys: Vec<f32> = xs.iter().map(|x| 3.0 * x - 0.5).collect();
    let batch = Batch {
        x: Tensor::from_data(TensorData::new(xs, [32, 1]), &device),
        y: Tensor::from_data(TensorData::new(ys, [32, 1]), &device),
    };
    for step in 0..120 {
        learner.lr_step();
        let out = learner.train_step(batch.clone());
        if step % 20 == 0 {
            let loss: f32 = out.item.loss.clone().into_scalar();
            println!(
                "step {step:>3}  lr {:.4}  loss {loss:.5}",
                learner.lr_current().base()
            );
        }
        learner.optimizer_step(out.grads);
    }
}
