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

/// A zero-phase smoothing of a whole recorded curve: the bias-corrected moving average run
/// forwards and then backwards, so a feature (a rise, a peak) stays where it happened
/// instead of lagging behind as it does in a causal average. `window` is the average's
/// span in points (`beta = 1 - 2 / (window + 1)`); 1 or less leaves the curve as it is.
/// Used to read a finished curve; the recorder's causal average still decides, as it
/// runs, when the loss has diverged.
pub fn zero_phase(values: &[f64], window: usize) -> Vec<f64> {
    if window <= 1 || values.len() < 3 {
        return values.to_vec();
    }
    let beta = 1.0 - 2.0 / (window as f64 + 1.0);
    let mut ema = Ema::new(beta);
    let forward: Vec<f64> = values.iter().map(|&v| ema.update(v)).collect();
    let mut ema = Ema::new(beta);
    let mut back: Vec<f64> = forward.iter().rev().map(|&v| ema.update(v)).collect();
    back.reverse();
    back
}

/// The smoothing window that suits a curve of `points` points: a twenty-fifth of it, at
/// least 3 (a short ramp needs a short average; fastai's fixed 0.98 spans 99 points,
/// longer than a 100-point ramp's rise).
pub fn window_for(points: usize) -> usize {
    (points / 25).max(3)
}
