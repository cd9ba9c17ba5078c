//! Checks of the settings that several commands share (train, range test, recreate and
//! bench), each written once.

use crate::error::{AppError, AppResult, Message, message, not_zero};

/// The most epochs a run or a recreation's phase asks for.
pub const MAX_EPOCHS: u64 = 1_000_000;
/// The most iterations (optimizer updates) one run makes: beyond it a run would not end.
pub const MAX_ITERATIONS: u64 = 1_000_000_000;

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
        return Err(AppError::Input(message!(
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

/// Epochs: at least 1, at most [`MAX_EPOCHS`].
pub fn epochs(setting: &str, epochs: u64) -> AppResult<()> {
    count(setting, epochs)?;
    if epochs > MAX_EPOCHS {
        return Err(AppError::Input(Message::new(
            format!("{{{setting}}} is {{}}: give at most {{}}"),
            vec![epochs.to_string(), "1,000,000".into()],
        )));
    }
    Ok(())
}

/// The iterations of `epochs` epochs of `per_epoch` each, checked: never wrapped, never
/// more than [`MAX_ITERATIONS`].
pub fn iterations(setting: &str, epochs: u64, per_epoch: u64) -> AppResult<u64> {
    match epochs.checked_mul(per_epoch) {
        Some(n) if n <= MAX_ITERATIONS => Ok(n),
        _ => Err(AppError::Input(Message::new(
            format!(
                "{{{setting}}} {{}} of {{}} iterations each is more than {{}} iterations: give \
                 fewer epochs"
            ),
            vec![
                epochs.to_string(),
                per_epoch.to_string(),
                "1,000,000,000".into(),
            ],
        ))),
    }
}

/// Iterations asked for directly (`max_steps`): at least 1, at most [`MAX_ITERATIONS`].
pub fn max_iterations(setting: &str, value: u64) -> AppResult<()> {
    count(setting, value)?;
    if value > MAX_ITERATIONS {
        return Err(AppError::Input(Message::new(
            format!("{{{setting}}} {{}} is more than 1,000,000,000 iterations: give fewer"),
            vec![value.to_string()],
        )));
    }
    Ok(())
}
