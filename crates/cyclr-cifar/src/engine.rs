//! The model, its optimizer and the device, with the two operations every command needs:
//! train on one batch, evaluate on a split. Also saving and restoring their state.

use crate::error::{AppError, AppResult, message};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use cyclr_burn::optim::{MomentumHandle, OptimizerConfig};

pub use crate::backend::Backend;
use crate::data::{Batch, Split, make_batch};
use crate::fused::FusedCnn;
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
    /// burn's own modules and autodiff, on any backend (needed for GPUs).
    Burn,
}

impl EngineKind {
    /// The engine's name as the CLI spells it (`fused` or `burn`).
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Fused => "fused",
            EngineKind::Burn => "burn",
        }
    }

    /// The fused kernels run on the CPU only.
    pub fn check(self, backend: Backend) -> AppResult<()> {
        if self == EngineKind::Fused && backend != Backend::Flex {
            return Err(AppError::Input(message!(
                "the fused engine runs on the CPU: use {engine} burn with {device} {}",
                backend.name()
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
            "burn" => Ok(EngineKind::Burn),
            _ => Err(format!("unknown engine '{s}': expected fused or burn")),
        }
    }
}

enum Inner {
    Burn(Box<BurnParts>),
    Fused(Box<FusedCnn>),
}

struct BurnParts {
    model: ReferenceCnn,
    optim: ModuleOptimizer,
    device: Device,
}

/// The reference CNN with its optimizer, on burn's ops or on the fused CPU kernels.
pub struct Engine {
    /// Momentum (Adam: beta1) of the optimizer, settable every step.
    pub momentum: MomentumHandle,
    inner: Inner,
}

impl Engine {
    /// A fresh model with weights drawn from `seed` (burn's initialisation either way).
    pub fn new(optimizer: &OptimizerConfig, seed: u64, device: Device, kind: EngineKind) -> Self {
        device.seed(seed);
        let model = ReferenceCnn::new(&device);
        match kind {
            EngineKind::Burn => {
                let (optim, momentum) = optimizer.init();
                Self {
                    momentum,
                    inner: Inner::Burn(Box::new(BurnParts {
                        model,
                        optim,
                        device,
                    })),
                }
            }
            EngineKind::Fused => {
                let fused = FusedCnn::from_model(&model, optimizer);
                Self {
                    momentum: fused.momentum.clone(),
                    inner: Inner::Fused(Box::new(fused)),
                }
            }
        }
    }

    /// One step of training at `lr` (and `momentum`, when the schedule cycles it). A
    /// non-finite loss is returned without updating the model, so the caller can stop with
    /// the last good weights.
    pub fn train_batch(&mut self, batch: &Batch, lr: f64, momentum: Option<f64>) -> BatchResult {
        if let Some(m) = momentum {
            self.momentum.set(m);
        }
        match &mut self.inner {
            Inner::Fused(f) => f.train_batch(batch, lr, None),
            Inner::Burn(b) => {
                let BurnParts {
                    model,
                    optim,
                    device,
                } = &mut **b;
                let n = batch.len();
                let images = Tensor::from_data(
                    TensorData::new(batch.images.clone(), [n, 3, 32, 32]),
                    &*device,
                );
                let labels =
                    Tensor::from_data(TensorData::new(batch.labels.clone(), [n]), &*device);
                let (loss, logits) = model.forward_loss(images, labels);
                let loss_value = loss.clone().into_scalar::<f32>() as f64;
                let correct = count_correct(logits.into_data(), &batch.labels);
                if loss_value.is_finite() {
                    let grads = GradientsParams::from_grads(loss.backward(), &*model);
                    *model = optim.step(lr, model.clone(), grads);
                }
                BatchResult {
                    loss: loss_value,
                    correct,
                    size: n,
                }
            }
        }
    }

    /// Mean loss and accuracy over a whole split, without gradients.
    pub fn evaluate(&mut self, split: &Split, batch_size: usize) -> Evaluation {
        let (model, device) = match &mut self.inner {
            Inner::Fused(f) => return f.evaluate(split, batch_size),
            Inner::Burn(b) => (b.model.valid(), b.device.clone().without_autodiff()),
        };
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

    /// The model (a burn record either way) and the optimizer's state, as bytes.
    pub fn save(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        match &self.inner {
            Inner::Fused(f) => f.save(),
            Inner::Burn(b) => {
                let m = b.model.clone().into_record().into_bytes()?;
                let o = b.optim.into_bytes()?;
                Ok((m.to_vec(), o.to_vec()))
            }
        }
    }

    /// Restores what [`save`](Self::save) produced.
    pub fn load(&mut self, model_bytes: Vec<u8>, optim_bytes: Vec<u8>) -> anyhow::Result<()> {
        match &mut self.inner {
            Inner::Fused(f) => f.load(model_bytes, optim_bytes),
            Inner::Burn(b) => {
                let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(model_bytes))?;
                b.model = b.model.clone().try_load_record(record)?;
                b.optim = b
                    .optim
                    .clone()
                    .from_bytes(Bytes::from_bytes_vec(optim_bytes))?;
                Ok(())
            }
        }
    }

    /// The current weights as a burn model on `device`.
    pub fn model(&self, device: &Device) -> ReferenceCnn {
        match &self.inner {
            Inner::Fused(f) => f.to_model(device),
            Inner::Burn(b) => b.model.clone().valid().to_device(device),
        }
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
