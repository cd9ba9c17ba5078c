//! What can go wrong, as values the front-end matches on: input it cannot work with
//! ([`AppError::Input`] and the settings' own errors) or a failure while running
//! ([`AppError::Failed`]).
//!
//! Messages name settings by their names in the run's config (`batch_size`, `out`,
//! `resume`); a front-end renders them in its own words with [`AppError::describe`] (the
//! CLI gives its flags). No message here is written in one front-end's vocabulary.

use std::fmt;

use cyclr::ScheduleError;
use cyclr::range_test::RangeTestConfigError;
use cyclr_burn::optim::OptimizerConfigError;
use cyclr_burn::range_test::{RangeTestError, RangeTestSettingsError};

/// How a front-end calls a setting, given its config name.
pub type Namer<'a> = &'a dyn Fn(&str) -> String;

/// The library's own names: a setting is called by its config name.
pub fn config_name(setting: &str) -> String {
    setting.to_string()
}

/// A sentence that names settings. Its template holds `{}` for each value (in order) and
/// `{name}` for a setting; values are inserted as given, never read for settings, so a path
/// with braces in it stays as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    template: String,
    values: Vec<String>,
}

impl Message {
    /// A message from its template and values.
    pub fn new(template: impl Into<String>, values: Vec<String>) -> Self {
        let template = template.into();
        debug_assert_eq!(
            template.matches("{}").count(),
            values.len(),
            "values for {template:?}"
        );
        Self { template, values }
    }

    /// The sentence, with each setting called what `name` calls it.
    pub fn describe(&self, name: Namer) -> String {
        let mut out = String::with_capacity(self.template.len() + 32);
        let mut values = self.values.iter();
        let mut rest: &str = &self.template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                out.push_str(&rest[open..]);
                rest = "";
                break;
            };
            let key = &after[..close];
            if key.is_empty() {
                out.push_str(values.next().map_or("", String::as_str));
            } else {
                out.push_str(&name(key));
            }
            rest = &after[close + 1..];
        }
        out.push_str(rest);
        out
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(&config_name))
    }
}

/// `{setting} is 0: give at least 1{hint}`: the one check of a count that must not be 0.
pub fn not_zero(setting: &str, hint: &str) -> AppError {
    AppError::Input(Message::new(
        format!("{{{setting}}} is 0: give at least 1{{}}"),
        vec![hint.to_string()],
    ))
}

/// A [`Message`] from a template and values, like `format!`: `{}` for values, `{name}` for
/// settings.
macro_rules! message {
    ($template:literal $(, $value:expr)* $(,)?) => {
        $crate::error::Message::new($template, vec![$($value.to_string()),*])
    };
}
pub(crate) use message;

/// `return Err(AppError::Input(message!(...)).into())`.
macro_rules! input_bail {
    ($($arg:tt)*) => {
        return Err($crate::error::AppError::Input($crate::error::message!($($arg)*)).into())
    };
}
pub(crate) use input_bail;

/// Why a command of the application could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Input the command cannot work with: a setting out of range, a folder that holds
    /// another run, data that differs from a run's. The message says what to change.
    #[error("{0}")]
    Input(Message),
    /// The range test's ramp.
    #[error(transparent)]
    Ramp(#[from] RangeTestConfigError),
    /// The optimizer's settings.
    #[error(transparent)]
    Optimizer(#[from] OptimizerConfigError),
    /// The schedule's settings.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The backend is a cargo feature this build was made without.
    #[error("this build of cyclr has no {0} backend: it is a cargo feature, off by default")]
    NoBackend(&'static str),
    /// Stopped by the user (Ctrl-C) with everything so far saved.
    #[error("interrupted during {during}")]
    Interrupted {
        /// What was running.
        during: String,
    },
    /// A failure while running: I/O, damaged data, a model that failed.
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

impl AppError {
    /// Whether the input is at fault (the CLI exits 2), not the run (exit 1).
    pub fn is_input(&self) -> bool {
        !matches!(self, AppError::Failed(_) | AppError::Interrupted { .. })
    }

    /// The message, with each setting called what `name` calls it.
    pub fn describe(&self, name: Namer) -> String {
        match self {
            AppError::Input(m) => m.describe(name),
            AppError::Ramp(e) => e.describe(name),
            AppError::Optimizer(e) => e.describe(name),
            AppError::Schedule(e) => e.to_string(),
            AppError::NoBackend(_) | AppError::Interrupted { .. } => self.to_string(),
            AppError::Failed(e) => format!("{e:#}"),
        }
    }
}

impl From<anyhow::Error> for AppError {
    /// An `AppError` that travelled inside an `anyhow::Error` keeps its kind.
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<AppError>() {
            Ok(app) => app,
            Err(e) => AppError::Failed(e),
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::Failed(e.into())
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::Failed(e.into())
    }
}

impl From<RangeTestError> for AppError {
    fn from(e: RangeTestError) -> Self {
        match e {
            RangeTestError::Settings(RangeTestSettingsError::Ramp(r)) => AppError::Ramp(r),
            RangeTestError::Settings(s) => AppError::Input(Message::new("{}", vec![s.to_string()])),
            other => AppError::Failed(other.into()),
        }
    }
}

/// A result of the application.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    #[test]
    fn settings_are_named_by_the_caller_and_values_left_alone() {
        let m = message!(
            "{} already holds a run: pass {resume} {} or choose another {out}",
            "/tmp/{out}",
            "/tmp/{out}"
        );
        assert_eq!(
            m.describe(&|s| format!("<{s}>")),
            "/tmp/{out} already holds a run: pass <resume> /tmp/{out} or choose another <out>"
        );
        assert_eq!(
            m.to_string(),
            "/tmp/{out} already holds a run: pass resume /tmp/{out} or choose another out"
        );
    }
}
