//! The configuration of a training run: everything that determines its numbers.

use cyclr::Schedule;
use cyclr_burn::optim::OptimizerConfig;
use serde::{Deserialize, Serialize};

use crate::engine::{Backend, EngineKind};
use crate::error::AppResult;
use crate::settings;

/// Everything that determines a run's numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The learning rate (and momentum) schedule, by iteration.
    pub schedule: Schedule,
    /// The optimizer and its settings.
    pub optimizer: OptimizerConfig,
    /// Epochs to train.
    pub epochs: u64,
    /// Stop after this many iterations even if epochs remain (iteration budgets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// Images per batch (the paper: 100).
    pub batch_size: usize,
    /// Seed of the initial weights and the order of the training images.
    pub seed: u64,
    /// Evaluate every this many iterations, besides every epoch end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
    /// The burn backend (device) to train on.
    #[serde(default)]
    pub backend: Backend,
    /// Fused CPU kernels or burn's ops.
    #[serde(default)]
    pub engine: EngineKind,
    /// CPU threads it trains with: the order of the sums, and so the numbers, depend on
    /// it, so a resumed run keeps it (`None`: not recorded, runs before it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
}

impl TrainConfig {
    /// One epoch of batch 100, seed 0, on the CPU with the fused engine.
    pub fn new(schedule: Schedule, optimizer: OptimizerConfig) -> Self {
        Self {
            schedule,
            optimizer,
            epochs: 1,
            max_steps: None,
            batch_size: 100,
            seed: 0,
            eval_every: None,
            backend: Backend::Flex,
            engine: EngineKind::Fused,
            threads: None,
        }
    }

    /// Checks the settings; the error names the setting at fault.
    pub fn validate(&self) -> AppResult<()> {
        settings::epochs("epochs", self.epochs)?;
        settings::batch_size(self.batch_size)?;
        if let Some(m) = self.max_steps {
            settings::max_iterations("max_steps", m)?;
        }
        settings::eval_every(self.eval_every)?;
        self.engine.check(self.backend)?;
        Ok(self.optimizer.validate()?)
    }

    /// Iterations per epoch for `train_len` images (the last batch may be short).
    pub fn steps_per_epoch(&self, train_len: usize) -> u64 {
        train_len.div_ceil(self.batch_size) as u64
    }

    /// The iteration at which the run ends; an error when the epochs make more iterations
    /// than a run can (checked, never wrapped).
    pub fn total_steps(&self, train_len: usize) -> AppResult<u64> {
        let per_epoch = self.steps_per_epoch(train_len);
        let by_epochs = match self.max_steps {
            // A budget in iterations bounds the run whatever the epochs.
            Some(m) => self.epochs.saturating_mul(per_epoch).min(m),
            None => settings::iterations("epochs", self.epochs, per_epoch)?,
        };
        Ok(by_epochs)
    }
}
