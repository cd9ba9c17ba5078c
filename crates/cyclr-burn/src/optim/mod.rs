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

use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

mod adam;
mod error;
mod flat;
pub mod rule;
mod sgd;

pub use adam::{Adam, AdamState};
pub use error::OptimizerConfigError;
pub use flat::{FlatOptimizer, FlatStateError};
pub use sgd::{Sgd, SgdState};

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

    /// Its weight decay (L2 for Adam and SGD, decoupled for AdamW).
    pub fn weight_decay(&self) -> f64 {
        match *self {
            OptimizerConfig::Adam { weight_decay, .. }
            | OptimizerConfig::AdamW { weight_decay, .. }
            | OptimizerConfig::Sgd { weight_decay, .. } => weight_decay,
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
