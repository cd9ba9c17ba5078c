//! The trainer drives any `TrainableModel` on any `Dataset`: a burn classifier of the
//! user's own (not the reference CNN), on data made here, trains, writes its metrics and
//! checkpoint, and resumes to exactly the uninterrupted run's numbers.

use std::sync::Arc;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Int, Tensor};
use cyclr::{CyclicConfig, ScheduleConfig};
use cyclr_burn::optim::OptimizerConfig;
use cyclr_cifar::data::{Cifar10, Dataset, IMAGE_BYTES, Split};
use cyclr_cifar::engine::{BurnClassifier, Classifier, Engine, EngineKind};
use cyclr_cifar::observer::{BatchProgress, Observer};
use cyclr_cifar::run_record::RunStatus;
use cyclr_cifar::train::{TrainConfig, train_model};

/// A linear classifier on the raw pixels: a model the application has never seen.
#[derive(Module, Debug)]
struct Pixels {
    fc: Linear,
}

impl Classifier for Pixels {
    fn forward_loss(&self, images: Tensor<4>, labels: Tensor<1, Int>) -> (Tensor<1>, Tensor<2>) {
        let [n, _, _, _] = images.dims();
        let logits = self.fc.forward(images.reshape([n, IMAGE_BYTES]));
        let loss = CrossEntropyLossConfig::new()
            .init(&logits.device())
            .forward(logits.clone(), labels);
        (loss, logits)
    }
}

fn engine(seed: u64, optimizer: &OptimizerConfig) -> Engine {
    let device = Device::flex().autodiff();
    device.seed(seed);
    let model = Pixels {
        fc: LinearConfig::new(IMAGE_BYTES, 10).init(&device),
    };
    Engine::of(BurnClassifier::new(model, optimizer, device))
}

/// Images whose brightness says their class.
fn split(n: usize, salt: u64) -> Split {
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let images = (0..n * IMAGE_BYTES)
        .map(|k| {
            let (i, p) = (k / IMAGE_BYTES, k % IMAGE_BYTES);
            let noise = ((p as u64 * 31 + i as u64 * 7 + salt) % 17) as u8;
            labels[i] * 20 + noise
        })
        .collect();
    Split { images, labels }
}

struct StopAfter(u64);
impl Observer for StopAfter {
    fn on_batch(&mut self, b: &BatchProgress) {
        self.0 = self.0.saturating_sub(1);
        let _ = b;
    }
    fn should_stop(&self) -> bool {
        self.0 == 0
    }
}

struct Quiet;
impl Observer for Quiet {}

#[test]
fn a_model_of_ones_own_trains_checkpoints_and_resumes_through_the_trainer() {
    let data = Cifar10 {
        train: Arc::new(split(200, 1)),
        test: split(50, 2),
        source: "made by the test".into(),
    };
    assert_eq!(data.image_shape(), [3, 32, 32]);
    let schedule =
        ScheduleConfig::Triangular(CyclicConfig::new(1e-4, 1e-3, 4).with_momentum(0.85, 0.95))
            .init()
            .unwrap();
    let mut config = TrainConfig::new(schedule, OptimizerConfig::sgd());
    config.epochs = 3;
    config.batch_size = 20;
    config.engine = EngineKind::Burn;

    let whole = tempfile::tempdir().unwrap();
    let a = train_model(
        engine(3, &config.optimizer),
        &config,
        &data,
        whole.path(),
        false,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(a.status, RunStatus::Finished);
    assert_eq!(a.steps, 30);
    assert!(whole.path().join("checkpoint.bin").is_file());
    assert!(a.final_test_accuracy.unwrap() > 0.1, "{a:?}");

    let split_run = tempfile::tempdir().unwrap();
    let stopped = train_model(
        engine(3, &config.optimizer),
        &config,
        &data,
        split_run.path(),
        false,
        &mut StopAfter(13),
    )
    .unwrap();
    assert_eq!(stopped.status, RunStatus::Interrupted);
    // Resumed into a freshly built model: the checkpoint brings the weights back.
    let b = train_model(
        engine(99, &config.optimizer),
        &config,
        &data,
        split_run.path(),
        true,
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(b.steps, a.steps);
    let accuracies = |s: &cyclr_cifar::run_record::RunSummary| {
        s.metrics
            .iter()
            .map(|m| (m.test_accuracy, m.test_loss))
            .collect::<Vec<_>>()
    };
    assert_eq!(accuracies(&b), accuracies(&a));
}
