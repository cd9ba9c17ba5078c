//! Writing to stdout and stderr without ever panicking (`println!` and `eprintln!` panic
//! when the stream fails): progress and logs never end a run, so a closed or full stderr
//! only silences them; a closed stdout (`cyclr ... | head`) ends the command quietly with
//! exit 0, as other Unix tools do, and a full one with one sentence and exit 1. The
//! results are saved before anything is printed, so neither loses work.

use std::fmt;
use std::io::{ErrorKind, Write};

use crate::error::EXIT_FAILURE;

/// A line on stdout (the command's result).
pub fn out_line(args: fmt::Arguments) {
    let result = {
        let mut out = std::io::stdout().lock();
        out.write_fmt(args)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush())
    };
    if let Err(e) = result {
        stdout_failed(&e);
    }
}

/// Ends the command after stdout failed: quietly for a reader that went away, with one
/// sentence (on stderr, if it can be written) otherwise.
pub fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    err_line(format_args!(
        "error: cannot write the output to stdout: {e}"
    ));
    std::process::exit(EXIT_FAILURE);
}

/// A line on stderr (progress, notes, the final error); a failure to write it is ignored.
pub fn err_line(args: fmt::Arguments) {
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_fmt(args)
        .and_then(|()| err.write_all(b"\n"))
        .and_then(|()| err.flush());
}

/// `println!` that never panics: see [`out_line`].
macro_rules! say {
    ($($arg:tt)*) => { $crate::output::out_line(format_args!($($arg)*)) };
}
pub(crate) use say;

/// `eprintln!` that never panics: see [`err_line`].
macro_rules! note {
    ($($arg:tt)*) => { $crate::output::err_line(format_args!($($arg)*)) };
}
pub(crate) use note;
