//! Writing files so that a crash or a full disk never leaves a torn one behind.

use std::path::Path;

use anyhow::Context;

pub use cyclr_burn::io::partial_path;

/// Writes `bytes` to `path` atomically (see [`cyclr_burn::io::write_atomic`]); on any
/// error the previous file (if any) is left untouched and the message says so.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    cyclr_burn::io::write_atomic(path, bytes).with_context(|| {
        format!(
            "cannot write {}; the previous version is kept (if the disk is full, free some space \
             and run again)",
            path.display()
        )
    })
}
