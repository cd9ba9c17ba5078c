//! Writing files so that a crash or a full disk never leaves a torn one behind.

use std::io::ErrorKind;
use std::path::Path;

/// Writes `bytes` to `path` atomically ([`cyclr::atomic_write::write_atomic`]: a temporary
/// file created exclusively under a random name, then renamed); on any error the previous
/// file (if any) is left untouched, and the message says what to do about the cause it
/// names.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    cyclr::atomic_write::write_atomic(path, bytes).map_err(|e| {
        let advice = advice_for(e.kind());
        anyhow::Error::new(e).context(format!(
            "cannot write {}; the previous version is kept ({advice})",
            path.display()
        ))
    })
}

/// What to do about a failed write, by its cause: "free some space" only when space is
/// what ran out.
fn advice_for(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
            "the disk is full or the file too large: free some space and run again"
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            "no permission to write there: choose a folder you can write to"
        }
        _ => "run again once the cause is fixed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advice_names_the_cause() {
        assert!(advice_for(ErrorKind::StorageFull).contains("free some space"));
        for kind in [ErrorKind::PermissionDenied, ErrorKind::ReadOnlyFilesystem] {
            let advice = advice_for(kind);
            assert!(
                advice.contains("no permission") && !advice.contains("space"),
                "{advice}"
            );
        }
        assert!(!advice_for(ErrorKind::IsADirectory).contains("space"));
    }

    #[test]
    fn a_failed_write_says_its_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        // A folder where the file should go: the rename over it fails.
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("x"), "x").unwrap();
        let err = format!("{:#}", write_atomic(&target, b"data").unwrap_err());
        assert!(err.contains("the previous version is kept"), "{err}");
        assert!(!err.contains("free some space"), "{err}");
        let cause = err.rsplit(": ").next().unwrap();
        assert_eq!(err.matches(cause).count(), 1, "said once: {err}");
    }
}
