//! The model, its optimizer and the device, with the two operations every command needs:
//! train on one batch, evaluate on a split. Also saving and restoring their state.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::ModuleRecord;
use burn::tensor::{Bytes, Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::data::{Batch, Split, make_batch};
use crate::model::{NUM_CLASSES, ReferenceCnn};
use crate::optim::{MomentumHandle, OptimizerConfig};

/// Which burn backend runs the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// burn's Flex CPU backend (the default; no GPU, no system library).
    #[default]
    Flex,
    /// NVIDIA GPUs through burn's CUDA backend (cargo feature `cuda`).
    Cuda,
    /// Any GPU through burn's wgpu backend (cargo feature `wgpu`).
    Wgpu,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::Cuda => "cuda",
            Backend::Wgpu => "wgpu",
        }
    }

    /// The autodiff device, or why this build cannot provide it.
    pub fn device(self) -> Result<Device, String> {
        match self {
            Backend::Flex => Ok(Device::flex().autodiff()),
            #[cfg(feature = "cuda")]
            Backend::Cuda => Ok(Device::cuda(0).autodiff()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::default()).autodiff()),
            #[allow(unreachable_patterns)]
            other => Err(format!(
                "this build of cyclr has no {} backend: rebuild with `cargo build --release --features {}`",
                other.name(),
                other.name()
            )),
        }
    }
}

impl std::str::FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "flex" | "cpu" => Ok(Backend::Flex),
            "cuda" => Ok(Backend::Cuda),
            "wgpu" => Ok(Backend::Wgpu),
            _ => Err(format!("unknown device '{s}': expected flex, cuda or wgpu")),
        }
    }
}

/// What one training batch gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchResult {
    /// Mean cross-entropy of the batch (before the update).
    pub loss: f64,
    /// Correct predictions in the batch.
    pub correct: usize,
    pub size: usize,
}

/// Loss and accuracy on a split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub loss: f64,
    pub accuracy: f64,
}

/// The reference CNN with its optimizer on one device.
pub struct Engine {
    pub model: ReferenceCnn,
    pub optim: ModuleOptimizer,
    pub momentum: MomentumHandle,
    pub device: Device,
}

impl Engine {
    /// A fresh model with weights drawn from `seed`.
    pub fn new(optimizer: &OptimizerConfig, seed: u64, device: Device) -> Self {
        device.seed(seed);
        let model = ReferenceCnn::new(&device);
        let (optim, momentum) = optimizer.init();
        Self {
            model,
            optim,
            momentum,
            device,
        }
    }

    fn images(&self, batch: &Batch) -> Tensor<4> {
        let n = batch.len();
        Tensor::from_data(TensorData::new(batch.images.clone(), [n, 3, 32, 32]), &self.device)
    }

    fn labels(&self, batch: &Batch) -> Tensor<1, Int> {
        Tensor::from_data(TensorData::new(batch.labels.clone(), [batch.len()]), &self.device)
    }

    /// One step of training at `lr` (and `momentum`, when the schedule cycles it). A
    /// non-finite loss is returned without updating the model, so the caller can stop with
    /// the last good weights.
    pub fn train_batch(&mut self, batch: &Batch, lr: f64, momentum: Option<f64>) -> BatchResult {
        if let Some(m) = momentum {
            self.momentum.set(m);
        }
        let (loss, logits) = self.model.forward_loss(self.images(batch), self.labels(batch));
        let loss_value = loss.clone().into_scalar::<f32>() as f64;
        let correct = count_correct(logits.into_data(), &batch.labels);
        if loss_value.is_finite() {
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self.optim.step(lr, self.model.clone(), grads);
        }
        BatchResult {
            loss: loss_value,
            correct,
            size: batch.len(),
        }
    }

    /// Mean loss and accuracy over a whole split, without gradients.
    pub fn evaluate(&self, split: &Split, batch_size: usize) -> Evaluation {
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

    /// The model's and the optimizer's state as bytes (burnpack).
    pub fn save(&self) -> anyhow::Result<(Vec<u8>, Vec<u8>)> {
        let model = self.model.clone().into_record().into_bytes()?;
        let optim = self.optim.into_bytes()?;
        Ok((model.to_vec(), optim.to_vec()))
    }

    /// Restores what [`save`](Self::save) produced.
    pub fn load(&mut self, model: Vec<u8>, optim: Vec<u8>) -> anyhow::Result<()> {
        let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(model))?;
        self.model = self.model.clone().try_load_record(record)?;
        self.optim = self.optim.clone().from_bytes(Bytes::from_bytes_vec(optim))?;
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
                .fold((0, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
            best.0 as i64 == **label
        })
        .count()
}
