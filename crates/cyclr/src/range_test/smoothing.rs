//! The smoothing of a range test's curves.

use serde::{Deserialize, Serialize};

/// An exponential moving average with bias correction (fastai's `smooth_loss`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ema {
    beta: f64,
    avg: f64,
    count: i32,
}

impl Ema {
    /// An empty average; `beta` is the weight of the past, in [0, 1) (fastai: 0.98).
    pub fn new(beta: f64) -> Self {
        Self {
            beta,
            avg: 0.0,
            count: 0,
        }
    }

    /// Adds `x` and returns the bias-corrected average so far.
    pub fn update(&mut self, x: f64) -> f64 {
        self.count = self.count.saturating_add(1);
        self.avg = self.beta * self.avg + (1.0 - self.beta) * x;
        self.avg / (1.0 - self.beta.powi(self.count))
    }
}
