//! The model, its optimizer and the device, with the two operations every command needs:
//! train on one batch, evaluate on a split. Also saving and restoring their state.

use crate::error::{AppError, AppResult, message};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use cyclr_burn::optim::{MomentumHandle, OptimizerConfig};

pub use crate::backend::Backend;
use crate::data::{Batch, Split, make_batch};
use crate::fused::{FusedCnn, Precision};
pub use crate::measure::{BatchResult, Evaluation};
use crate::model::{NUM_CLASSES, ReferenceCnn};

/// Which implementation runs the reference CNN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// Hand-written fused CPU kernels for this network ([`crate::fused`]); the default on
    /// the CPU, several times faster than burn's generic ops.
    #[default]
    Fused,
    /// The fused kernels with bf16 operands and f32 sums in most convolution products
    /// ([`crate::fused::Precision::Bf16`]): faster on CPUs with AVX-512 BF16, and numbers
    /// that differ from `fused`'s by bf16's rounding. Opt-in.
    #[serde(rename = "fused-bf16", alias = "fused_bf16")]
    FusedBf16,
    /// burn's own modules and autodiff, on any backend (needed for GPUs).
    Burn,
}

impl EngineKind {
    /// The engine's name as the CLI spells it (`fused`, `fused-bf16` or `burn`).
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Fused => "fused",
            EngineKind::FusedBf16 => "fused-bf16",
            EngineKind::Burn => "burn",
        }
    }

    /// The fused kernels run on the CPU only, and their bf16 form on CPUs with AVX-512
    /// BF16 only.
    pub fn check(self, backend: Backend) -> AppResult<()> {
        if self != EngineKind::Burn && backend != Backend::Flex {
            return Err(AppError::Input(message!(
                "the {} engine runs on the CPU: use {engine} burn with {device} {}",
                self.name(),
                backend.name()
            )));
        }
        if self == EngineKind::FusedBf16 && !crate::fused::bf16_available() {
            return Err(AppError::Input(message!(
                "the fused-bf16 engine needs a CPU with AVX-512 BF16, which this one lacks: \
                 use {engine} fused (a run made with fused-bf16 continues only on such a CPU)"
            )));
        }
        Ok(())
    }
}

impl std::str::FromStr for EngineKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "fused" => Ok(EngineKind::Fused),
            "fused-bf16" | "fused_bf16" => Ok(EngineKind::FusedBf16),
            "burn" => Ok(EngineKind::Burn),
            _ => Err(format!(
                "unknown engine '{s}': expected fused, fused-bf16 or burn"
            )),
        }
    }
}

/// A model with its optimizer, as the trainer, the range test and the recreation drive it:
/// one optimizer step, an evaluation, and its state as bytes. The fused CNN
/// ([`FusedCnn`]) and any burn classifier ([`BurnClassifier`]) are two; [`Engine`] holds
/// one.
pub trait TrainableModel: Send {
    /// The optimizer's momentum (Adam: beta1), which the schedule sets before each step.
    fn momentum(&self) -> &MomentumHandle;
    /// One optimizer step on `batch` at `lr`. A non-finite loss is returned without
    /// updating the model, so the caller can stop with the last good weights.
    fn train_batch(&mut self, batch: &Batch, lr: f64) -> BatchResult;
    /// Mean loss and accuracy over a whole split, without gradients, in batches of
    /// `batch_size`.
    fn evaluate(&mut self, split: &Split, batch_size: usize) -> Evaluation;
    /// The model (a burn record) and the optimizer's state, as bytes.
    fn save(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)>;
    /// Puts back what [`save`](Self::save) produced.
    fn load(&mut self, model: Vec<u8>, optim: Vec<u8>) -> anyhow::Result<()>;
}

impl TrainableModel for FusedCnn {
    fn momentum(&self) -> &MomentumHandle {
        &self.momentum
    }
    fn train_batch(&mut self, batch: &Batch, lr: f64) -> BatchResult {
        FusedCnn::train_batch(self, batch, lr)
    }
    fn evaluate(&mut self, split: &Split, batch_size: usize) -> Evaluation {
        FusedCnn::evaluate(self, split, batch_size)
    }
    fn save(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        FusedCnn::save(self)
    }
    fn load(&mut self, model: Vec<u8>, optim: Vec<u8>) -> anyhow::Result<()> {
        FusedCnn::load(self, model, optim)
    }
}

/// The reference CNN with its optimizer, on burn's ops or on the fused CPU kernels.
pub struct Engine {
    model: Box<dyn TrainableModel>,
}

impl Engine {
    /// A fresh model with weights drawn from `seed` (burn's initialisation either way).
    ///
    /// # Panics
    /// If `kind` cannot run here: [`EngineKind::check`] says so as an error first, and
    /// every command's settings call it when they are validated.
    pub fn new(optimizer: &OptimizerConfig, seed: u64, device: Device, kind: EngineKind) -> Self {
        device.seed(seed);
        let model = ReferenceCnn::new(&device);
        match kind {
            EngineKind::Burn => Self::of(BurnClassifier::new(model, optimizer, device)),
            EngineKind::Fused => Self::of(FusedCnn::from_model(&model, optimizer)),
            EngineKind::FusedBf16 => Self::of(
                FusedCnn::from_model(&model, optimizer)
                    .with_precision(Precision::Bf16)
                    .expect("EngineKind::check refuses fused-bf16 where it cannot run"),
            ),
        }
    }

    /// Any model the trainer can train.
    pub fn of(model: impl TrainableModel + 'static) -> Self {
        Self {
            model: Box::new(model),
        }
    }

    /// The optimizer's momentum (Adam: beta1).
    pub fn momentum(&self) -> &MomentumHandle {
        self.model.momentum()
    }

    /// One optimizer step on `batch` at `lr` (the momentum is the handle's).
    pub fn train_batch(&mut self, batch: &Batch, lr: f64) -> BatchResult {
        self.model.train_batch(batch, lr)
    }

    /// Mean loss and accuracy over a whole split, without gradients.
    pub fn evaluate(&mut self, split: &Split, batch_size: usize) -> Evaluation {
        self.model.evaluate(split, batch_size)
    }

    /// The model (a burn record either way) and the optimizer's state, as bytes.
    pub fn save(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        self.model.save()
    }

    /// Restores what [`save`](Self::save) produced.
    pub fn load(&mut self, model_bytes: Vec<u8>, optim_bytes: Vec<u8>) -> anyhow::Result<()> {
        self.model.load(model_bytes, optim_bytes)
    }

    /// The current weights as the reference burn model on `device`.
    pub fn model(&self, device: &Device) -> anyhow::Result<ReferenceCnn> {
        let (bytes, _) = self.save()?;
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))?;
        Ok(ReferenceCnn::new(device).try_load_record(record)?)
    }
}

/// A burn image classifier, as [`BurnClassifier`] trains it.
pub trait Classifier: Module + Send + 'static {
    /// Mean loss over the batch, and the logits (`[batch, classes]`).
    fn forward_loss(&self, images: Tensor<4>, labels: Tensor<1, Int>) -> (Tensor<1>, Tensor<2>);
}

impl Classifier for ReferenceCnn {
    fn forward_loss(&self, images: Tensor<4>, labels: Tensor<1, Int>) -> (Tensor<1>, Tensor<2>) {
        ReferenceCnn::forward_loss(self, images, labels)
    }
}

/// Any burn [`Classifier`] with cyclr-burn's optimizer, on any backend: the `burn` engine.
pub struct BurnClassifier<M> {
    model: M,
    optim: ModuleOptimizer,
    momentum: MomentumHandle,
    device: Device,
}

impl<M: Classifier> BurnClassifier<M> {
    /// `model` (on `device`) trained by `optimizer`.
    pub fn new(model: M, optimizer: &OptimizerConfig, device: Device) -> Self {
        let (optim, momentum) = optimizer.init();
        Self {
            model,
            optim,
            momentum,
            device,
        }
    }
}

impl<M: Classifier> TrainableModel for BurnClassifier<M> {
    fn momentum(&self) -> &MomentumHandle {
        &self.momentum
    }

    fn train_batch(&mut self, batch: &Batch, lr: f64) -> BatchResult {
        let n = batch.len();
        let images = Tensor::from_data(
            TensorData::new(batch.images.clone(), [n, 3, 32, 32]),
            &self.device,
        );
        let labels = Tensor::from_data(TensorData::new(batch.labels.clone(), [n]), &self.device);
        let (loss, logits) = self.model.forward_loss(images, labels);
        let loss_value = loss.clone().into_scalar::<f32>() as f64;
        let correct = count_correct(logits.into_data(), &batch.labels);
        if loss_value.is_finite() {
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self.optim.step(lr, self.model.clone(), grads);
        }
        BatchResult {
            loss: loss_value,
            correct,
            size: n,
        }
    }

    fn evaluate(&mut self, split: &Split, batch_size: usize) -> Evaluation {
        let model = self.model.valid();
        let device = self.device.clone().without_autodiff();
        let indices: Vec<u32> = (0..split.len() as u32).collect();
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for chunk in indices.chunks(batch_size.max(1)) {
            let batch = make_batch(split, chunk);
            let n = batch.len();
            let images = Tensor::from_data(TensorData::new(batch.images, [n, 3, 32, 32]), &device);
            let labels = Tensor::from_data(TensorData::new(batch.labels.clone(), [n]), &device);
            let (loss, logits) = model.forward_loss(images, labels);
            loss_sum += loss.into_scalar::<f32>() as f64 * n as f64;
            correct += count_correct(logits.into_data(), &batch.labels);
        }
        let n = split.len().max(1) as f64;
        Evaluation {
            loss: loss_sum / n,
            accuracy: correct as f64 / n,
        }
    }

    fn save(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        let m = self.model.clone().into_record().into_bytes()?;
        let o = self.optim.into_bytes()?;
        Ok((m.to_vec(), o.to_vec()))
    }

    fn load(&mut self, model_bytes: Vec<u8>, optim_bytes: Vec<u8>) -> anyhow::Result<()> {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(model_bytes))?;
        self.model = self.model.clone().try_load_record(record)?;
        self.optim = self
            .optim
            .clone()
            .from_bytes(Bytes::from_bytes_vec(optim_bytes))?;
        Ok(())
    }
}

fn count_correct(logits: TensorData, labels: &[i64]) -> usize {
    let values = logits.try_into_vec_as::<f32>().unwrap_or_default();
    values
        .chunks_exact(NUM_CLASSES)
        .zip(labels)
        .filter(|(row, label)| {
            let best = row
                .iter()
                .enumerate()
                .fold(
                    (0, f32::NEG_INFINITY),
                    |b, (i, &v)| if v > b.1 { (i, v) } else { b },
                );
            best.0 as i64 == **label
        })
        .count()
}
