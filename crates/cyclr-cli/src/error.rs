//! How failures reach the user: one sentence on stderr and an exit code that says which
//! kind of failure it was.

use std::fmt;

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
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Interrupted(m) => f.write_str(m),
            // `{:#}` prints the context chain on one line: "reading x: file is truncated".
            CliError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        // A folder another process holds, or input found wrong while running: exit 2.
        if e.downcast_ref::<cyclr_cifar::folder_lock::FolderInUse>()
            .is_some()
            || e.downcast_ref::<cyclr_cifar::input_error::InputError>()
                .is_some()
        {
            return CliError::Usage(format!("{e:#}"));
        }
        CliError::Failed(e)
    }
}

impl From<cyclr::ScheduleError> for CliError {
    fn from(e: cyclr::ScheduleError) -> Self {
        CliError::Usage(e.to_string())
    }
}

/// The flag of a library parameter: its config name in kebab-case (`base_lr` is
/// `--base-lr`). The one place where the library's names become the CLI's.
pub fn flag(parameter: &str) -> String {
    format!("--{}", parameter.replace('_', "-"))
}

pub type CliResult<T = ()> = Result<T, CliError>;
