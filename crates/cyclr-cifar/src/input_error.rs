//! Input a command cannot work with, found while it runs (a folder holding another run,
//! other limits than the checkpoint's): the CLI reports it like a bad flag, exit 2.

/// A problem with what the user asked for; the message says what to change.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// `Err(InputError(...))` as an `anyhow::Error`, like `anyhow::bail!`.
macro_rules! input_bail {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::input_error::InputError(format!($($arg)*))))
    };
}
pub(crate) use input_bail;
