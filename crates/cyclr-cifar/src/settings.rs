//! Checks of the settings that several commands share (train, range test, recreate and
//! bench), each written once.

use crate::error::{AppResult, not_zero};

/// Images per batch: at least 1.
pub fn batch_size(batch_size: usize) -> AppResult<()> {
    if batch_size == 0 {
        return Err(not_zero("batch_size", " (the paper uses 100)"));
    }
    Ok(())
}

/// Iterations between evaluations, when given: at least 1.
pub fn eval_every(eval_every: Option<u64>) -> AppResult<()> {
    if eval_every == Some(0) {
        return Err(crate::error::AppError::Input(crate::error::message!(
            "{eval_every} is 0: give a number of iterations, or leave it out"
        )));
    }
    Ok(())
}

/// A count that must not be 0 (epochs, iterations, repeats, seeds).
pub fn count(setting: &str, value: u64) -> AppResult<()> {
    if value == 0 {
        return Err(not_zero(setting, ""));
    }
    Ok(())
}
