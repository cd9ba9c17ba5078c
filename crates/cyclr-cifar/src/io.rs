//! Writing files so that a crash or a full disk never leaves a torn one behind.

use std::io::ErrorKind;
use std::path::Path;

pub use cyclr_burn::io::partial_path;

/// Writes `bytes` to `path` atomically (see [`cyclr_burn::io::write_atomic`]); on any
/// error the previous file (if any) is left untouched, and the message says what to do
/// about the cause it names.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    cyclr_burn::io::write_atomic(path, bytes).map_err(|e| {
        let advice = match e.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
                "the disk is full or the file too large: free some space and run again"
            }
            ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
                "no permission to write there: choose a folder you can write to"
            }
            _ => "run again once the cause is fixed",
        };
        anyhow::Error::new(e).context(format!(
            "cannot write {}; the previous version is kept ({advice})",
            path.display()
        ))
    })
}
