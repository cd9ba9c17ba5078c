//! SGD, Adam and AdamW as burn optimizers whose momentum (Adam's beta1) can change every
//! step, so that it can follow a cyclical schedule. burn's stock optimizers fix momentum
//! when they are built; these read it from a shared [`MomentumHandle`] instead. With a
//! constant momentum they give burn's own updates (to 1e-6).
//!
//! Semantics follow PyTorch: SGD momentum without dampening (`buf = m * buf + g`), weight
//! decay added to the gradient; Adam with bias correction `1 - beta1^t` using the current
//! beta1, as `torch.optim.Adam` does when `OneCycleLR` cycles it; AdamW with decoupled
//! weight decay (`p *= 1 - lr * wd`), as `torch.optim.AdamW` and burn's `AdamW`.
//!
//! ```
//! use cyclr_burn::optim::OptimizerConfig;
//!
//! let (optim, momentum) = OptimizerConfig::adamw().init();
//! momentum.set(0.85); // what `CyclrScheduler::with_momentum` does every step
//! # let _ = optim;
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use burn::optim::{ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};
use burn_pack::Scalar;
use serde::{Deserialize, Serialize};

/// A momentum (or beta1) value shared between a schedule and an optimizer. Clones share
/// the value.
#[derive(Debug, Clone)]
pub struct MomentumHandle(Arc<AtomicU64>);

impl MomentumHandle {
    /// A handle holding `value`.
    pub fn new(value: f64) -> Self {
        Self(Arc::new(AtomicU64::new(value.to_bits())))
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    /// Sets the value every holder of a clone sees from the next optimizer step on.
    pub fn set(&self, value: f64) {
        self.0.store(value.to_bits(), Ordering::Relaxed);
    }
}

/// The optimizer of a run, as plain config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "optimizer", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum OptimizerConfig {
    /// Adam with the seed's (Keras') defaults: beta1 0.9, beta2 0.999, epsilon 1e-7.
    Adam {
        /// First-moment decay: the momentum a schedule may cycle.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Added to the denominator.
        epsilon: f64,
        /// L2 penalty added to the gradient (PyTorch's `Adam(weight_decay=..)`).
        weight_decay: f64,
    },
    /// SGD with momentum as in the paper and PyTorch (dampening 0).
    Sgd {
        /// The momentum a schedule may cycle.
        momentum: f64,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// AdamW: Adam with decoupled weight decay (PyTorch's and burn's `AdamW`).
    #[serde(rename = "adamw")]
    AdamW {
        /// First-moment decay: the momentum a schedule may cycle.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Added to the denominator.
        epsilon: f64,
        /// Decoupled decay: each step multiplies the weights by `1 - lr * weight_decay`.
        weight_decay: f64,
    },
}

impl OptimizerConfig {
    /// Adam with Keras' defaults (the seed's optimizer).
    pub fn adam() -> Self {
        OptimizerConfig::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
            weight_decay: 0.0,
        }
    }

    /// SGD with momentum 0.9, no weight decay.
    pub fn sgd() -> Self {
        OptimizerConfig::Sgd {
            momentum: 0.9,
            weight_decay: 0.0,
            nesterov: false,
        }
    }

    /// AdamW with PyTorch's defaults (beta1 0.9, beta2 0.999, epsilon 1e-8, weight decay
    /// 0.01).
    pub fn adamw() -> Self {
        OptimizerConfig::AdamW {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.01,
        }
    }

    /// `adam`, `sgd` or `adamw`.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Adam { .. } => "adam",
            OptimizerConfig::Sgd { .. } => "sgd",
            OptimizerConfig::AdamW { .. } => "adamw",
        }
    }

    /// The starting momentum (Adam, AdamW: beta1).
    pub fn momentum(&self) -> f64 {
        match *self {
            OptimizerConfig::Adam { beta1, .. } | OptimizerConfig::AdamW { beta1, .. } => beta1,
            OptimizerConfig::Sgd { momentum, .. } => momentum,
        }
    }

    /// The same optimizer with its starting momentum (Adam, AdamW: beta1) set to `m`.
    pub fn with_momentum(mut self, m: f64) -> Self {
        match &mut self {
            OptimizerConfig::Adam { beta1, .. } | OptimizerConfig::AdamW { beta1, .. } => {
                *beta1 = m
            }
            OptimizerConfig::Sgd { momentum, .. } => *momentum = m,
        }
        self
    }

    /// The same optimizer with weight decay `wd`.
    pub fn with_weight_decay(mut self, wd: f64) -> Self {
        match &mut self {
            OptimizerConfig::Adam { weight_decay, .. }
            | OptimizerConfig::AdamW { weight_decay, .. }
            | OptimizerConfig::Sgd { weight_decay, .. } => *weight_decay = wd,
        }
        self
    }

    /// Checks the parameters; the error names the parameter and what to change.
    pub fn validate(&self) -> Result<(), OptimizerConfigError> {
        let unit = |name: &'static str, value: f64| {
            if value.is_finite() && (0.0..1.0).contains(&value) {
                Ok(())
            } else {
                Err(OptimizerConfigError::NotUnit { name, value })
            }
        };
        let weight_decay = |value: f64| {
            if !(value.is_finite() && value >= 0.0) {
                return Err(OptimizerConfigError::NegativeWeightDecay { value });
            }
            // Past 1 the decay outweighs the gradient and training diverges whatever the
            // learning rate: say so here, not as a divergence later.
            if value > 1.0 {
                return Err(OptimizerConfigError::WeightDecayTooLarge { value });
            }
            Ok(())
        };
        match *self {
            OptimizerConfig::Adam {
                beta1,
                beta2,
                epsilon,
                weight_decay: wd,
            }
            | OptimizerConfig::AdamW {
                beta1,
                beta2,
                epsilon,
                weight_decay: wd,
            } => {
                unit("beta1", beta1)?;
                unit("beta2", beta2)?;
                weight_decay(wd)?;
                if !(epsilon.is_finite() && epsilon > 0.0) {
                    return Err(OptimizerConfigError::Epsilon { value: epsilon });
                }
                Ok(())
            }
            OptimizerConfig::Sgd {
                momentum,
                weight_decay: wd,
                ..
            } => {
                unit("momentum", momentum)?;
                weight_decay(wd)
            }
        }
    }

    /// Builds the burn optimizer and the handle that sets its momentum.
    pub fn init(&self) -> (ModuleOptimizer, MomentumHandle) {
        let handle = MomentumHandle::new(self.momentum());
        let optim = match *self {
            OptimizerConfig::Adam {
                beta2,
                epsilon,
                weight_decay,
                ..
            }
            | OptimizerConfig::AdamW {
                beta2,
                epsilon,
                weight_decay,
                ..
            } => ModuleOptimizer::from(Adam {
                beta1: handle.clone(),
                beta2: beta2 as f32,
                epsilon: epsilon as f32,
                weight_decay: weight_decay as f32,
                decoupled: matches!(self, OptimizerConfig::AdamW { .. }),
            }),
            OptimizerConfig::Sgd {
                weight_decay,
                nesterov,
                ..
            } => ModuleOptimizer::from(Sgd {
                momentum: handle.clone(),
                weight_decay: weight_decay as f32,
                nesterov,
            }),
        };
        (optim, handle)
    }
}

/// Why an optimizer's parameters were rejected. Parameters are named as in
/// [`OptimizerConfig`]; a front-end renders its own names with [`describe`](Self::describe).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OptimizerConfigError {
    /// A momentum or decay rate outside [0, 1).
    NotUnit {
        /// `momentum`, `beta1` or `beta2`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// Weight decay below 0, NaN or infinite.
    NegativeWeightDecay {
        /// The value given.
        value: f64,
    },
    /// Weight decay above 1.
    WeightDecayTooLarge {
        /// The value given.
        value: f64,
    },
    /// Adam's epsilon is not above 0.
    Epsilon {
        /// The value given.
        value: f64,
    },
}

impl OptimizerConfigError {
    /// The message, with each parameter called what `name` calls it.
    pub fn describe(&self, name: &dyn Fn(&str) -> String) -> String {
        use OptimizerConfigError as E;
        match self {
            E::NotUnit { name: n, value } => {
                format!("{} is {value}, but it must be in [0, 1)", name(n))
            }
            E::NegativeWeightDecay { value } => format!(
                "{} is {value}, but it must be a finite number >= 0",
                name("weight_decay")
            ),
            E::WeightDecayTooLarge { value } => format!(
                "{} is {value}, but it must be at most 1 (typical values: 1e-4 to 1e-2)",
                name("weight_decay")
            ),
            E::Epsilon { value } => {
                format!(
                    "{} is {value}, but it must be > 0 (e.g. 1e-7)",
                    name("epsilon")
                )
            }
        }
    }
}

impl std::fmt::Display for OptimizerConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(&|n| n.to_string()))
    }
}

impl std::error::Error for OptimizerConfigError {}

/// Adam (or AdamW, when `decoupled`) whose beta1 is read from a [`MomentumHandle`] at
/// every step.
#[derive(Clone)]
pub struct Adam {
    /// First-moment decay, read at every step.
    pub beta1: MomentumHandle,
    /// Second-moment decay.
    pub beta2: f32,
    /// Added to the denominator.
    pub epsilon: f32,
    /// Weight decay: an L2 term in the gradient, or decoupled when `decoupled`.
    pub weight_decay: f32,
    /// AdamW: decay the weights by `lr * weight_decay` instead of adding to the gradient.
    pub decoupled: bool,
}

/// Adam's state for one parameter.
#[derive(Clone)]
pub struct AdamState<const D: usize> {
    /// Updates made so far (the `t` of the bias correction).
    pub step: u64,
    /// First-moment estimate.
    pub moment_1: Tensor<D>,
    /// Second-moment estimate.
    pub moment_2: Tensor<D>,
}

impl<const D: usize> RecordState for AdamState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_scalar(prefix, "step", Scalar::from(self.step));
        out.push_tensor(prefix, "moment_1", self.moment_1.clone().into_data());
        out.push_tensor(prefix, "moment_2", self.moment_2.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self {
            step: u64::try_from(src.take_scalar(prefix, "step")?).ok()?,
            moment_1: Tensor::from_data(src.take_tensor(prefix, "moment_1")?, device),
            moment_2: Tensor::from_data(src.take_tensor(prefix, "moment_2")?, device),
        })
    }
}

impl Optimizer for Adam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        mut grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let beta1 = self.beta1.get() as f32;
        let beta2 = self.beta2;
        if self.weight_decay != 0.0 && !self.decoupled {
            grad = grad + tensor.clone().mul_scalar(self.weight_decay);
        }
        let state = match state {
            Some(s) => AdamState {
                step: s.step + 1,
                moment_1: s.moment_1.mul_scalar(beta1) + grad.clone().mul_scalar(1.0 - beta1),
                moment_2: s.moment_2.mul_scalar(beta2) + grad.square().mul_scalar(1.0 - beta2),
            },
            None => AdamState {
                step: 1,
                moment_1: grad.clone().mul_scalar(1.0 - beta1),
                moment_2: grad.square().mul_scalar(1.0 - beta2),
            },
        };
        let t = state.step.min(i32::MAX as u64) as i32;
        let bc1 = 1.0 - (beta1 as f64).powi(t);
        let bc2_sqrt = (1.0 - (beta2 as f64).powi(t)).sqrt();
        // lr * m_hat / (sqrt(v_hat) + eps), rearranged to scale the small tensors once.
        let step_size = (lr * bc2_sqrt / bc1) as f32;
        let denom = state
            .moment_2
            .clone()
            .sqrt()
            .add_scalar(self.epsilon * bc2_sqrt as f32);
        let update = state.moment_1.clone().div(denom).mul_scalar(step_size);
        let decay = lr * self.weight_decay as f64;
        let tensor = if self.decoupled && decay != 0.0 {
            tensor.mul_scalar(1.0 - decay)
        } else {
            tensor
        };
        (tensor - update, Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.moment_1 = state.moment_1.to_device(device);
        state.moment_2 = state.moment_2.to_device(device);
        state
    }
}

/// SGD with momentum (PyTorch semantics, no dampening) read from a [`MomentumHandle`].
#[derive(Clone)]
pub struct Sgd {
    /// Momentum, read at every step.
    pub momentum: MomentumHandle,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Nesterov momentum.
    pub nesterov: bool,
}

/// SGD's momentum buffer for one parameter.
#[derive(Clone)]
pub struct SgdState<const D: usize> {
    /// The momentum buffer.
    pub buffer: Tensor<D>,
}

impl<const D: usize> RecordState for SgdState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "buffer", self.buffer.clone().into_data());
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        Some(Self {
            buffer: Tensor::from_data(src.take_tensor(prefix, "buffer")?, device),
        })
    }
}

impl Optimizer for Sgd {
    type State<const D: usize> = SgdState<D>;

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        mut grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let momentum = self.momentum.get() as f32;
        if self.weight_decay != 0.0 {
            grad = grad + tensor.clone().mul_scalar(self.weight_decay);
        }
        let buffer = match state {
            Some(s) => s.buffer.mul_scalar(momentum) + grad.clone(),
            None => grad.clone(),
        };
        let direction = if self.nesterov {
            grad + buffer.clone().mul_scalar(momentum)
        } else {
            buffer.clone()
        };
        (
            tensor - direction.mul_scalar(lr as f32),
            Some(SgdState { buffer }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        SgdState {
            buffer: state.buffer.to_device(device),
        }
    }
}
