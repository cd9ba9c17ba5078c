//! Recording a range test as it runs: its points, smoothing and the early stop.

use serde::{Deserialize, Serialize};

use super::ramp::RangeTestConfig;
use super::smoothing::Ema;

/// One iteration of the range test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangePoint {
    /// The iteration, 0-based.
    pub iteration: u64,
    /// The learning rate it ran at.
    pub lr: f64,
    /// Training loss of the batch.
    pub loss: f64,
    /// Training accuracy of the batch, when the model reports one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// The loss smoothed by a bias-corrected moving average.
    pub smoothed_loss: f64,
    /// The training accuracy smoothed the same way, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smoothed_accuracy: Option<f64>,
    /// Held-out accuracy, on the iterations where it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_accuracy: Option<f64>,
    /// Held-out loss, on the iterations where it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_loss: Option<f64>,
}

/// A measurement on held-out data during a range test: accuracy, loss or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    /// Accuracy in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Mean loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<f64>,
}

impl HeldOut {
    /// An accuracy only.
    pub fn accuracy(accuracy: f64) -> Self {
        Self {
            accuracy: Some(accuracy),
            loss: None,
        }
    }

    /// A loss only.
    pub fn loss(loss: f64) -> Self {
        Self {
            accuracy: None,
            loss: Some(loss),
        }
    }
}

/// Why the test ended before the end of the ramp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum EarlyStop {
    /// The smoothed loss passed `diverge_factor` times its best.
    Diverged {
        /// The iteration at which it stopped, 0-based.
        iteration: u64,
        /// The learning rate of that iteration.
        lr: f64,
        /// The smoothed loss there.
        smoothed_loss: f64,
        /// The lowest smoothed loss before it.
        best: f64,
    },
    /// The loss was NaN or infinite.
    NotFinite {
        /// The iteration at which it stopped, 0-based.
        iteration: u64,
        /// The learning rate of that iteration.
        lr: f64,
    },
    /// Stopped by the user.
    Interrupted {
        /// The iteration at which it stopped, 0-based.
        iteration: u64,
    },
    /// The batches ran out before the end of the ramp.
    OutOfData {
        /// The iteration at which it stopped, 0-based.
        iteration: u64,
    },
}

impl EarlyStop {
    /// Why the test stopped, in a sentence for a report.
    pub fn describe(&self) -> String {
        match self {
            EarlyStop::Diverged {
                iteration,
                lr,
                smoothed_loss,
                best,
            } => format!(
                "stopped early at iteration {iteration} (lr {lr:.3e}): the smoothed loss {smoothed_loss:.3} passed {:.1}x its best {best:.3}",
                smoothed_loss / best
            ),
            EarlyStop::NotFinite { iteration, lr } => {
                format!(
                    "stopped early at iteration {iteration} (lr {lr:.3e}): the loss was not a finite number"
                )
            }
            EarlyStop::Interrupted { iteration } => format!("interrupted at iteration {iteration}"),
            EarlyStop::OutOfData { iteration } => format!(
                "the batches ran out at iteration {iteration}, before the end of the ramp: pass \
                 an iterator that cycles over epochs, or shorten the ramp"
            ),
        }
    }

    /// The learning rate at which training broke down, if it did.
    pub fn divergence_lr(&self) -> Option<f64> {
        match *self {
            EarlyStop::Diverged { lr, .. } | EarlyStop::NotFinite { lr, .. } => Some(lr),
            EarlyStop::Interrupted { .. } | EarlyStop::OutOfData { .. } => None,
        }
    }
}

/// Records the points of a range test as they come, smoothing and watching for divergence.
#[derive(Debug, Clone)]
pub struct Recorder {
    /// The range test's parameters.
    pub config: RangeTestConfig,
    /// The points recorded so far, one per iteration.
    pub points: Vec<RangePoint>,
    loss_ema: Ema,
    acc_ema: Ema,
    best: f64,
    /// Why the test stopped early, once it has.
    pub stop: Option<EarlyStop>,
}

impl Recorder {
    /// An empty recording of a range test with `config`.
    pub fn new(config: RangeTestConfig) -> Self {
        Self {
            loss_ema: Ema::new(config.smoothing),
            acc_ema: Ema::new(config.smoothing),
            config,
            points: Vec::new(),
            best: f64::INFINITY,
            stop: None,
        }
    }

    /// Adds the result of iteration `points.len()` (its training accuracy when the model
    /// reports one); returns false when the test must stop.
    pub fn record(&mut self, lr: f64, loss: f64, accuracy: Option<f64>) -> bool {
        let iteration = self.points.len() as u64;
        if !loss.is_finite() {
            self.stop = Some(EarlyStop::NotFinite { iteration, lr });
            return false;
        }
        let smoothed_loss = self.loss_ema.update(loss);
        let smoothed_accuracy = accuracy.map(|a| self.acc_ema.update(a));
        self.points.push(RangePoint {
            iteration,
            lr,
            loss,
            accuracy,
            smoothed_loss,
            smoothed_accuracy,
            test_accuracy: None,
            test_loss: None,
        });
        self.best = self.best.min(smoothed_loss);
        if smoothed_loss > self.config.diverge_factor * self.best {
            self.stop = Some(EarlyStop::Diverged {
                iteration,
                lr,
                smoothed_loss,
                best: self.best,
            });
            return false;
        }
        true
    }

    /// Attaches a held-out accuracy to the latest point.
    pub fn record_test_accuracy(&mut self, accuracy: f64) {
        self.record_held_out(HeldOut::accuracy(accuracy));
    }

    /// Attaches a held-out measurement to the latest point.
    pub fn record_held_out(&mut self, held_out: HeldOut) {
        if let Some(p) = self.points.last_mut() {
            p.test_accuracy = held_out.accuracy.or(p.test_accuracy);
            p.test_loss = held_out.loss.or(p.test_loss);
        }
    }

    /// Whether the test is over: stopped early, or every iteration of the ramp recorded.
    pub fn is_done(&self) -> bool {
        self.stop.is_some() || self.points.len() as u64 >= self.config.iterations
    }
}
