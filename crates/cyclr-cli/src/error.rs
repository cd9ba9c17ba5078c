//! How failures reach the user: one sentence on stderr and an exit code that says which
//! kind of failure it was. This is the one place where the libraries' setting names become
//! the command's flags ([`Flags`]) and their errors become exit codes (by `match`).

use std::fmt;

use cyclr_cifar::error::AppError;

/// Exit code for bad input (as clap uses for bad arguments).
pub const EXIT_USAGE: i32 = 2;
/// Exit code for a failure while running (I/O, data, divergence).
pub const EXIT_FAILURE: i32 = 1;
/// Exit code after Ctrl-C, by shell convention (128 + SIGINT).
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(Debug)]
pub enum CliError {
    /// The input is wrong: the message says what to change. Exit 2.
    Usage(String),
    /// Something failed while running. Exit 1.
    Failed(anyhow::Error),
    /// Stopped by Ctrl-C after saving what there was to save.
    Interrupted(String),
    /// What the application said, in its own names: rendered with the command's flags.
    App(AppError),
}

impl CliError {
    pub fn usage(msg: impl fmt::Display) -> Self {
        CliError::Usage(msg.to_string())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Failed(_) => EXIT_FAILURE,
            CliError::Interrupted(_) => EXIT_INTERRUPTED,
            CliError::App(e) => match e {
                AppError::Input(_)
                | AppError::Ramp(_)
                | AppError::Optimizer(_)
                | AppError::Schedule(_)
                | AppError::NoBackend(_) => EXIT_USAGE,
                AppError::Interrupted { .. } => EXIT_INTERRUPTED,
                AppError::Failed(_) => EXIT_FAILURE,
            },
        }
    }

    /// The sentence for the user, with settings called by `flags`' names.
    pub fn render(&self, flags: Flags) -> String {
        match self {
            CliError::Usage(m) | CliError::Interrupted(m) => m.clone(),
            // `{:#}` prints the context chain on one line: "reading x: file is truncated".
            CliError::Failed(e) => format!("{e:#}"),
            CliError::App(AppError::NoBackend(name)) => format!(
                "this build of cyclr has no {name} backend: rebuild with `cargo build --release \
                 --features cyclr-cli/{name}`"
            ),
            CliError::App(e) => e.describe(&|s| flags.flag(s)),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(Flags::Default))
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::from(AppError::from(e))
    }
}

impl From<AppError> for CliError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Failed(e) => CliError::Failed(e),
            other => CliError::App(other),
        }
    }
}

impl From<cyclr::ScheduleError> for CliError {
    fn from(e: cyclr::ScheduleError) -> Self {
        CliError::Usage(e.to_string())
    }
}

/// Whose flags name the settings: each command calls a few of them its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flags {
    /// The setting's name in kebab-case (`base_lr` is `--base-lr`).
    Default,
    /// `cyclr range-test`: the ramp's `iterations` is `--iters`.
    RangeTest,
    /// `cyclr recreate`: the range test's length is `--range-epochs`.
    Recreate,
    /// `cyclr bench`: `iterations` is `--iters`.
    Bench,
}

impl Flags {
    /// The flag that sets `setting` in this command.
    pub fn flag(self, setting: &str) -> String {
        let own = match (self, setting) {
            (Flags::RangeTest | Flags::Bench, "iterations") => Some("iters"),
            (Flags::Recreate, "range_test_epochs") => Some("range-epochs"),
            _ => None,
        };
        match own {
            Some(f) => format!("--{f}"),
            None => flag(setting),
        }
    }
}

/// The flag of a library parameter: its config name in kebab-case (`base_lr` is
/// `--base-lr`).
pub fn flag(parameter: &str) -> String {
    format!("--{}", parameter.replace('_', "-"))
}

pub type CliResult<T = ()> = Result<T, CliError>;
