//! What one training batch and one evaluation give.

use serde::{Deserialize, Serialize};

/// What one training batch gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchResult {
    /// Mean cross-entropy of the batch (before the update).
    pub loss: f64,
    /// Correct predictions in the batch.
    pub correct: usize,
    /// Images in the batch.
    pub size: usize,
}

/// Loss and accuracy on a split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Mean cross-entropy over the split.
    pub loss: f64,
    /// Fraction of images classified correctly (0-1).
    pub accuracy: f64,
}
